"""Airlock in-sandbox supervisor, protocol v3 (schema: images/README.md).

Runs as the container's main process (under `--init`). It waits for ONE JSON line on stdin (the
runner attaches to a pre-started container and sends the task), has the input files and the
program written under /work, runs the program, streams its stdout/stderr back as JSON-line frames
on stdout, relays the program's capability calls to the runner (`call` frames out, `result` lines
back on stdin; call_relay.py), reports the exit status and resource usage, lists /out and exits.
One task per container: the container is never reused.

The frames are the task's result, so the program must not be able to write them. The supervisor
and the program therefore never share a uid while the program runs: the container starts as root
with only CAP_SETUID, CAP_SETGID, CAP_KILL and CAP_SETPCAP; the supervisor empties the capability
bounding set (so nothing it starts can ever regain a capability), makes itself non-dumpable,
moves to its own uid 10000 keeping only SETUID/SETGID/KILL, and starts everything that runs task
code (writing input files, the prestarted interpreter, the program) in a child that is uid/gid
10001 with no capabilities in a session of its own. Its descriptors (/proc/<pid>/fd), memory
(/proc/<pid>/mem, ptrace) and signals are then out of the program's reach. Only once every
process of the program is killed and reaped does it become uid 10001 itself, to list /out
(`become_reader`). The container (no network, read-only mounts, seccomp, pids/memory/CPU limits)
stays the boundary and the runner owns the wall-clock timeout.
Standard library only (python3 >= 3.9); stdout carries frames only, its own stderr is diagnostics.
"""

import base64
import ctypes
import hashlib
import json
import os
import re
import resource
import selectors
import signal
import stat
import subprocess
import sys
import threading
import time
import traceback

# The relay sits beside this file (root-owned, read-only); -I keeps the script's directory off
# sys.path, so it is named explicitly.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.dont_write_bytecode = True  # -I ignores PYTHONDONTWRITEBYTECODE; the image ships the .pyc
from call_relay import CallRelay  # noqa: E402

PROTOCOL = 3
WORK = "/work"
OUT = "/out"
CHUNK = 64 * 1024
# runtime -> (program file under /work, interpreter argv prefix)
PROGRAMS = {
    "python": ("main.py", ["python3"]),
    "node": ("main.js", ["node"]),
    "bash": ("main.sh", ["bash"]),
}
KEYS = {"v", "runtime", "code", "cmd", "args", "stdin", "files", "env", "outInlineMaxBytes", "outMaxFiles", "capabilities"}
# Same rule as protocol/capability.ts CapabilityNameSchema.
CAPABILITY_NAME = re.compile(r"[a-z][a-z0-9_]{0,62}(\.[a-z][a-z0-9_]{0,62})+")
DEFAULT_OUT_MAX_FILES = 1000
# Longest error message sent (the runner refuses longer ones as a protocol violation).
MAX_MESSAGE_CHARS = 2000

# Who runs what. 10001 = the `sandbox` user: task code, its files, /out listing (after the program).
# 10000 = the `airlock` user: this supervisor after start-up, owning no file anywhere.
SANDBOX_UID = SANDBOX_GID = 10001
SUPERVISOR_UID = SUPERVISOR_GID = 10000

# linux/capability.h, linux/prctl.h
CAP_KILL, CAP_SETGID, CAP_SETUID, CAP_SETPCAP = 5, 6, 7, 8
# What the supervisor keeps, and why (see images/README.md "Who can reach what"):
#   SETUID, SETGID: start processes as the sandbox user (a fresh launcher when the prestarted one
#     died) and become it after the program is gone, to read /out (`become_reader`); without them
#     nothing but a uid-10001 process alive during the run could read /out, and that process
#     would be the program's to signal. CAP_DAC_READ_SEARCH would do instead, but it also unlocks
#     open_by_handle_at in Docker's seccomp profile (the "shocker" escape): not taken.
#   KILL: kill(-1, SIGKILL) of every process the program left behind (other uid).
KEPT_CAPS = (CAP_KILL, CAP_SETGID, CAP_SETUID)
PR_SET_DUMPABLE, PR_CAPBSET_DROP, PR_SET_KEEPCAPS = 4, 24, 8
PR_SET_CHILD_SUBREAPER, PR_SET_NO_NEW_PRIVS = 36, 38
LINUX_CAPABILITY_VERSION_3 = 0x20080522

