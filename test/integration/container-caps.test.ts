/**
 * Capability calls from container tasks, end to end through real parts: the real harness app
 * (task API through `inject`), a real in-process runner with the Docker backend (real engine,
 * real v3 images with the real in-sandbox clients and supervisor), real Redis, and a REAL HTTP
 * server on loopback playing the harness broker (test/helpers/broker-fixture.ts: it checks each
 * call's token with the real `checkBrokerToken` against the task record). Tasks are queued with
 * `capabilities` the way the harness will (test/helpers/caps-task.ts).
 *
 * Covered: the Python, Node and Bash clients get outputs and catchable errors with stable codes;
 * only declared capabilities appear; the container still has no network; the broker token is in
 * no process, file or environment of the container (read from the host, memory included); forged
 * call frames on the program's output reach nobody; the program cannot replace or impersonate
 * the capability socket, and garbage on it changes nothing; cancel aborts a call in flight.
 * All of it twice: the socket served by the runner (its own directory per container, mounted
 * read-only; runner/backends/call-socket.ts) and by the supervisor (CALL_SOCKET_DIR=none).
 */
import assert from 'node:assert/strict';
import { open, readFile } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { RUNNER_LABEL } from '../../runner/backends/docker-config.ts';
import { startBrokerFixture, type BrokerFixture } from '../helpers/broker-fixture.ts';
import { finished, queueCapsTask } from '../helpers/caps-task.ts';
import { docker, dockerGate } from '../helpers/docker.ts';
import { REDIS_URL, startStack, type Stack } from '../helpers/stack.ts';

const skip = await dockerGate();

let redis: Redis;
let broker: BrokerFixture;
let stack: Stack;

const callsOf = (taskId: string) => broker.calls.filter((c) => c.taskId === taskId);
type Result = { stdout: string; stderr: string; exitCode: number | null };
const resultOf = (task: Record<string, unknown>) => task['result'] as Result;

