"""Airlock in-sandbox supervisor, protocol v1 (schema: images/README.md).

Runs as the container's main process (under `--init`), as the sandbox user. It waits for ONE
JSON line on stdin (the runner attaches to a pre-started container and sends the task), writes
the input files and the program under /work, runs the program as a child, streams its
stdout/stderr back as JSON-line frames on stdout, reports the exit status and resource usage,
lists /out and exits. One task per container: the container is never reused.

It enforces nothing security-relevant: the container (no network, read-only root, no caps,
seccomp, pids/memory/CPU limits) is the boundary and the runner owns the wall-clock timeout.
Standard library only (python3 >= 3.9); stdout carries frames only, its own stderr is diagnostics.
"""

import base64
import hashlib
import json
import os
import resource
import selectors
import signal
import stat
import subprocess
import sys
import threading
import time

PROTOCOL = 1
WORK = "/work"
OUT = "/out"
CHUNK = 64 * 1024
# runtime -> (program file under /work, interpreter argv prefix)
PROGRAMS = {
    "python": ("main.py", ["python3"]),
    "node": ("main.js", ["node"]),
    "bash": ("main.sh", ["bash"]),
}
KEYS = {"v", "runtime", "code", "cmd", "args", "stdin", "files", "env", "outInlineMaxBytes", "outMaxFiles"}
DEFAULT_OUT_MAX_FILES = 1000

_out = sys.stdout.buffer


def send(frame):
    """Writes one frame as a JSON line. Blocks when the runner reads slowly (backpressure)."""
    _out.write(json.dumps(frame, separators=(",", ":")).encode() + b"\n")
    _out.flush()


class BadRequest(Exception):
    pass


def rel_path(p, what):
    """Same rule as protocol/task.ts RelativePathSchema: relative, no '', '.', '..' segments."""
    ok = (
        isinstance(p, str)
        and 0 < len(p) <= 1024
        and not p.startswith("/")
        and not any(ord(c) < 0x20 or c in "\x7f\\" for c in p)
        and all(seg not in ("", ".", "..") for seg in p.split("/"))
    )
    if not ok:
        raise BadRequest(f"{what}: not a safe relative path: {p!r}")
    return p


def b64(s, what):
    if not isinstance(s, str):
        raise BadRequest(f"{what}: expected a base64 string")
    try:
        return base64.b64decode(s, validate=True)
    except ValueError:
        raise BadRequest(f"{what}: invalid base64") from None


def parse(line):
    """Validates the task message; returns (argv, program, code, stdin, files, env, caps)."""
    try:
        msg = json.loads(line)
    except ValueError as e:
        raise BadRequest(f"task is not JSON: {e}") from None
    if not isinstance(msg, dict):
        raise BadRequest("task must be a JSON object")
    unknown = set(msg) - KEYS
    if unknown:
        raise BadRequest(f"unknown fields: {sorted(unknown)}")
    if msg.get("v") != PROTOCOL:
        raise BadRequest(f"unsupported protocol version {msg.get('v')!r}; this supervisor speaks v{PROTOCOL}")

    args = msg.get("args", [])
    if not isinstance(args, list) or not all(isinstance(a, str) and "\0" not in a for a in args):
        raise BadRequest("args: expected an array of strings")
    program = code = None
    if ("code" in msg) == ("cmd" in msg):
        raise BadRequest("exactly one of code (+runtime) or cmd is required")
    if "code" in msg:
        runtime = msg.get("runtime")
        if runtime not in PROGRAMS or not isinstance(msg["code"], str):
            raise BadRequest(f"code needs a string and runtime one of {sorted(PROGRAMS)}")
        try:
            with open("/etc/airlock-runtime") as f:
                image_runtime = f.read().strip()
        except OSError:
            image_runtime = None
        if image_runtime and runtime != image_runtime:
            raise BadRequest(f"this image runs {image_runtime!r} tasks, not {runtime!r}")
        program, prefix = PROGRAMS[runtime]
        code = msg["code"].encode()
        argv = prefix + [os.path.join(WORK, program)] + args
    else:
        cmd = msg["cmd"]
        if not isinstance(cmd, list) or not cmd or not all(isinstance(a, str) and "\0" not in a for a in cmd):
            raise BadRequest("cmd: expected a non-empty array of strings")
        argv = cmd + args

    stdin = b64(msg["stdin"], "stdin") if msg.get("stdin") is not None else None

    files = []
    for i, f in enumerate(msg.get("files", [])):
        if not isinstance(f, dict) or set(f) != {"path", "contentBase64"}:
            raise BadRequest(f"files[{i}]: expected {{path, contentBase64}}")
        path = rel_path(f["path"], f"files[{i}].path")
        if path == program:
            raise BadRequest(f"files[{i}].path: {path} is the program file")
        files.append((path, b64(f["contentBase64"], f"files[{i}].contentBase64")))

    env = msg.get("env", {})
    if not isinstance(env, dict) or not all(
        isinstance(k, str) and k and "=" not in k and "\0" not in k and isinstance(v, str) and "\0" not in v
        for k, v in env.items()
    ):
        raise BadRequest("env: expected an object of string values with valid names")

    caps = {}
    for key, default in (("outInlineMaxBytes", 0), ("outMaxFiles", DEFAULT_OUT_MAX_FILES)):
        val = msg.get(key, default)
        if not isinstance(val, int) or isinstance(val, bool) or val < 0:
            raise BadRequest(f"{key}: expected a non-negative integer")
        caps[key] = val
    return argv, program, code, stdin, files, env, caps


