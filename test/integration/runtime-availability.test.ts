/**
 * A task whose runtime no live runner serves is refused at once (503 runtime_unavailable with
 * Retry-After, nothing created), instead of being queued forever holding a concurrency slot
 * (issue 15). Real parts: a private redis-server (the runner registry is one key per Redis, so no
 * other test's runner may count here), the real app through `inject`, a real in-process runner
 * with the isolate backend only (it reports its backends in its heartbeat status).
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { startRedisServer, type RedisServerFixture } from '../helpers/redis-server.ts';
import { pollTask, startStack, type Stack } from '../helpers/stack.ts';

let redis: RedisServerFixture;
let stack: Stack;

const post = (body: Record<string, unknown>, key: string = randomUUID()) =>
  stack.app.inject({ method: 'POST', url: '/v1/tasks', headers: stack.headers('alice', key), payload: body });

async function until<T>(what: string, probe: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (ok(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(value)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('runtime_unavailable', () => {
  before(async () => {
    redis = await startRedisServer();
    stack = await startStack({
      harnessEnv: { REDIS_URL: redis.url },
      // One isolate host: a second task waits queued behind the first.
      runnerEnv: { REDIS_URL: redis.url, RUNNER_BACKENDS: 'isolate', ISOLATE_HOSTS: '1' },
    });
  });
  after(async () => {
    await stack?.close();
    await redis?.stop();
  });

  test('a container runtime with only an isolate runner: 503 with Retry-After, nothing created', async () => {
    const res = await post({ runtime: 'python', code: 'print(1)' });
    assert.equal(res.statusCode, 503, res.body);
    assert.equal(res.headers['content-type'], 'application/problem+json; charset=utf-8');
    assert.equal(res.json().code, 'runtime_unavailable');
    assert.match(res.json().detail, /python.*Docker/);
    assert.equal(res.headers['retry-after'], '5');
    const list = await stack.app.inject({ method: 'GET', url: '/v1/tasks', headers: stack.headers('alice', null) });
    assert.deepEqual(list.json().items, []);
    // The runtimes it serves still run.
    const js = await post({ runtime: 'javascript', code: '1 + 1', wait: 20 });
    assert.equal(js.statusCode, 201, js.body);
    assert.equal(js.json().status, 'succeeded');
  });

  test('/readyz says which runtimes can run and why the others cannot', async () => {
    const res = await stack.app.inject({ method: 'GET', url: '/readyz' });
    assert.equal(res.statusCode, 200, res.body);
    const body = res.json();
    assert.deepEqual(body.runtimes, { javascript: true, typescript: true, python: false, node: false, bash: false });
    assert.equal(body.unavailable.length, 3);
    assert.match(body.unavailable[0], /^python: no live runner has a Docker engine/);
  });

  test('once the last runner is gone: new tasks 503, a task already queued stays queued, a retry of it joins it', async () => {
    const blockerKey = randomUUID();
    const blocker = await post({ runtime: 'javascript', code: 'const t = Date.now(); while (Date.now() - t < 1500) {} 1' }, blockerKey);
    assert.equal(blocker.statusCode, 201, blocker.body);
    await pollTask(stack, blocker.json().id, (t) => t.status === 'running');
    const queuedKey = randomUUID();
    const queued = await post({ runtime: 'javascript', code: '2' }, queuedKey);
    assert.equal(queued.statusCode, 201, queued.body);
    assert.equal(queued.json().status, 'queued');

    // The runner finishes what it runs and leaves (deregisters): the queued task was never taken.
    await stack.runner!.close();
    assert.equal((await pollTask(stack, blocker.json().id, (t) => t.status === 'succeeded')).status, 'succeeded');

    const refused = await until(
      'a refusal once the runner is gone (the look at the registry is cached for a second)',
      () => post({ runtime: 'javascript', code: '3' }),
      (r) => r.statusCode === 503,
    );
    assert.equal(refused.json().code, 'runtime_unavailable');
    assert.match(refused.json().detail, /no runner is running/);

    const still = await stack.app.inject({ method: 'GET', url: `/v1/tasks/${queued.json().id}`, headers: stack.headers('alice', null) });
    assert.equal(still.json().status, 'queued', 'a task queued before the runner left stays queued for the next one');
    // A retry of the queued task's create is not refused: it joins its task.
    const retry = await post({ runtime: 'javascript', code: '2' }, queuedKey);
    assert.equal(retry.statusCode, 201, retry.body);
    assert.equal(retry.json().id, queued.json().id);
    assert.equal(retry.headers['idempotent-replayed'], 'true');

    const ready = await stack.app.inject({ method: 'GET', url: '/readyz' });
    assert.equal(ready.statusCode, 503);
    assert.equal(ready.json().code, 'not_ready');
  });
});