_out = sys.stdout.buffer


def send(frame):
    """Writes one frame as a JSON line. Blocks when the runner reads slowly (backpressure)."""
    _out.write(json.dumps(frame, separators=(",", ":")).encode() + b"\n")
    _out.flush()


def send_raw(line):
    """Writes one frame that is already a JSON line (the relay's `call` frames)."""
    _out.write(line)
    _out.flush()


class LineReader:
    """Lines from the runner on a file descriptor (stdin), read with os.read so that nothing sits
    in a buffer the select loop cannot see: the task line first (blocking), then, during the run,
    the runner's `result` lines as they come."""

    def __init__(self, fd):
        self.fd = fd
        self.parts = []
        self.eof = False
        self.backlog = []

    def feed(self):
        """Reads once (blocks unless the fd is ready); returns the lines it completed."""
        chunk = os.read(self.fd, 1 << 20)
        if not chunk:
            self.eof = True
            return []
        lines, start = [], 0
        while True:
            nl = chunk.find(b"\n", start)
            if nl < 0:
                if start < len(chunk):
                    self.parts.append(chunk[start:])
                return lines
            self.parts.append(chunk[start:nl])
            lines.append(b"".join(self.parts))
            self.parts = []
            start = nl + 1

    def first_line(self):
        """The task line; what was sent before EOF when no newline came (b"" for nothing)."""
        while not self.eof:
            lines = self.feed()
            if lines:
                self.backlog = lines[1:]
                return lines[0]
        line, self.parts = b"".join(self.parts), []
        return line


def send_error(code, message):
    send({"t": "error", "code": code, "message": message[:MAX_MESSAGE_CHARS]})
    send({"t": "done"})


class BadRequest(Exception):
    pass


class SetupError(Exception):
    pass


# --- identity ------------------------------------------------------------------------------------


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


def _libc():
    return ctypes.CDLL(None, use_errno=True)


def _prctl(libc, option, arg=0):
    if libc.prctl(ctypes.c_int(option), ctypes.c_ulong(arg), ctypes.c_ulong(0), ctypes.c_ulong(0), ctypes.c_ulong(0)) != 0:
        err = ctypes.get_errno()
        raise SetupError(f"prctl({option}, {arg}): {os.strerror(err)}")


def _capset(libc, caps):
    """effective = permitted = `caps`, inheritable = none (all caps used here are < 32)."""
    mask = sum(1 << c for c in caps)
    header = _CapHeader(LINUX_CAPABILITY_VERSION_3, 0)
    data = (_CapData * 2)(_CapData(mask, mask, 0), _CapData(0, 0, 0))
    if libc.capset(ctypes.byref(header), data) != 0:
        raise SetupError(f"capset: {os.strerror(ctypes.get_errno())}")


def proc_status():
    with open("/proc/self/status") as f:
        return dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)


