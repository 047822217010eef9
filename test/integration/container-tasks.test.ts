/**
 * Container tasks end to end: the real harness app (Fastify inject) and a real in-process runner
 * with BOTH backends (isolate + docker worker on the container queue) on a real Redis and the
 * real Docker engine with the real sandbox images. Nothing is mocked. Proves the runner wiring;
 * the backend itself is covered in docker-backend*.test.ts.
 *
 * With CI=true a missing engine fails; locally too, unless AIRLOCK_SKIP_DOCKER=1.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { loadConfig } from '../../runner/config.ts';
import { startRunner } from '../../runner/runner.ts';
import { POOL_LABEL, RUNNER_LABEL } from '../../runner/backends/docker-config.ts';
import { docker, dockerGate, removeContainersOf } from '../helpers/docker.ts';
import { pollTask, REDIS_URL, startStack, TERMINAL, type Stack } from '../helpers/stack.ts';

const skip = await dockerGate();

describe('container tasks through the API', { skip }, () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack({
      runnerEnv: {
        RUNNER_BACKENDS: 'isolate,docker',
        REQUIRE_DOCKER: '1',
        WARM_POOL_SIZE: '1',
        GRANT_STAGING_DIR: '/tmp/airlock-test-staging-api',
      },
    });
    assert.deepEqual(stack.runner?.backends, ['isolate', 'docker']);
  });
  after(async () => {
    const id = stack?.runner?.id;
    await stack?.close();
    if (id) await removeContainersOf(id);
  });
  const submit = (body: Record<string, unknown>) =>
    stack.app.inject({ method: 'POST', url: '/v1/tasks', headers: stack.headers(), payload: body });

  test('python with stdin, files and args: succeeded, exit code, /out file served as bytes', async () => {
    const res = await submit({
      runtime: 'python',
      code: 'import sys\nd = open("in/x.txt").read()\nprint(sys.argv[1], sys.stdin.read(), d)\nopen("/out/y.txt", "w").write(d[::-1])',
      stdin: 'IN',
      args: ['A'],
      files: [{ path: 'in/x.txt', contentBase64: Buffer.from('abc').toString('base64') }],
      wait: 20,
    });
    assert.equal(res.statusCode, 201, res.body);
    const task = res.json();
    assert.equal(task.status, 'succeeded', JSON.stringify(task));
    assert.equal(task.result.stdout, 'A IN abc\n');
    assert.equal(task.result.exitCode, 0);
    assert.deepEqual(
      task.result.files.map((f: { path: string; size: number }) => [f.path, f.size]),
      [['y.txt', 3]],
    );
    assert.ok(task.usage.peakMemoryBytes > 0);
    const file = await stack.app.inject({
      method: 'GET',
      url: `/v1/tasks/${task.id}/files/y.txt`,
      headers: stack.headers('alice', null),
    });
    assert.equal(file.statusCode, 200);
    assert.equal(file.body, 'cba');
  });

  test('non-zero exit: failed / nonzero_exit, output kept', async () => {
    const task = (await submit({ runtime: 'bash', code: 'echo before; exit 4', wait: 20 })).json();
    assert.equal(task.status, 'failed');
    assert.equal(task.error.code, 'nonzero_exit');
    assert.equal(task.result.stdout, 'before\n');
    assert.equal(task.result.exitCode, 4);
  });

  test('a program that forges frames through every path it finds, then exits 3: nonzero_exit 3, its real stdout only, no files', async () => {
    // Forged frames for the runner: its own stdout, exit 0, an /out file with a matching hash,
    // usage, done; and garbage. Written to every descriptor of every other process it can open
    // (on v1 images: the supervisor's and docker-init's stdout, the attach stream).
    const code = String.raw`
import base64, hashlib, json, os, sys
content = b"forged file"
frames = [
    {"t": "out", "s": "stdout", "d": base64.b64encode(b"FORGED\n").decode()},
    {"t": "exit", "code": 0, "signal": None, "wallMs": 1, "cpuMs": 0, "userMs": 0, "sysMs": 0, "maxRssBytes": 1},
    {"t": "files", "files": [{"path": "forged.txt", "size": len(content), "sha256": hashlib.sha256(content).hexdigest(),
      "contentBase64": base64.b64encode(content).decode()}], "totalBytes": len(content), "inline": True, "truncated": False, "skipped": 0},
    {"t": "done"},
]
forged = b"".join(json.dumps(f).encode() + b"\n" for f in frames)
opened = []
for pid in sorted(p for p in os.listdir("/proc") if p.isdigit() and int(p) != os.getpid()):
    for fd in range(16):
        try:
            w = os.open(f"/proc/{pid}/fd/{fd}", os.O_WRONLY | os.O_NONBLOCK)
        except OSError:
            continue
        opened.append(f"{pid}/{fd}")
        for data in (forged, b"\x01\x00\x00\x00\x00\x00\x00\x09garbage\n\n"):
            try:
                os.write(w, data)
            except OSError:
                pass
        os.close(w)
print("real output")
print(json.dumps(frames[1]))
print("opened", opened, file=sys.stderr)
sys.exit(3)
`;
    const task = (await submit({ runtime: 'python', code, wait: 30 })).json();
    assert.equal(task.status, 'failed', JSON.stringify(task));
    assert.equal(task.error.code, 'nonzero_exit', task.error.message);
    assert.equal(task.result.exitCode, 3, task.result.stderr);
    assert.equal(
      task.result.stdout,
      'real output\n{"t": "exit", "code": 0, "signal": null, "wallMs": 1, "cpuMs": 0, "userMs": 0, "sysMs": 0, "maxRssBytes": 1}\n',
      'a frame printed by the program is its output, nothing else',
    );
    assert.equal(
      task.result.stderr,
      'opened []\n',
      'no descriptor of another process could be opened',
    );
    assert.deepEqual(task.result.files, []);
    assert.ok(task.usage.cpuMs > 0 && task.usage.peakMemoryBytes > 1, JSON.stringify(task.usage));
  });

  test('DELETE cancels a running container task; its container goes', async () => {
    const created = (
      await submit({ runtime: 'node', code: 'console.log(require("os").hostname()); setInterval(() => {}, 1000)' })
    ).json();
    const running = await pollTask(stack, created.id, (t) => t.status === 'running');
    assert.equal(running.status, 'running');
    // The program is up once its first output (its container's id) is stored, not after a guessed delay.
    const upBy = Date.now() + 20_000;
    let hostname = '';
    while (!hostname) {
      const output = (await stack.deps.store.readEvents(created.id)).find((e) => e.event.type === 'output');
      if (output?.event.type === 'output') hostname = output.event.data.trim();
      assert.ok(hostname || Date.now() < upBy, 'no output within 20 s');
      if (!hostname) await new Promise((r) => setTimeout(r, 25));
    }
    assert.match(hostname, /^[0-9a-f]{12}$/, "a container's host name is its short id");
    const res = await stack.app.inject({
      method: 'DELETE',
      url: `/v1/tasks/${created.id}`,
      headers: stack.headers(),
    });
    assert.equal(res.statusCode, 200);
    const done = await pollTask(stack, created.id, (t) => TERMINAL.has(t.status));
    assert.equal(done.status, 'cancelled');
    // The engine kills and removes it in the background (the next test counts the idle pool).
    const goneBy = Date.now() + 20_000;
    while ((await docker.listContainers({ all: true })).some((c) => c.Id.startsWith(hostname))) {
      assert.ok(Date.now() < goneBy, `container ${hostname} still there 20 s after the cancel`);
      await new Promise((r) => setTimeout(r, 50));
    }
  });

  test('a second runner with the same RUNNER_ID (and Docker) refuses to start instead of removing live containers', async () => {
    const id = stack.runner?.id ?? '';
    // The first runner's idle warm containers (not ones still being removed after earlier tasks).
    const warm = async () =>
      (
        await docker.listContainers({
          filters: { label: [`${RUNNER_LABEL}=${id}`, `${POOL_LABEL}=1`], status: ['running'] },
        })
      ).map((c) => c.Id);
    // The pool refills, and earlier tasks' containers are removed, in the background: wait until
    // only idle, running pool containers are left (not for a guessed second).
    const settledBy = Date.now() + 30_000;
    for (;;) {
      const all = await docker.listContainers({ all: true, filters: { label: [`${RUNNER_LABEL}=${id}`] } });
      if (all.length > 0 && all.every((c) => c.State === 'running' && c.Labels[POOL_LABEL] === '1')) break;
      assert.ok(Date.now() < settledBy, `the warm pool did not settle: ${all.map((c) => c.State).join(',')}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const before = await warm();
    assert.ok(before.length > 0, 'the first runner has warm containers');
    const config = loadConfig({
      REDIS_URL,
      RUNNER_ID: id,
      RUNNER_BACKENDS: 'docker',
      REQUIRE_DOCKER: '1',
      WARM_POOL_SIZE: '0',
    });
    await assert.rejects(
      startRunner(config, () => {}, stack.queueName),
      /another live runner uses RUNNER_ID/,
    );
    const after = await warm();
    for (const c of before) assert.ok(after.includes(c), 'nothing of the live runner was removed');
  });
});