// Twice: with the socket the runner serves in a read-only directory of the container's
// (CALL_SOCKET_DIR, the default), and with the supervisor's relay (CALL_SOCKET_DIR=none).
for (const served of ['runner', 'supervisor'] as const)
describe(`container tasks call capabilities through the in-sandbox clients (socket served by the ${served})`, { skip }, () => {
  before(async () => {
    redis = new Redis(REDIS_URL);
    broker = await startBrokerFixture(redis, {
      'tickets.create': (c) => ({ ok: true, output: { id: 42, input: c.input } }),
      'payments.refund': () => ({ ok: false, error: { code: 'capability_denied', message: 'over the limit' } }),
      'risky.op': () => ({ ok: false, error: { code: 'capability_uncertain', message: 'started, never settled' } }),
      'slow.forever': () => 'hang',
    });
    stack = await startStack({
      runnerEnv: {
        BROKER_URL: broker.url, RUNNER_BACKENDS: 'docker', WARM_POOL_SIZE: '1',
        CALL_SOCKET_DIR: served === 'runner' ? '/tmp/airlock-test-calls' : 'none',
      },
    });
  });
  after(async () => {
    await stack?.close();
    await broker?.close();
    redis?.disconnect();
  });

  const DECLARED = ['tickets.create', 'payments.refund'];

  test('Python: `from airlock import caps`; outputs, CapabilityError with .code, only declared names', async () => {
    const { id } = await queueCapsTask(
      stack,
      'python',
      `import json
from airlock import caps, CapabilityError
out = {"a": caps.tickets.create(title="x"), "b": caps.call("tickets.create", {"title": "y"}), "dir": dir(caps)}
try:
    caps.payments.refund(amount=5)
except CapabilityError as e:
    out["err"] = [e.code, e.message, e.capability, isinstance(e, Exception)]
try:
    caps.call("mail.send", {})
except CapabilityError as e:
    out["undeclared"] = e.code
try:
    caps.mail.send({})
except AttributeError:
    out["attr"] = "AttributeError"
print(json.dumps(out))`,
      DECLARED,
    );
    const task = await finished(stack, id);
    assert.equal(task.status, 'succeeded', JSON.stringify(task));
    assert.deepEqual(JSON.parse(resultOf(task).stdout), {
      a: { id: 42, input: { title: 'x' } },
      b: { id: 42, input: { title: 'y' } },
      dir: ['payments', 'tickets'],
      err: ['capability_denied', 'over the limit', 'payments.refund', true],
      undeclared: 'capability_denied',
      attr: 'AttributeError',
    });
    assert.deepEqual(
      callsOf(id).map((c) => [c.seq, c.name, c.attempt]),
      [
        [0, 'tickets.create', 1],
        [1, 'tickets.create', 1],
        [2, 'payments.refund', 1],
      ],
      'the undeclared call never reached the broker',
    );
  });

  test('Node: `require("airlock")`; promises, Error with .code, calls made at once get distinct seqs', async () => {
    const { id } = await queueCapsTask(
      stack,
      'node',
      `const { caps, CapabilityError } = require('airlock');
(async () => {
  const out = { keys: Object.keys(caps), a: await caps.tickets.create({ title: 'x' }) };
  try { await caps.payments.refund({ amount: 5 }); } catch (e) { out.err = [e.code, e.message, e.capability, e instanceof CapabilityError, e instanceof Error]; }
  out.all = await Promise.all([0, 1, 2, 3, 4].map((i) => caps.call('tickets.create', { i })));
  console.log(JSON.stringify(out));
})();`,
      DECLARED,
    );
    const task = await finished(stack, id);
    assert.equal(task.status, 'succeeded', JSON.stringify(task));
    const out = JSON.parse(resultOf(task).stdout) as Record<string, unknown>;
    assert.deepEqual(out['keys'], ['call', 'tickets', 'payments']);
    assert.deepEqual(out['a'], { id: 42, input: { title: 'x' } });
    assert.deepEqual(out['err'], ['capability_denied', 'over the limit', 'payments.refund', true, true]);
    assert.deepEqual(out['all'], [0, 1, 2, 3, 4].map((i) => ({ id: 42, input: { i } })));
    const calls = callsOf(id);
    assert.deepEqual(calls.map((c) => c.seq).sort((a, b) => a - b), [0, 1, 2, 3, 4, 5, 6]);
    for (const c of calls.filter((c) => c.seq >= 2)) assert.deepEqual(c.input, { i: c.seq - 2 }, 'numbered in the order made');
  });

  test('Bash: `airlock-call NAME JSON`: JSON on stdout; on error a non-zero exit and JSON on stderr', async () => {
    const { id } = await queueCapsTask(
      stack,
      'bash',
      `set -u
out=$(airlock-call tickets.create '{"title":"x"}'); echo "ok=$? out=$out"
airlock-call payments.refund '{"amount":5}' 2>err.json; echo "refund=$?"; cat err.json
airlock-call tickets.create 'not json' 2>/dev/null; echo "usage=$?"`,
      DECLARED,
    );
    const task = await finished(stack, id);
    assert.equal(task.status, 'succeeded', JSON.stringify(task));
    const lines = resultOf(task).stdout.trim().split('\n');
    assert.equal(lines[0], 'ok=0 out={"id": 42, "input": {"title": "x"}}');
    assert.equal(lines[1], 'refund=3');
    assert.deepEqual(JSON.parse(lines[2]!), { code: 'capability_denied', message: 'over the limit' });
    assert.equal(lines[3], 'usage=2');
    assert.deepEqual(callsOf(id).map((c) => c.name), ['tickets.create', 'payments.refund']);
  });

  test('an uncaught capability error fails the program (nonzero_exit); an uncaught capability_uncertain ends the task capability_uncertain', async () => {
    const failed = await queueCapsTask(stack, 'python', `from airlock import caps\ncaps.payments.refund(amount=1)`, DECLARED);
    const uncertain = await queueCapsTask(stack, 'node', `require('airlock').caps.risky.op({}).then(() => console.log('done'));`, ['risky.op']);
    const f = await finished(stack, failed.id);
    assert.equal(f.status, 'failed');
    assert.equal((f['error'] as { code: string }).code, 'nonzero_exit');
    assert.match(resultOf(f).stderr, /airlock\.CapabilityError: capability_denied: over the limit/);
    const u = await finished(stack, uncertain.id);
    assert.equal(u.status, 'failed', JSON.stringify(u));
    assert.equal((u['error'] as { code: string }).code, 'capability_uncertain');
  });

  test('the container still has no network: only loopback, and the broker fixture is unreachable from inside', async () => {
    const port = new URL(broker.url).port;
    const { id } = await queueCapsTask(
      stack,
      'python',
      `import errno, json, os, socket
from airlock import caps
def connect(host):
    s = socket.socket()
    s.settimeout(2)
    try:
        s.connect((host, ${port})); return "CONNECTED"
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e))
print(json.dumps({"net": sorted(os.listdir("/sys/class/net")), "loopback": connect("127.0.0.1"), "gateway": connect("172.17.0.1"),
                  "viaSocket": caps.tickets.create(title="still works")["id"]}))`,
      DECLARED,
    );
    const task = await finished(stack, id);
    assert.equal(task.status, 'succeeded', JSON.stringify(task));
    assert.deepEqual(JSON.parse(resultOf(task).stdout), {
      net: ['lo'],
      loopback: 'ECONNREFUSED', // the container's own loopback, not the host's
      gateway: 'ENETUNREACH',
      viaSocket: 42,
    });
  });

  test('the broker token is in no process memory, environment, command line or file of the container, nor in its config', async () => {
    let seen = '';
    let containerConfig = '';
    let memoryScanned = 0;
    broker.handlers.set('peek.now', async (call) => {
      // The call is live: the token exists and the task's container is running its program now.
      // Every running container of this runner is read (the idle warm ones too): its config,
      // and from the host, as root, the memory of each of its processes.
      const running = await docker.listContainers({ filters: { label: [`${RUNNER_LABEL}=${stack.runner!.id}`], status: ['running'] } });
      for (const c of running) {
        const container = docker.getContainer(c.Id);
        let top: { Processes: string[][] };
        try {
          containerConfig += JSON.stringify(await container.inspect());
          top = await container.top({ ps_args: '-o pid' });
        } catch (err) {
          // A warm container removed since the listing; the task's own is running (it waits for us).
          if (/no such container|is not running/i.test(String(err))) continue;
          throw err;
        }
        for (const [pid] of top.Processes) {
          const found = await memoryContains(Number(pid), call.token);
          memoryScanned += found.bytes;
          if (found.hit) seen += `memory of pid ${pid}\n`;
        }
      }
      return { ok: true, output: { fine: true } };
    });
    const { id } = await queueCapsTask(
      stack,
      'python',
      `import os, sys
from airlock import caps
caps.peek.now({})
dump = []
for pid in os.listdir("/proc"):
    if pid.isdigit():
        for what in ("environ", "cmdline"):
            try: dump.append(open(f"/proc/{pid}/{what}", "rb").read().decode("latin1"))
            except OSError: pass
for top in ("/tmp", "/work", "/out", "/run/airlock", "/dev/shm"):
    for root, dirs, files in os.walk(top):
        for f in files:
            try: dump.append(open(os.path.join(root, f), "rb").read().decode("latin1"))
            except OSError: pass
dump.append(repr(dict(os.environ)))
sys.stdout.write("\\n".join(dump))`,
      ['peek.now'],
    );
    const task = await finished(stack, id);
    assert.equal(task.status, 'succeeded', JSON.stringify(task).slice(0, 2000));
    const token = callsOf(id)[0]?.token ?? '';
    assert.ok(token.startsWith('bt_'), 'the call carried a token');
    assert.ok(containerConfig.includes('/run/airlock'), 'the container was inspected during the call');
    assert.ok(memoryScanned > 1024 * 1024, `process memory was read (${memoryScanned} bytes)`);
    assert.equal(seen, '', 'the token is in no container process memory');
    // The scan does find it where it is: in this process, which runs the runner (and its calls).
    assert.equal((await memoryContains(process.pid, token)).hit, true, 'the memory scan works');
    assert.ok(!containerConfig.includes(token), 'not in the container config (env, cmd, labels, mounts)');
    assert.ok(resultOf(task).stdout.includes("'AIRLOCK_CAPABILITIES': 'peek.now'"), 'the dump covers the environment');
    assert.ok(!JSON.stringify(task).includes(token), 'not in anything the program could read or print');
  });

  test('forged call frames on the program output reach nobody; the socket cannot be replaced, and garbage on it changes nothing', async () => {
    const { id } = await queueCapsTask(
      stack,
      'python',
      String.raw`import errno, json, os, socket, stat, sys
from airlock import caps, CapabilityError
forged = json.dumps({"t": "call", "id": 1, "name": "tickets.create", "input": {"forged": True}})
print(forged, flush=True)
print(forged, file=sys.stderr, flush=True)
def attempt(fn):
    try:
        fn(); return "ALLOWED"
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e))
def write_to(path):
    with open(path, "w") as f: f.write(forged + "\n")
def bind(path):
    s = socket.socket(socket.AF_UNIX); s.bind(path)
out = {"stdout": {}, "socket": {}}
for pid in (1, os.getppid()):
    out["stdout"][str(pid)] = attempt(lambda: write_to(f"/proc/{pid}/fd/1"))
S = "/run/airlock/caps.sock"
st = os.stat(S)
out["socket"] = {
    "owner": [st.st_uid, oct(stat.S_IMODE(os.stat("/run/airlock").st_mode))],
    "entries": sorted(os.listdir("/run/airlock")),
    "isSocket": stat.S_ISSOCK(st.st_mode),
    "unlink": attempt(lambda: os.unlink(S)),
    "rename": attempt(lambda: os.rename(S, "/run/airlock/x")),
    "bindBeside": attempt(lambda: bind("/run/airlock/evil.sock")),
    "create": attempt(lambda: open("/run/airlock/file", "w")),
    "chmod": attempt(lambda: os.chmod(S, 0o777)),
}
def raw(lines):
    s = socket.socket(socket.AF_UNIX); s.connect(S)
    try:
        s.sendall(lines)
        s.shutdown(socket.SHUT_WR)
    except BrokenPipeError:  # the supervisor answered and hung up on an oversized line
        pass
    data = b""
    try:
        while chunk := s.recv(65536):
            data += chunk
    except ConnectionResetError:
        # An oversized line is refused and the connection closed while the client may still be
        # sending: the kernel then resets it, and the refusal can be lost with it.
        if not data.strip():
            data = b'{"id": null, "error": {"code": "connection_reset"}}\n'
    return [json.loads(l) for l in data.splitlines()]
answers = raw(b'not json\n{"v":1,"id":1,"name":"tickets.create","input":NaN}\n{"v":9,"id":2,"name":"tickets.create"}\n[1,2]\n{"v":1,"id":-1,"name":"x"}\n')
out["garbage"] = [[a["id"], a["ok"], a["error"]["code"]] for a in answers]
out["huge"] = [[a["id"], a["error"]["code"]] for a in raw(b'{"v":1,"id":5,"name":"tickets.create","input":"' + b"x" * (2 * 1024 * 1024) + b'"}\n')]
out["after"] = caps.tickets.create(title="honest")["input"]
print(json.dumps(out))`,
      ['tickets.create'],
    );
    const task = await finished(stack, id);
    assert.equal(task.status, 'succeeded', JSON.stringify(task).slice(0, 3000));
    const lines = resultOf(task).stdout.trim().split('\n');
    assert.match(lines[0]!, /^\{"t": "call"/, 'the forged frame is plain output');
    assert.match(resultOf(task).stderr, /"t": "call"/);
    const out = JSON.parse(lines.at(-1)!) as Record<string, unknown>;
    assert.deepEqual(out['stdout'], Object.fromEntries(Object.keys(out['stdout'] as object).map((k) => [k, 'EACCES'])));
    assert.deepEqual(
      out['socket'],
      served === 'runner'
        ? {
            // The runner's directory for this container, mounted read-only: nothing else in it.
            owner: [process.getuid?.(), '0o755'],
            entries: ['caps.sock'],
            isSocket: true,
            unlink: 'EROFS',
            rename: 'EROFS',
            bindBeside: 'EROFS',
            create: 'EROFS',
            chmod: 'EROFS',
          }
        : {
            // The supervisor's own tmpfs (uid 10000, 0755).
            owner: [10000, '0o755'],
            entries: ['caps.sock'],
            isSocket: true,
            unlink: 'EACCES',
            rename: 'EACCES',
            bindBeside: 'EACCES',
            create: 'EACCES',
            chmod: 'EPERM',
          },
    );
    assert.deepEqual(out['garbage'], [
      [null, false, 'capability_invalid_input'],
      [null, false, 'capability_invalid_input'], // NaN is not JSON: the line has no readable id
      [2, false, 'capability_invalid_input'],
      [null, false, 'capability_invalid_input'],
      [null, false, 'capability_invalid_input'],
    ]);
    // Refused either way; whether the refusal arrives before the reset is up to the kernel.
    assert.ok(
      ['capability_invalid_input', 'connection_reset'].includes(String((out['huge'] as unknown[][])[0]?.[1])) && (out['huge'] as unknown[]).length === 1,
      JSON.stringify(out['huge']),
    );
    assert.deepEqual(out['after'], { title: 'honest' });
    assert.deepEqual(
      callsOf(id).map((c) => c.input),
      [{ title: 'honest' }],
      'only the honest call reached the broker',
    );
  });

  test('cancelling a container task aborts its call in flight', async () => {
    const { id } = await queueCapsTask(stack, 'python', `from airlock import caps\ncaps.slow.forever({})`, ['slow.forever']);
    await broker.waitFor(() => callsOf(id).length === 1, 'the call', 30_000);
    const del = await stack.app.inject({ method: 'DELETE', url: `/v1/tasks/${id}`, headers: stack.headers() });
    assert.equal(del.statusCode, 200, del.body);
    await broker.waitFor(() => callsOf(id)[0]!.aborted, 'the runner to abort the request', 5000);
    assert.equal((await finished(stack, id)).status, 'cancelled');
  });
});

/** Reads every readable mapping of a host process (as root, from outside) and looks for `needle`. */
async function memoryContains(pid: number, needle: string): Promise<{ hit: boolean; bytes: number }> {
  let maps = '';
  try {
    maps = await readFile(`/proc/${pid}/maps`, 'utf8');
  } catch {
    return { hit: false, bytes: 0 };
  }
  const target = Buffer.from(needle);
  const mem = await open(`/proc/${pid}/mem`, 'r').catch(() => null);
  if (!mem) return { hit: false, bytes: 0 };
  let bytes = 0;
  try {
    for (const line of maps.split('\n')) {
      const m = /^([0-9a-f]+)-([0-9a-f]+) r/.exec(line);
      if (!m || line.includes('[vvar]') || line.includes('[vsyscall]')) continue;
      const start = Number.parseInt(m[1]!, 16);
      const length = Number.parseInt(m[2]!, 16) - start;
      if (length > 256 * 1024 * 1024) continue;
      const buf = Buffer.alloc(length);
      const { bytesRead } = await mem.read(buf, 0, length, start).catch(() => ({ bytesRead: 0 }));
      bytes += bytesRead;
      if (buf.subarray(0, bytesRead).includes(target)) return { hit: true, bytes };
    }
  } finally {
    await mem.close();
  }
  return { hit: false, bytes };
}