def write_file(rel, data):
    dest = os.path.join(WORK, rel)
    os.makedirs(os.path.dirname(dest), exist_ok=True)
    # O_EXCL: a duplicate path is an error, O_NOFOLLOW: never write through a symlink.
    fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def set_child_subreaper():
    """Orphaned grandchildren re-parent to us (not to tini), so we can kill, reap and count them."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
    except Exception:  # best effort: usage then misses orphans that outlive their parent
        pass


def feed_stdin(pipe, data):
    try:
        pipe.write(data)
    except (BrokenPipeError, OSError):  # the program closed stdin or exited: fine
        pass
    finally:
        try:
            pipe.close()
        except OSError:
            pass


# Python tasks run in an interpreter started with the container, ahead of demand: interpreter
# start-up and teardown (~8 ms here) are most of a trivial task's time. It imports nothing
# beyond what every interpreter loads (a module imported ahead would cost its teardown at exit)
# and blocks reading the task (program path, argv, env) from a pipe, then runs the program file as `__main__` the way `python3 main.py`
# would (sys.argv, sys.path[0], __file__; a traceback that starts at the program's own frames;
# exit status 1 on an uncaught exception). One interpreter per container, used at most once.
PYTHON_BOOT = r"""
import os, sys
with os.fdopen(int(sys.argv[1]), "rb") as go:
    task = go.read().decode().split("\0")
if task == [""]:
    sys.exit(0)
n = int(task[0])
sys.argv = task[1 : 1 + n]
os.environ.update(kv.split("=", 1) for kv in task[1 + n :])
sys.path[0] = os.path.dirname(sys.argv[0])
main = type(sys)("__main__")
main.__file__ = sys.argv[0]
sys.modules["__main__"] = main
del go, task, n
try:
    with open(sys.argv[0], "rb") as f:
        exec(compile(f.read(), sys.argv[0], "exec"), main.__dict__)
except SystemExit:
    raise
except BaseException as e:
    import traceback
    tb = e.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename != sys.argv[0]:
        tb = tb.tb_next
    traceback.print_exception(type(e), e, tb)
    sys.exit(1)
"""


class Prestarted:
    """A python3 started before the task is known, waiting for it on a pipe."""

    def __init__(self):
        go_r, self.go_w = os.pipe()
        try:
            self.proc = subprocess.Popen(
                ["python3", "-c", PYTHON_BOOT, str(go_r)],
                cwd=WORK,
                env=dict(os.environ),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                pass_fds=(go_r,),
            )
        finally:
            os.close(go_r)

    def go(self, argv, env):
        """Hands the program over; False when the interpreter died before taking it (nothing ran:
        start a fresh one). Once the write went through, the task belongs to this interpreter."""
        if self.proc.poll() is not None:
            return False
        self.boot_cpu_ms = proc_cpu_ms(self.proc.pid)
        # NUL-separated (parse() refused NULs in args and env): the interpreter needs no json.
        fields = [str(len(argv) - 1), *argv[1:], *(f"{k}={v}" for k, v in env.items())]
        data = "\0".join(fields).encode()
        try:
            view = memoryview(data)
            while view:  # the pipe may take it in pieces (a large env)
                view = view[os.write(self.go_w, view):]
            os.close(self.go_w)
            return True
        except OSError:  # EPIPE: the interpreter is gone; the program never started
            return False

    def discard(self):
        try:
            os.close(self.go_w)  # EOF: the interpreter exits 0 without running anything
        except OSError:
            pass


def proc_cpu_ms(pid):
    """CPU time a live process has used so far (utime + stime of /proc/<pid>/stat)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) * 1000 / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return 0.0


def prestart_for_image():
    """The prestarted interpreter for a python image (None elsewhere or when it cannot start)."""
    try:
        with open("/etc/airlock-runtime") as f:
            if f.read().strip() != "python":
                return None
        return Prestarted()
    except OSError:
        return None