def become_supervisor():
    """Turns the root-started process into the unreachable supervisor, or raises SetupError.

    Order matters: the bounding set can only be emptied with CAP_SETPCAP (dropped last); the
    capabilities survive the uid change only with KEEPCAPS; a credential change resets the
    dumpable flag, so it is set again at the end. The result is read back from /proc and checked.
    """
    if os.getuid() != 0:
        raise SetupError(
            f"started as uid {os.getuid()}: the supervisor must start as root with CAP_SETUID, CAP_SETGID, "
            "CAP_KILL and CAP_SETPCAP (and nothing else is needed) to separate itself from the program"
        )
    libc = _libc()
    _prctl(libc, PR_SET_NO_NEW_PRIVS, 1)  # the runner sets it too; nothing here may gain privileges
    _prctl(libc, PR_SET_DUMPABLE, 0)  # /proc/<pid>/{fd,mem,environ} and ptrace: owner root only
    _prctl(libc, PR_SET_CHILD_SUBREAPER, 1)  # orphans come to us: killed, reaped and counted
    with open("/proc/sys/kernel/cap_last_cap") as f:
        last_cap = int(f.read())
    for cap in range(last_cap + 1):  # inherited by every child: no process here can regain a cap
        _prctl(libc, PR_CAPBSET_DROP, cap)
    _prctl(libc, PR_SET_KEEPCAPS, 1)
    os.setgroups([])
    os.setresgid(SUPERVISOR_GID, SUPERVISOR_GID, SUPERVISOR_GID)
    os.setresuid(SUPERVISOR_UID, SUPERVISOR_UID, SUPERVISOR_UID)
    _prctl(libc, PR_SET_KEEPCAPS, 0)  # children changing uid lose every capability
    _capset(libc, KEPT_CAPS)
    _prctl(libc, PR_SET_DUMPABLE, 0)

    st = proc_status()
    want = f"{sum(1 << c for c in KEPT_CAPS):016x}"
    got = {k: st.get(k) for k in ("Uid", "Gid", "Groups", "CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb", "NoNewPrivs")}
    expected = {
        "Uid": "\t".join([str(SUPERVISOR_UID)] * 4),
        "Gid": "\t".join([str(SUPERVISOR_GID)] * 4),
        "Groups": "",
        "CapInh": "0" * 16,
        "CapPrm": want,
        "CapEff": want,
        "CapBnd": "0" * 16,
        "CapAmb": "0" * 16,
        "NoNewPrivs": "1",
    }
    if {k: (v or "").strip() for k, v in got.items()} != expected:
        raise SetupError(f"supervisor credentials are {got}, expected {expected}")


def as_sandbox_user():
    """Become the sandbox user, without any capability (bounding set empty, KEEPCAPS off)."""
    os.setgroups([SANDBOX_GID])
    os.setresgid(SANDBOX_GID, SANDBOX_GID, SANDBOX_GID)
    os.setresuid(SANDBOX_UID, SANDBOX_UID, SANDBOX_UID)


# --- request ---------------------------------------------------------------------------------


def rel_path(p, what):
    """Same rule as protocol/task.ts RelativePathSchema: relative, no '', '.', '..' segments, at
    most 1024 UTF-16 code units (zod counts JavaScript string length, so a listing the runner
    would refuse as a whole is never produced)."""
    ok = (
        isinstance(p, str)
        and 0 < len(p)
        and len(p.encode("utf-16-le", "surrogatepass")) // 2 <= 1024
        and not p.startswith("/")
        and not any(ord(c) < 0x20 or c in "\x7f\\" for c in p)
        and all(seg not in ("", ".", "..") for seg in p.split("/"))
    )
    if not ok:
        raise BadRequest(f"{what}: not a safe relative path: {p[:200]!r}")
    return p


def utf8(s, what):
    """A string the program can get: valid UTF-8 (JSON allows lone surrogates, argv/env/files do not)."""
    try:
        s.encode()
    except UnicodeEncodeError:
        raise BadRequest(f"{what}: not valid Unicode (a lone surrogate)") from None
    return s


def b64(s, what):
    if not isinstance(s, str):
        raise BadRequest(f"{what}: expected a base64 string")
    try:
        return base64.b64decode(s, validate=True)
    except ValueError:
        raise BadRequest(f"{what}: invalid base64") from None


