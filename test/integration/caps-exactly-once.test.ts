/**
 * Exactly once across a runner's death, with the real broker: a runner process SIGKILLed after
 * its task made capability calls and while one was in flight; BullMQ retries the task on
 * another runner process, whose attempt makes the same calls. The payments fixture (a REAL
 * loopback HTTP server) must see each refund once: the broker answers completed calls from its
 * records. The call in flight at the kill was started and never settled: on a target that
 * honours the idempotency key it is run again with the same key; on one that cannot, the task
 * ends `capability_uncertain` for a human to resolve. Real runner processes, real Redis and
 * BullMQ stall recovery, the real harness app and broker listener.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import { Redis } from 'ioredis';
import { activatePolicies, auditDrafts, permitInvoke, putCapability, putCredential, resetPolicies } from '../helpers/capabilities.ts';
import { pollTask, REDIS_URL, startStack, TERMINAL, type Stack } from '../helpers/stack.ts';
import { startTargetFixture, type TargetFixture } from '../helpers/target-fixture.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const ADMIN_KEY = `admin-${randomUUID()}`;
const SECRETS = { tickets: `tk_${randomBytes(12).toString('hex')}`, payments: `pk_${randomBytes(12).toString('hex')}`, basic: 'a:b' };

let stack: Stack;
let redis: Redis;
let target: TargetFixture;
const runners: { child: ChildProcess; exited: Promise<unknown>; log: () => string }[] = [];

before(async () => {
  redis = new Redis(REDIS_URL);
  target = await startTargetFixture(SECRETS);
  stack = await startStack({
    runner: false,
    broker: true,
    harnessEnv: {
      AIRLOCK_ADMIN_API_KEY: ADMIN_KEY,
      AIRLOCK_ADMIN_TENANT: 'acme',
      AIRLOCK_VAULT_KEY: randomBytes(32).toString('base64'),
      CAPABILITY_PRIVATE_TARGETS: `127.0.0.1:${target.port}`,
    },
  });
  await putCredential(stack, ADMIN_KEY, 'payments', { type: 'header', header: 'X-Api-Key', value: SECRETS.payments });
  const obj = (properties: Record<string, unknown>, required: string[]) => ({ type: 'object', properties, required, additionalProperties: false });
  await putCapability(stack, ADMIN_KEY, 'payments.refund', {
    description: 'Refunds an order',
    input: obj({ order: { type: 'string' }, amount: { type: 'integer' } }, ['order', 'amount']),
    risk: 'write',
    implementation: { type: 'http', method: 'POST', url: `${target.base}/refunds/{input.order}`, body: { amount: '{input.amount}' }, credential: 'payments' },
  });
  // The first request of an id hangs (the runner dies while waiting), later ones are answered.
  for (const [name, idempotencyHeader] of [['approvals.wait', undefined], ['approvals.wait_once', false]] as const) {
    await putCapability(stack, ADMIN_KEY, name, {
      description: 'Waits',
      input: obj({ id: { type: 'string' } }, ['id']),
      risk: 'read',
      timeoutMs: 60_000,
      implementation: { type: 'http', method: 'POST', url: `${target.base}/hang-once?id={input.id}`, ...(idempotencyHeader === false ? { idempotencyHeader } : {}) },
    });
  }
  await activatePolicies(stack, ADMIN_KEY, permitInvoke('once-caps', ['payments.refund', 'approvals.wait', 'approvals.wait_once']));
  await new Promise((r) => setTimeout(r, 1100));
});
after(async () => {
  for (const r of runners) kill(r.child);
  await Promise.all(runners.map((r) => r.exited));
  await resetPolicies(stack, ADMIN_KEY);
  await stack.close();
  await target.close();
  redis.disconnect();
});

function kill(child: ChildProcess): void {
  try {
    process.kill(-child.pid!, 'SIGKILL');
  } catch {
    // gone already
  }
}

async function spawnRunner(): Promise<(typeof runners)[number]> {
  const id = `once-${randomUUID()}`;
  const child = spawn(process.execPath, ['--no-node-snapshot', '--import', 'tsx', 'runner/worker.ts'], {
    cwd: ROOT,
    detached: true,
    stdio: ['ignore', 'ignore', 'pipe'],
    env: {
      PATH: process.env['PATH'] ?? '/usr/bin:/bin',
      REDIS_URL,
      ISOLATE_HOSTS: '1',
      RUNNER_LOCK_MS: '1000',
      RUNNER_STALLED_CHECK_MS: '500',
      RUNNER_ID: id,
      RUNNER_BACKENDS: 'isolate',
      AIRLOCK_TASK_QUEUE: stack.queueName,
      BROKER_URL: stack.brokerUrl!,
      BLOB_DIR: stack.blobDir,
    },
  });
  let log = '';
  const exited = new Promise((resolve) => child.on('exit', resolve));
  const runner = { child, exited, log: () => log };
  runners.push(runner);
  await new Promise<void>((resolve, reject) => {
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (chunk: string) => {
      log += chunk;
      if (log.includes(`"runnerId":"${id}","msg":"ready (`)) resolve();
    });
    void exited.then(() => reject(new Error(`runner exited before ready:\n${log}`)));
  });
  return runner;
}

async function killedMidTask(waitCapability: string): Promise<{ task: Record<string, unknown> & { status: string }; order: string; id: string }> {
  // No runner of an earlier test may take this task.
  for (const r of runners) kill(r.child);
  await Promise.all(runners.map((r) => r.exited));
  const first = await spawnRunner();
  const order = `k-${randomUUID()}`;
  const hangId = randomUUID();
  const res = await stack.app.inject({
    method: 'POST',
    url: '/v1/tasks',
    headers: stack.headers('alice'),
    payload: {
      runtime: 'javascript',
      timeoutMs: 60_000,
      capabilities: ['payments.refund', waitCapability],
      code: `const a = await caps.payments.refund({ order: '${order}', amount: 5 });
             const b = await caps.payments.refund({ order: '${order}', amount: 7 });
             const c = await caps.call('${waitCapability}', { id: '${hangId}' });
             ({ a, b, c })`,
    },
  });
  assert.equal(res.statusCode, 201, res.body);
  const id = res.json().id as string;
  const deadline = Date.now() + 30_000;
  while (!target.seen.some((s) => s.url === `/hang-once?id=${hangId}`)) {
    if (Date.now() > deadline) throw new Error(`the first attempt never reached its third call:\n${first.log()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  kill(first.child);
  await first.exited;
  await spawnRunner();
  const task = await pollTask(stack, id, (t) => TERMINAL.has(t.status), 'alice', 60_000);
  return { task, order, id };
}

test('killed mid-task, retried on another runner: each refund reaches the payments API once; the call in flight re-runs with its key', { timeout: 120_000 }, async () => {
  const { task, order, id } = await killedMidTask('approvals.wait');
  assert.equal(task.status, 'succeeded', JSON.stringify(task));
  const value = (task['result'] as { value: { a: { refunded: number }; b: { refunded: number }; c: unknown } }).value;
  assert.equal(value.a.refunded, 5);
  assert.equal(value.b.refunded, 7);
  assert.deepEqual(target.refunds.filter((r) => r.order === order).map((r) => r.amount), [5, 7], 'each refund once');
  const calls = (await auditDrafts(redis, id)).filter((e) => e.action === 'capability.call');
  const second = calls.filter((e) => (e.details as { attempt: number }).attempt === 2).map((e) => [(e.details as { seq: number }).seq, (e.details as { replayed?: boolean }).replayed ?? false, (e.details as { rerun?: boolean }).rerun ?? false]);
  assert.deepEqual(second, [[0, true, false], [1, true, false], [2, false, true]]);
});

test('the same, on a target without an idempotency header: the task ends capability_uncertain, nothing runs twice', { timeout: 120_000 }, async () => {
  const { task, order } = await killedMidTask('approvals.wait_once');
  assert.equal(task.status, 'failed', JSON.stringify(task));
  assert.equal((task['error'] as { code: string }).code, 'capability_uncertain');
  assert.match((task['error'] as { message: string }).message, /#2 \(approvals\.wait_once\).*never settled/);
  assert.deepEqual(target.refunds.filter((r) => r.order === order).map((r) => r.amount), [5, 7]);
});