def run(argv, stdin, env, prestarted=None):
    """Runs the program; streams frames; returns the exit frame."""
    # SIGCHLD wakes the select loop through a pipe, so the main child's exit is noticed even while
    # a background grandchild still holds stdout/stderr open.
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_r, False)
    os.set_blocking(wake_w, False)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    signal.set_wakeup_fd(wake_w)

    start = time.monotonic()
    proc = None
    if prestarted is not None:
        if prestarted.go(argv, env):
            proc = prestarted.proc
            if stdin is None:
                proc.stdin.close()  # the program reads EOF, as from /dev/null
        else:
            prestarted.discard()
    if proc is None:
        try:
            proc = subprocess.Popen(
                argv,
                cwd=WORK,
                env={**os.environ, **env},
                stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                close_fds=True,  # restore_signals=True (default) gives the child SIGPIPE back
            )
        except OSError as e:
            return None, f"cannot start {argv[0]!r}: {e.strerror or e}"
    send({"t": "start", "pid": proc.pid})
    if stdin is not None:
        threading.Thread(target=feed_stdin, args=(proc.stdin, stdin), daemon=True).start()

    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ, "stdout")
    sel.register(proc.stderr, selectors.EVENT_READ, "stderr")
    sel.register(wake_r, selectors.EVENT_READ, None)
    streams = 2
    ended = None  # monotonic time the main child exited

    def pump(timeout):
        nonlocal streams
        for key, _ in sel.select(timeout):
            if key.data is None:
                try:
                    os.read(wake_r, 4096)
                except BlockingIOError:
                    pass
                continue
            data = os.read(key.fd, CHUNK)
            if data:
                send({"t": "out", "s": key.data, "d": base64.b64encode(data).decode("ascii")})
            else:
                sel.unregister(key.fileobj)
                streams -= 1

    while proc.poll() is None:
        pump(None if streams else 0.5)
    ended = time.monotonic()

    # The program is done. Kill whatever it left behind (kill(-1) reaches every process of this
    # uid in the container's pid namespace except us and init), then drain what is still
    # buffered in the pipes: writers are gone, so EOF follows promptly.
    kill_all()
    deadline = time.monotonic() + 5
    while streams and time.monotonic() < deadline:
        pump(0.5)
    # Reap everything (orphans came to us as subreaper) so RUSAGE_CHILDREN covers all of it.
    while True:
        try:
            os.waitpid(-1, 0)
        except ChildProcessError:
            break
        except InterruptedError:
            continue
    signal.set_wakeup_fd(-1)

    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    # A prestarted interpreter's start-up happened before the task: not the task's CPU time.
    boot_ms = prestarted.boot_cpu_ms if prestarted is not None and proc is prestarted.proc else 0.0
    rc = proc.returncode
    frame = {
        "t": "exit",
        "code": rc if rc >= 0 else None,
        "signal": signal_name(-rc) if rc < 0 else None,
        "wallMs": round((ended - start) * 1000, 3),
        "cpuMs": round(max(0.0, (ru.ru_utime + ru.ru_stime) * 1000 - boot_ms), 3),
        "userMs": round(ru.ru_utime * 1000, 3),
        "sysMs": round(ru.ru_stime * 1000, 3),
        # Linux reports KiB; for RUSAGE_CHILDREN it is the peak of the largest single descendant.
        "maxRssBytes": ru.ru_maxrss * 1024,
    }
    peak = cgroup_peak()
    if peak is not None:
        frame["cgroupPeakBytes"] = peak
    frame.update(limit_signals())
    return frame, None


def signal_name(num):
    try:
        return signal.Signals(num).name
    except ValueError:  # real-time signals other than SIGRTMIN/SIGRTMAX have no enum member
        return f"SIG{num}"


def kill_all():
    try:
        os.kill(-1, signal.SIGKILL)
    except OSError:  # ESRCH: nothing left
        pass


def cgroup_peak():
    """Peak memory of the whole container (incl. this supervisor, tmpfs pages, page cache)."""
    for p in ("/sys/fs/cgroup/memory/memory.max_usage_in_bytes", "/sys/fs/cgroup/memory.peak"):
        try:
            with open(p) as f:
                return int(f.read().strip())
        except (OSError, ValueError):
            continue
    return None


def cgroup_counter(paths, key):
    """A `key value` line of a cgroup events file (the first of `paths` that is readable)."""
    for p in paths:
        try:
            with open(p) as f:
                for line in f:
                    k, _, v = line.strip().partition(" ")
                    if k == key:
                        return int(v)
        except (OSError, ValueError):
            continue
    return None


