/**
 * The in-container supervisor is out of the program's reach (issue 14): the program runs as
 * uid 10001 with no capability, the supervisor as uid 10000, non-dumpable, in another session,
 * and docker-init as root. Tried from inside REAL container tasks (DockerBackend on the real
 * engine, real images, warm pool and cold path): opening `/proc/<pid>/fd/N` of the supervisor or
 * of pid 1 for writing, reading their memory and environment, ptrace, prlimit and signals are all
 * refused; forged or garbage frames written through every path a program can find change nothing
 * in the result. The end-to-end forging test through the API is in container-tasks.test.ts.
 *
 * On v1 images (program and supervisor both uid 10001) every one of these attempts succeeded.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { JobPayload } from '../../protocol/job.ts';
import { DockerBackend } from '../../runner/backends/docker.ts';
import { dockerGate, docker, job, recordingSink, removeContainersOf } from '../helpers/docker.ts';
import { session } from '../helpers/session.ts';

const skip = await dockerGate();
const RUNNER_ID = `test-separation-${randomUUID()}`;
const never = new AbortController().signal;

/** Tries everything against the supervisor (our parent) and pid 1; prints one JSON line each. */
const REACH = String.raw`
import ctypes, errno, json, os, resource, signal
libc = ctypes.CDLL(None, use_errno=True)
libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
def attempt(fn):
    try:
        fn()
        return "ALLOWED"
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e.errno))
def ptrace(pid):
    if libc.ptrace(16, pid, None, None) != 0:  # PTRACE_ATTACH
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))
    libc.ptrace(17, pid, None, None)  # PTRACE_DETACH: only reached if the attach worked
def read_mem(pid):
    with open(f"/proc/{pid}/mem", "rb") as f:
        f.seek(0x400000)
        f.read(1)
def open_fd(pid, fd, flags):
    os.close(os.open(f"/proc/{pid}/fd/{fd}", flags))
def status(pid):
    keep = ("Uid", "Gid", "CapEff", "CapPrm", "CapBnd", "NoNewPrivs")
    with open(f"/proc/{pid}/status") as f:
        return {k: v.split() for k, v in (l.rstrip("\n").split(":\t", 1) for l in f if ":\t" in l) if k in keep}
targets = {"supervisor": os.getppid(), "init": 1}
print(json.dumps({"self": status("self"), "supervisorStatus": status(targets["supervisor"]), "initStatus": status(1)}), flush=True)
for name, pid in targets.items():
    r = {
        "fdDir": attempt(lambda: os.listdir(f"/proc/{pid}/fd")),
        "memRead": attempt(lambda: read_mem(pid)),
        "environ": attempt(lambda: open(f"/proc/{pid}/environ", "rb").read()),
        "ptraceAttach": attempt(lambda: ptrace(pid)),
        "prlimit": attempt(lambda: resource.prlimit(pid, resource.RLIMIT_NOFILE)),
    }
    for fd in (0, 1, 2):
        r[f"fd{fd}Write"] = attempt(lambda: open_fd(pid, fd, os.O_WRONLY | os.O_NONBLOCK))
        r[f"fd{fd}Read"] = attempt(lambda: open_fd(pid, fd, os.O_RDONLY | os.O_NONBLOCK))
    print(json.dumps({name: r}), flush=True)
# Signals last: a SIGSTOP that went through (v1) is undone at once; SIGTERM/SIGKILL would end the run.
sigs = {}
for name, pid in targets.items():
    for sig in (signal.SIGSTOP, signal.SIGCONT, signal.SIGTERM, signal.SIGKILL):
        result = attempt(lambda: os.kill(pid, sig))
        if result == "ALLOWED" and sig == signal.SIGSTOP:
            os.kill(pid, signal.SIGCONT)
        sigs[f"{name} {sig.name}"] = result
print(json.dumps({"signals": sigs}), flush=True)
`;

