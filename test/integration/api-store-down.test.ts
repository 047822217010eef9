/**
 * While Redis cannot be reached the API answers 503 `temporarily_unavailable` with
 * `Retry-After` (problem+json, nothing internal in it), never 500 `internal`; once Redis is back
 * it answers normally again. Real parts only: a private `redis-server` process started and
 * SIGKILLed by this file (so no other test's Redis is touched), the real harness app (`inject`)
 * with its real Redis clients and BullMQ queues. No runner: tasks stay queued.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { connect } from 'node:net';
import { after, before, test } from 'node:test';
import type { LightMyRequestResponse } from 'fastify';
import { buildApp, standardSecurityPath } from '../../harness/app.ts';
import { CedarPolicyGate, type PolicyGate } from '../../harness/policy/gate.ts';
import { PolicyStore } from '../../harness/policy/policy-store.ts';
import { freePort } from '../helpers/harness-process.ts';
import { runAgents } from '../helpers/run-agents.ts';
import { startStack, type Stack } from '../helpers/stack.ts';

let port: number;
let redis: ChildProcess | null = null;
let stack: Stack;

/** Starts redis-server on `port` and resolves once it accepts connections. */
async function startRedis(): Promise<ChildProcess> {
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
    stdio: 'ignore',
  });
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error('redis-server exited at start (is it installed?)');
    const up = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1', () => {
        socket.end();
        resolve(true);
      });
      socket.on('error', () => resolve(false));
    });
    if (up) return child;
    if (Date.now() > deadline) throw new Error(`redis-server did not start on port ${port}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function stopRedis(): Promise<void> {
  if (!redis || redis.exitCode !== null || redis.signalCode !== null) return;
  const gone = new Promise((resolve) => redis!.once('exit', resolve));
  redis.kill('SIGKILL');
  await gone;
}

before(async () => {
  port = await freePort();
  redis = await startRedis();
  const agents = await runAgents();
  stack = await startStack({
    runner: false,
    harnessEnv: { ...agents.harnessEnv, REDIS_URL: `redis://127.0.0.1:${port}` },
  });
});
after(async () => {
  if (redis?.exitCode === null && redis.signalCode === null) await stack.close();
  else stack.deps.redis.disconnect();
  await stopRedis();
});

const post = (key: string) =>
  stack.app.inject({
    method: 'POST',
    url: '/v1/tasks',
    headers: stack.headers('alice', key),
    payload: { runtime: 'javascript', code: '1 + 1' },
  });

function assertUnavailable(res: LightMyRequestResponse): void {
  assert.equal(res.statusCode, 503, res.body);
  assert.equal(res.headers['content-type'], 'application/problem+json; charset=utf-8');
  assert.equal(res.headers['retry-after'], '2');
  const body = res.json();
  assert.equal(body.code, 'temporarily_unavailable');
  assert.equal(body.status, 503);
  assert.equal(body.type, 'https://airlock.dev/problems/temporarily_unavailable');
  assert.doesNotMatch(res.body, /redis|ECONN|at \/|Error:|airlock:/i);
}

test('Redis down: 503 temporarily_unavailable with Retry-After on reads and writes; back up: the same key creates the task', async () => {
  const key = randomUUID();
  const before = await stack.app.inject({ method: 'GET', url: '/v1/tasks', headers: stack.headers('alice', null) });
  assert.equal(before.statusCode, 200, before.body);

  await stopRedis();
  // Until the client has noticed, a command may still fail in flight: every answer is a 503.
  assertUnavailable(await post(key));
  assertUnavailable(await stack.app.inject({ method: 'GET', url: '/v1/tasks', headers: stack.headers('alice', null) }));
  assertUnavailable(
    await stack.app.inject({ method: 'GET', url: `/v1/tasks/${randomUUID()}`, headers: stack.headers('alice', null) }),
  );
  assertUnavailable(
    await stack.app.inject({ method: 'DELETE', url: `/v1/tasks/${randomUUID()}`, headers: stack.headers('alice', key) }),
  );
  const ready = await stack.app.inject({ method: 'GET', url: '/readyz' });
  assert.equal(ready.statusCode, 503);

  redis = await startRedis();
  const deadline = Date.now() + 15_000;
  let res = await post(key);
  while (res.statusCode === 503 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
    res = await post(key);
  }
  assert.equal(res.statusCode, 201, res.body);
  assert.equal(res.headers['idempotent-replayed'], undefined);
  const replay = await post(key);
  assert.equal(replay.headers['idempotent-replayed'], 'true');
  assert.equal(replay.body, res.body);
});

test('Redis goes away while a request holds its key: still 503 (releasing the claim fails quietly), and the key works once Redis is back', async () => {
  // A real Cedar gate (it reads the tenant's policies from Redis), held at the first decision:
  // the request has claimed its key when Redis goes away.
  let release: () => void = () => {};
  const held = new Promise<void>((resolve) => (release = resolve));
  let holding = true;
  const cedar = new CedarPolicyGate(new PolicyStore(stack.deps.redis), () => {}, async () => null);
  const gate: PolicyGate = {
    async decide(request, principal, action, resource, context) {
      if (action === 'tasks.create' && holding) {
        holding = false;
        await held;
      }
      return cedar.decide(request, principal, action, resource, context);
    },
  };
  const app = await buildApp(stack.deps, standardSecurityPath, gate);
  try {
    const key = randomUUID();
    const pending = app.inject({
      method: 'POST',
      url: '/v1/tasks',
      headers: stack.headers('alice', key),
      payload: { runtime: 'javascript', code: '2 + 2' },
    });
    const reached = Date.now() + 10_000;
    while (holding) {
      assert.ok(Date.now() < reached, 'the request did not reach the policy decision');
      await new Promise((r) => setTimeout(r, 5));
    }
    await stopRedis();
    release();
    assertUnavailable(await pending);

    redis = await startRedis();
    const deadline = Date.now() + 15_000;
    let res = await post(key);
    while (res.statusCode === 503 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      res = await post(key);
    }
    assert.equal(res.statusCode, 201, res.body);
  } finally {
    release();
    await app.close();
  }
});