def limit_signals():
    """Which container limits the program ran into, read after everything it started is gone.

    The runner turns these into error codes (pids_limit, memory_limit, disk_limit); a program
    could only misreport its own failure through them, never escape anything.
    - pidsMaxEvents: forks refused because the container's pids limit was reached
      (`pids.events` "max", cgroup v1 and v2).
    - oomKills: processes the kernel OOM killer killed in the container (`memory.oom_control`
      "oom_kill" on v1, `memory.events` on v2).
    - scratch: statvfs of the writable tmpfs mounts, to tell "filled its scratch space" apart.
    """
    out = {}
    pids = cgroup_counter(("/sys/fs/cgroup/pids/pids.events", "/sys/fs/cgroup/pids.events"), "max")
    if pids is not None:
        out["pidsMaxEvents"] = pids
    ooms = cgroup_counter(("/sys/fs/cgroup/memory/memory.oom_control", "/sys/fs/cgroup/memory.events"), "oom_kill")
    if ooms is not None:
        out["oomKills"] = ooms
    scratch = []
    for d in ("/tmp", WORK, OUT):
        try:
            st = os.statvfs(d)
        except OSError:
            continue
        scratch.append(
            {"path": d, "sizeBytes": st.f_blocks * st.f_frsize, "freeBytes": st.f_bavail * st.f_frsize, "freeInodes": st.f_favail}
        )
    out["scratch"] = scratch
    return out


def list_out(inline_max, max_files):
    """The files frame: regular files under /out, sorted; content inline if the total fits."""
    found, skipped, truncated = [], 0, False
    for dirpath, dirnames, filenames in os.walk(OUT):  # does not follow symlinks
        dirnames.sort()
        for name in sorted(filenames) + [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]:
            full = os.path.join(dirpath, name)
            rel = os.path.relpath(full, OUT)
            try:
                st = os.lstat(full)
                rel.encode("utf-8")  # undecodable names cannot be reported
                rel_path(rel, "out")
            except (OSError, UnicodeEncodeError, BadRequest):
                skipped += 1
                continue
            if not stat.S_ISREG(st.st_mode):  # symlinks, fifos, sockets are not outputs
                skipped += 1
                continue
            if len(found) >= max_files:
                truncated = True
                break
            found.append((rel, full, st))
    total = sum(st.st_size for _, _, st in found)
    inline = total <= inline_max
    files = []
    for rel, full, st in found:
        h, chunks, size = hashlib.sha256(), [], 0
        try:
            if not st.st_mode & stat.S_IRUSR:  # the program may chmod 000 its own files
                os.chmod(full, st.st_mode | stat.S_IRUSR)
            with open(full, "rb", buffering=0) as f:
                while block := f.read(1 << 20):
                    h.update(block)
                    size += len(block)
                    if inline:
                        chunks.append(block)
        except OSError:
            skipped += 1
            continue
        entry = {"path": rel, "size": size, "sha256": h.hexdigest()}
        if inline:
            entry["contentBase64"] = base64.b64encode(b"".join(chunks)).decode("ascii")
        files.append(entry)
    return {"t": "files", "files": files, "totalBytes": total, "inline": inline, "truncated": truncated, "skipped": skipped}


def main():
    set_child_subreaper()
    prestarted = prestart_for_image()
    line = sys.stdin.buffer.readline()
    if not line.strip():
        send({"t": "error", "code": "bad_request", "message": "no task on stdin"})
        send({"t": "done"})
        return 2
    try:
        argv, program, code, stdin, files, env, caps = parse(line)
        for rel, data in files:
            try:
                write_file(rel, data)
            except OSError as e:
                raise BadRequest(f"cannot write input file {rel}: {e.strerror or e}") from None
        if program:
            write_file(program, code)
    except BadRequest as e:
        if prestarted is not None:
            prestarted.discard()
        send({"t": "error", "code": "bad_request", "message": str(e)})
        send({"t": "done"})
        return 2
    del line

    # Only a python program (not a `cmd`) can use the prestarted interpreter.
    usable = prestarted is not None and program == PROGRAMS["python"][0] and argv[0] == "python3"
    if prestarted is not None and not usable:
        prestarted.discard()
    exit_frame, problem = run(argv, stdin, env, prestarted if usable else None)
    if problem:
        send({"t": "error", "code": "spawn_failed", "message": problem})
        send({"t": "done"})
        return 0
    send(exit_frame)
    send(list_out(caps["outInlineMaxBytes"], caps["outMaxFiles"]))
    send({"t": "done"})
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BrokenPipeError:  # the runner went away: stop everything, nobody is listening
        kill_all()
        os._exit(1)