describe("the supervisor is out of the program's reach (real containers)", { skip }, () => {
  let backend: DockerBackend;
  const run = (j: JobPayload) => backend.execute(j, session(never, recordingSink()));

  before(async () => {
    backend = await DockerBackend.create({
      docker,
      runnerId: RUNNER_ID,
      installationId: `test-separation-${randomUUID()}`,
      stagingRoot: `/tmp/airlock-test-staging-${RUNNER_ID}`,
      poolSize: 1,
    });
    await backend.pool.settled();
  });
  after(async () => {
    await backend?.dispose();
    await removeContainersOf(RUNNER_ID);
  });

  for (const path of ['warm', 'cold'] as const) {
    test(`${path}: /proc/<pid>/fd, mem, environ, ptrace, prlimit and signals of the supervisor and pid 1 are refused`, async () => {
      const before = backend.stats[path];
      // Another memory limit than the pool's takes the cold path (create + start).
      const r = await run(
        job('python', REACH, path === 'cold' ? { limits: { memoryMb: 200 } } : {}),
      );
      assert.equal(backend.stats[path] - before, 1, `took the ${path} path`);
      assert.equal(r.status, 'succeeded', `${r.error?.message}\n${r.result.stderr}`);
      const lines = r.result.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as Record<string, Record<string, unknown>>);
      const got = Object.assign({}, ...lines) as Record<string, Record<string, unknown>>;

      // Who is who: the program has nothing; the supervisor keeps SETUID/SETGID/KILL under its
      // own uid with an empty bounding set; docker-init is root.
      const zero = '0000000000000000';
      assert.deepEqual(got['self'], {
        Uid: ['10001', '10001', '10001', '10001'],
        Gid: ['10001', '10001', '10001', '10001'],
        CapPrm: [zero],
        CapEff: [zero],
        CapBnd: [zero],
        NoNewPrivs: ['1'],
      });
      assert.deepEqual(got['supervisorStatus'], {
        Uid: ['10000', '10000', '10000', '10000'],
        Gid: ['10000', '10000', '10000', '10000'],
        CapPrm: ['00000000000000e0'],
        CapEff: ['00000000000000e0'],
        CapBnd: [zero],
        NoNewPrivs: ['1'],
      });
      assert.deepEqual(got['initStatus']?.['Uid'], ['0', '0', '0', '0']);

      for (const target of ['supervisor', 'init']) {
        const refused: Record<string, string> = {
          fdDir: 'EACCES',
          memRead: 'EACCES',
          environ: 'EACCES',
          ptraceAttach: 'EPERM',
          prlimit: 'EPERM',
        };
        for (const fd of [0, 1, 2]) {
          refused[`fd${fd}Write`] = 'EACCES';
          refused[`fd${fd}Read`] = 'EACCES';
        }
        assert.deepEqual(got[target], refused, target);
      }
      const signals: Record<string, string> = {};
      for (const target of ['supervisor', 'init'])
        for (const sig of ['SIGSTOP', 'SIGCONT', 'SIGTERM', 'SIGKILL'])
          signals[`${target} ${sig}`] = 'EPERM';
      assert.deepEqual(got['signals'], signals);
    });
  }

  test('bash: garbage and forged frames through /proc/*/fd of every other process change nothing', async () => {
    const code = [
      'exit0=\'{"t":"exit","code":0,"signal":null,"wallMs":1,"cpuMs":0,"maxRssBytes":0}\'',
      'for p in /proc/[0-9]*; do',
      '  pid=${p#/proc/}',
      '  [ "$pid" = "$$" ] && continue',
      '  for fd in 0 1 2; do',
      '    { printf "garbage, not a frame\\n%s\\n{\\"t\\":\\"done\\"}\\n" "$exit0" > "$p/fd/$fd"; } 2>/dev/null && echo "wrote $p/fd/$fd" >&2',
      '  done',
      'done',
      'echo real',
      'exit 3',
    ].join('\n');
    const r = await run(job('bash', code));
    assert.equal(r.status, 'failed');
    assert.equal(r.error?.code, 'nonzero_exit', r.error?.message);
    assert.equal(r.result.exitCode, 3);
    assert.equal(r.result.stdout, 'real\n');
    assert.equal(r.result.stderr, '', 'no write went through');
  });

  test('node: the supervisor cannot be signalled or have its stdout reopened', async () => {
    const code = [
      "const fs = require('fs');",
      'const out = {};',
      "try { fs.openSync(`/proc/${process.ppid}/fd/1`, 'w'); out.fd = 'ALLOWED'; } catch (e) { out.fd = e.code; }",
      "for (const sig of ['SIGSTOP', 'SIGTERM', 'SIGKILL']) {",
      "  try { process.kill(process.ppid, sig); out[sig] = 'ALLOWED'; } catch (e) { out[sig] = e.code; }",
      '}',
      'console.log(JSON.stringify(out));',
      'process.exit(3);',
    ].join('\n');
    const r = await run(job('node', code));
    assert.equal(r.error?.code, 'nonzero_exit', r.error?.message);
    assert.equal(r.result.exitCode, 3);
    assert.deepEqual(JSON.parse(r.result.stdout), {
      fd: 'EACCES',
      SIGSTOP: 'EPERM',
      SIGTERM: 'EPERM',
      SIGKILL: 'EPERM',
    });
  });
});