def parse(line):
    """Validates the task message; returns (argv, program, stdin, files, env, caps); `files` ends
    with the program file itself for `code` tasks."""
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
    args = [utf8(a, "args") for a in args]
    program = code = None
    if ("code" in msg) == ("cmd" in msg):
        raise BadRequest("exactly one of code (+runtime) or cmd is required")
    if "code" in msg:
        runtime = msg.get("runtime")
        if runtime not in PROGRAMS or not isinstance(msg["code"], str):
            raise BadRequest(f"code needs a string and runtime one of {sorted(PROGRAMS)}")
        image_runtime = image_runtime_name()
        if image_runtime and runtime != image_runtime:
            raise BadRequest(f"this image runs {image_runtime!r} tasks, not {runtime!r}")
        program, prefix = PROGRAMS[runtime]
        code = utf8(msg["code"], "code").encode()
        argv = prefix + [os.path.join(WORK, program)] + args
    else:
        cmd = msg["cmd"]
        if not isinstance(cmd, list) or not cmd or not all(isinstance(a, str) and "\0" not in a for a in cmd):
            raise BadRequest("cmd: expected a non-empty array of strings")
        argv = [utf8(a, "cmd") for a in cmd] + args

    stdin = b64(msg["stdin"], "stdin") if msg.get("stdin") is not None else None

    files, seen = [], set()
    for i, f in enumerate(msg.get("files", [])):
        if not isinstance(f, dict) or set(f) != {"path", "contentBase64"}:
            raise BadRequest(f"files[{i}]: expected {{path, contentBase64}}")
        path = rel_path(f["path"], f"files[{i}].path")
        if path == program:
            raise BadRequest(f"files[{i}].path: {path} is the program file")
        if path in seen:
            raise BadRequest(f"files[{i}].path: {path[:200]} given twice")
        seen.add(path)
        files.append((path, b64(f["contentBase64"], f"files[{i}].contentBase64")))
    if program:
        files.append((program, code))  # last: an input file cannot take its place

    capabilities = msg.get("capabilities", [])
    if not isinstance(capabilities, list) or len(capabilities) > 256 or not all(
        isinstance(c, str) and len(c) <= 128 and CAPABILITY_NAME.fullmatch(c) for c in capabilities
    ):
        raise BadRequest("capabilities: expected at most 256 capability names")

    env = msg.get("env", {})
    if not isinstance(env, dict) or not all(
        isinstance(k, str) and k and "=" not in k and "\0" not in k and isinstance(v, str) and "\0" not in v
        for k, v in env.items()
    ):
        raise BadRequest("env: expected an object of string values with valid names")
    for k, v in env.items():
        utf8(k + v, "env")
    # What the in-sandbox clients offer as functions (`caps.tickets.create`); names are not secret.
    if capabilities:
        env = {**env, "AIRLOCK_CAPABILITIES": ",".join(capabilities)}

    caps = {}
    for key, default in (("outInlineMaxBytes", 0), ("outMaxFiles", DEFAULT_OUT_MAX_FILES)):
        val = msg.get(key, default)
        if not isinstance(val, int) or isinstance(val, bool) or val < 0:
            raise BadRequest(f"{key}: expected a non-negative integer")
        caps[key] = val
    return argv, program, stdin, files, env, caps


def image_runtime_name():
    try:
        with open("/etc/airlock-runtime") as f:
            return f.read().strip()
    except OSError:
        return None


# --- the launcher: the program's side, uid 10001 -----------------------------------------------

# Started with the container, ahead of demand, as the sandbox user: interpreter start-up and
# teardown (~8 ms here) are most of a trivial task's time. It imports nothing beyond what every
# interpreter loads (a module imported ahead would cost its teardown at exit) and blocks reading
# the task from a pipe: netstring fields `mode, argc, argv…, envc, env…, nfiles, (path, bytes)…`.
# It writes the files under /work (never through a symlink, never over an existing file), then
# closes the status pipe and either runs main.py as `__main__` the way `python3 main.py` would
# (sys.argv, sys.path[0], __file__; a traceback that starts at the program's own frames; exit
# status 1 on an uncaught exception) or execs the argv (the status pipe is close-on-exec, so EOF
# there means "started"). A failure before that is written to the status pipe: `F<message>` for an
# input file, `S<message>` when the argv cannot be executed. One launcher per container, used once.
LAUNCHER = r"""
import os, sys
def take_task(go, status):
    def fail(kind, message):
        os.write(status, kind + message.encode("utf-8", "replace")[:4000])
        os._exit(127)
    with os.fdopen(go, "rb") as f:
        data = f.read()
    if not data:
        sys.exit(0)
    fields, at = [], 0
    while at < len(data):
        colon = data.index(b":", at)
        end = colon + 1 + int(data[at:colon])
        fields.append(data[colon + 1 : end])
        at = end
    del data
    def counted(at, per_item):
        n = int(fields[at]) * per_item
        return fields[at + 1 : at + 1 + n], at + 1 + n
    mode = fields[0]
    argv, at = counted(1, 1)
    env, at = counted(at, 1)
    files, at = counted(at, 2)
    del fields
    argv, env = [a.decode() for a in argv], [e.decode() for e in env]
    for i in range(0, len(files), 2):
        rel = files[i].decode()
        try:
            dest = "/work/" + rel
            os.makedirs(os.path.dirname(dest), exist_ok=True)
            fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
            try:
                view = memoryview(files[i + 1])
                while view:
                    view = view[os.write(fd, view):]
            finally:
                os.close(fd)
        except OSError as e:
            fail(b"F", f"cannot write input file {rel}: {e.strerror or e}")
    os.environ.update(kv.split("=", 1) for kv in env)
    if mode == b"exec":
        try:
            os.execvpe(argv[0], argv, os.environ)
        except OSError as e:
            fail(b"S", f"cannot start {argv[0]!r}: {e.strerror or e}")
    os.close(status)
    return argv
status = int(sys.argv[2])
os.set_inheritable(status, False)
sys.argv = take_task(int(sys.argv[1]), status)[1:]
del take_task, status
sys.path[0] = os.path.dirname(sys.argv[0])
main = type(sys)("__main__")
main.__file__ = sys.argv[0]
sys.modules["__main__"] = main
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


def netstrings(fields):
    return b"".join(b"%d:%s" % (len(f), f) for f in fields)


class Launcher:
    """A python3 running as the sandbox user, started before the task is known, waiting for it."""

    def __init__(self):
        go_r, self.go_w = os.pipe()
        self.status_r, status_w = os.pipe()
        try:
            self.proc = subprocess.Popen(
                ["python3", "-c", LAUNCHER, str(go_r), str(status_w)],
                cwd=WORK,
                env=dict(os.environ),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                pass_fds=(go_r, status_w),
                # uid/gid 10001, groups [10001] (what `--user 10001:10001` gave before): with the
                # bounding set empty it has no capability, now or after any exec. A session of its own: not even SIGCONT (allowed
                # within a session whatever the uid) reaches the supervisor.
                user=SANDBOX_UID,
                group=SANDBOX_GID,
                extra_groups=[SANDBOX_GID],
                start_new_session=True,
            )
        finally:
            os.close(go_r)
            os.close(status_w)

    def go(self, mode, argv, env, files):
        """Hands the task over. None when the launcher died before taking it (nothing ran: start a
        fresh one); else ("started", None) or (kind, message) for a file or exec failure."""
        if self.proc.poll() is not None:
            return None
        self.boot_cpu_ms = proc_cpu_ms(self.proc.pid)
        fields = [mode, b"%d" % len(argv), *(a.encode() for a in argv), b"%d" % len(env)]
        fields += [f"{k}={v}".encode() for k, v in env.items()]
        fields.append(b"%d" % len(files))
        for path, data in files:
            fields += [path.encode(), data]
        data = netstrings(fields)
        try:
            view = memoryview(data)
            while view:  # the pipe takes it in pieces
                view = view[os.write(self.go_w, view):]
            os.close(self.go_w)
        except OSError:  # EPIPE: the launcher is gone; the program never started
            return None
        del data, view
        report = b""
        while chunk := os.read(self.status_r, 4096):
            report += chunk
        os.close(self.status_r)
        if not report:
            return ("started", None)
        return ({b"F": "bad_request", b"S": "spawn_failed"}.get(report[:1], "spawn_failed"), report[1:].decode("utf-8", "replace"))

    def discard(self):
        for fd in (self.go_w, self.status_r):
            try:
                os.close(fd)  # EOF on go: the launcher exits 0 without running anything
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


# --- the run ---------------------------------------------------------------------------------


def start(launcher, argv, program, stdin, files, env):
    """Starts the program through `launcher` (or a fresh one if it died before taking the task).
    Returns (proc, launcher) or raises BadRequest / a (code, message) error."""
    # python code runs inside the launcher's own interpreter; everything else is exec'd.
    mode = b"python" if program == PROGRAMS["python"][0] and argv[0] == "python3" else b"exec"
    outcome = launcher.go(mode, argv, env, files)
    if outcome is None:
        launcher.discard()
        launcher = Launcher()
        outcome = launcher.go(mode, argv, env, files)
        if outcome is None:
            raise SpawnFailed("spawn_failed", "the sandbox launcher exited before taking the task")
    kind, message = outcome
    if kind != "started":
        launcher.proc.wait()
        raise SpawnFailed(kind, message)
    if stdin is None:
        launcher.proc.stdin.close()  # the program reads EOF
    else:
        threading.Thread(target=feed_stdin, args=(launcher.proc.stdin, stdin), daemon=True).start()
    return launcher


class SpawnFailed(Exception):
    def __init__(self, code, message):
        super().__init__(message)
        self.code = code
        self.message = message


def run(launcher, argv, program, stdin, files, env, reader, relay):
    """Runs the program; streams frames; relays its calls; returns the exit frame."""
    # SIGCHLD wakes the select loop through a pipe, so the main child's exit is noticed even while
    # a background grandchild still holds stdout/stderr open.
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_r, False)
    os.set_blocking(wake_w, False)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    signal.set_wakeup_fd(wake_w)

    start_time = time.monotonic()
    launcher = start(launcher, argv, program, stdin, files, env)
    proc = launcher.proc
    send({"t": "start", "pid": proc.pid})

    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ, "stdout")
    sel.register(proc.stderr, selectors.EVENT_READ, "stderr")
    sel.register(wake_r, selectors.EVENT_READ, None)
    streams = 2
    # The runner's answers to the program's calls come on stdin; the calls come on the socket.
    for line in reader.backlog:
        relay.on_result(sel, line)
    if not reader.eof:
        sel.register(reader.fd, selectors.EVENT_READ, reader)
    relay.register(sel)

    def pump(timeout):
        nonlocal streams
        for key, events in sel.select(timeout):
            if key.data is None:
                try:
                    os.read(wake_r, 4096)
                except BlockingIOError:
                    pass
                continue
            if key.data is reader:
                for line in reader.feed():
                    relay.on_result(sel, line)
                if reader.eof:
                    sel.unregister(reader.fd)
                continue
            if key.data is relay:
                relay.on_ready(sel, key, events, send_raw)
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

    # The program is done. Kill whatever it left behind (kill(-1) reaches every process in the
    # container's pid namespace except init and us: CAP_KILL, whatever their uid), then drain what
    # is still buffered in the pipes: writers are gone, so EOF follows promptly.
    kill_all()
    # Nobody is left to call or to answer: the socket closes, results still coming are ignored.
    relay.close(sel)
    if not reader.eof:
        sel.unregister(reader.fd)
    deadline = time.monotonic() + 5
    while streams and time.monotonic() < deadline:
        pump(0.5)
    reap_all()
    signal.set_wakeup_fd(-1)

    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    # The launcher's start-up happened before the task: not the task's CPU time.
    boot_ms = getattr(launcher, "boot_cpu_ms", 0.0)
    rc = proc.returncode
    frame = {
        "t": "exit",
        "code": rc if rc >= 0 else None,
        "signal": signal_name(-rc) if rc < 0 else None,
        "wallMs": round((ended - start_time) * 1000, 3),
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
    return frame


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


def reap_all():
    """Waits for every descendant (orphans came to us as subreaper). After this no process of the
    program exists any more: each was SIGKILLed (a fork racing kill(-1) fails, its parent has a
    fatal signal pending) and reaped. RUSAGE_CHILDREN then covers all of them."""
    while True:
        try:
            os.waitpid(-1, 0)
        except ChildProcessError:
            return
        except InterruptedError:
            continue


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

    The runner turns these into error codes (pids_limit, memory_limit, disk_limit). They are
    kernel counters of the container's cgroup and filesystems: a program can only make them true
    by really running into the limit, which fails its own task, never another's.
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


# --- /out ------------------------------------------------------------------------------------


def make_listable(path):
    """As the sandbox user we own everything under /out: give back r-x on a directory the program
    closed."""
    st = os.lstat(path)
    if stat.S_ISDIR(st.st_mode) and st.st_mode & 0o500 != 0o500:
        os.chmod(path, stat.S_IMODE(st.st_mode) | 0o500)


def list_out(inline_max, max_files):
    """The files frame: regular files under /out, sorted; content inline if the total fits."""
    found, skipped, truncated = [], 0, False
    try:
        make_listable(OUT)
    except OSError:
        pass
    for dirpath, dirnames, filenames in os.walk(OUT, onerror=lambda e: None):  # never follows symlinks
        dirnames.sort()
        for d in dirnames:
            try:
                make_listable(os.path.join(dirpath, d))
            except OSError:
                pass
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
        if truncated:
            break
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


def become_reader():
    """Becomes the sandbox user to list /out: it owns /out, so it may give back read permission on
    what the program `chmod 000`ed (the alternative, CAP_DAC_READ_SEARCH, is not taken: see
    KEPT_CAPS). Safe only at this point, which is why it comes last: every process of the program
    was SIGKILLed and reaped (kill_all, reap_all: nothing can fork past a pending SIGKILL, and all
    of them descend from us, the subreaper), so no process that could reach a uid-10001
    supervisor exists, and none can be started any more. No capability survives the change (it is
    not needed any more); the process stays non-dumpable."""
    as_sandbox_user()
    _prctl(_libc(), PR_SET_DUMPABLE, 0)


# --- main ------------------------------------------------------------------------------------


def main():
    try:
        become_supervisor()
    except (SetupError, OSError) as e:
        # Fail closed: never run a program that could reach the supervisor. No frame: the
        # runner sees a container that ended without taking the task (a platform error).
        print(f"airlock supervisor: cannot separate from the program: {e}", file=sys.stderr, flush=True)
        return 3
    # Before anything of the task's uid exists: the socket is ours before the program can look.
    relay = CallRelay(SUPERVISOR_UID)
    if relay.problem:
        print(f"airlock supervisor: {relay.problem}", file=sys.stderr, flush=True)
    launcher = Launcher()
    reader = LineReader(sys.stdin.fileno())
    line = reader.first_line()
    if not line.strip():
        launcher.discard()
        send_error("bad_request", "no task on stdin")
        return 2
    try:
        argv, program, stdin, files, env, caps = parse(line)
    except BadRequest as e:
        launcher.discard()
        send_error("bad_request", str(e))
        return 2
    del line

    try:
        exit_frame = run(launcher, argv, program, stdin, files, env, reader, relay)
    except SpawnFailed as e:
        kill_all()
        reap_all()
        send_error(e.code, e.message)
        return 2 if e.code == "bad_request" else 0
    del files
    send(exit_frame)
    try:
        become_reader()
        listing = list_out(caps["outInlineMaxBytes"], caps["outMaxFiles"])
    except Exception as e:  # a bug, never the program's doing: a platform error, said so
        traceback.print_exc()
        send_error("internal", f"listing /out failed: {e}")
        return 4
    send(listing)
    send({"t": "done"})
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BrokenPipeError:  # the runner went away: stop everything, nobody is listening
        kill_all()
        os._exit(1)
