/**
 * A runner SIGKILLed while its task waits for a human's approval: the job is retried on another
 * runner, whose attempt makes the same call (same seq, same key) and waits on the SAME approval
 * request — nobody is asked twice — and once approved the call reaches the target once. Real
 * runner processes (`node runner/worker.ts`, killed with real signals, process group included),
 * real BullMQ stall recovery, the real harness app and broker (its loopback listener), a real
 * approver user, a REAL loopback payments fixture, real Redis.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import type { Approval } from '../../protocol/approval.ts';
import { activatePolicies, permitInvoke, putCapability, putCredential, resetPolicies } from '../helpers/capabilities.ts';
import { bearer, createPrincipalWithKey } from '../helpers/identity.ts';
import { pollTask, REDIS_URL, startStack, TERMINAL, type Stack } from '../helpers/stack.ts';
import { startTargetFixture, type TargetFixture } from '../helpers/target-fixture.ts';
import { redisKeys } from '../../protocol/redis-keys.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const ADMIN_KEY = `admin-${randomUUID()}`;
const SECRETS = { tickets: 't', payments: `pk_${randomBytes(12).toString('hex')}`, basic: 'u:p' };

let stack: Stack;
let target: TargetFixture;
const runners: { child: ChildProcess; exited: Promise<unknown>; log: () => string }[] = [];

before(async () => {
  target = await startTargetFixture(SECRETS);
  stack = await startStack({
    runner: false,
    broker: true,
    harnessEnv: {
      AIRLOCK_ADMIN_API_KEY: ADMIN_KEY,
      AIRLOCK_ADMIN_TENANT: 'acme',
      AIRLOCK_VAULT_KEY: randomBytes(32).toString('base64'),
      CAPABILITY_PRIVATE_TARGETS: `127.0.0.1:${target.port}`,
      APPROVAL_POLL_MS: '1000',
    },
  });
  await putCredential(stack, ADMIN_KEY, 'payments', { type: 'header', header: 'X-Api-Key', value: SECRETS.payments });
  await putCapability(stack, ADMIN_KEY, 'payments.refund', {
    description: 'Refunds an order (cannot be undone)',
    input: { type: 'object', properties: { order: { type: 'string' }, amount: { type: 'integer' } }, required: ['order', 'amount'], additionalProperties: false },
    risk: 'irreversible',
    implementation: { type: 'http', method: 'POST', url: `${target.base}/refunds/{input.order}`, body: { amount: '{input.amount}' }, credential: 'payments' },
  });
  await activatePolicies(stack, ADMIN_KEY, permitInvoke('approval-kill', ['payments.refund']));
  await new Promise((r) => setTimeout(r, 1100)); // the broker's policy cache
});
after(async () => {
  for (const r of runners) kill(r.child);
  await Promise.all(runners.map((r) => r.exited));
  await resetPolicies(stack, ADMIN_KEY);
  await stack.close();
  await target.close();
});

function kill(child: ChildProcess): void {
  try {
    process.kill(-child.pid!, 'SIGKILL');
  } catch {
    // gone already
  }
}

async function spawnRunner(): Promise<(typeof runners)[number]> {
  const id = `caps-kill-${randomUUID()}`;
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

async function pendingOf(key: string, taskId: string): Promise<Approval[]> {
  const res = await stack.app.inject({ method: 'GET', url: '/v1/approvals?status=pending&limit=100', headers: bearer(key) });
  assert.equal(res.statusCode, 200, res.body);
  return (res.json().items as Approval[]).filter((a) => a.taskId === taskId);
}

test('a runner killed while its task waits for approval: the retried attempt waits on the same request; approved, the call runs once', { timeout: 120_000 }, async () => {
  const approver = await createPrincipalWithKey(stack, ADMIN_KEY, 'user', { roles: ['approver'] });
  const first = await spawnRunner();
  const order = `kill-${randomUUID()}`;
  const res = await stack.app.inject({
    method: 'POST',
    url: '/v1/tasks',
    headers: stack.headers('alice'),
    payload: { runtime: 'javascript', code: `const r = await caps.payments.refund({ order: '${order}', amount: 11 }); r`, capabilities: ['payments.refund'], timeoutMs: 90_000 },
  });
  assert.equal(res.statusCode, 201, res.body);
  const id = res.json().id as string;
  const waiting = await pollTask(stack, id, (t) => t.status === 'waiting_approval' || TERMINAL.has(t.status), 'alice', 30_000);
  assert.equal(waiting.status, 'waiting_approval', `${JSON.stringify(waiting)}\n${first.log()}`);
  const [request] = await pendingOf(approver.key, id);
  assert.ok(request);
  assert.equal(request.seq, 0);

  kill(first.child);
  await first.exited;
  const second = await spawnRunner();
  // The retried attempt starts and makes the same call: attempts 2, still one request.
  for (let i = 0; i < 300; i++) {
    const attempts = await stack.deps.redis.hget(redisKeys.task(id), 'attempts');
    if (attempts === '2') break;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(await stack.deps.redis.hget(redisKeys.task(id), 'attempts'), '2', second.log());
  await new Promise((r) => setTimeout(r, 1500)); // its call reached the broker and waits
  assert.deepEqual((await pendingOf(approver.key, id)).map((a) => a.id), [request.id], 'the same request, nobody asked twice');
  assert.equal(target.refunds.filter((r) => r.order === order).length, 0);

  const ok = await stack.app.inject({ method: 'POST', url: `/v1/approvals/${request.id}/approve`, headers: bearer(approver.key), payload: {} });
  assert.equal(ok.statusCode, 200, ok.body);
  const task = await pollTask(stack, id, (t) => TERMINAL.has(t.status), 'alice', 60_000);
  assert.equal(task.status, 'succeeded', `${JSON.stringify(task)}\n${second.log()}`);
  assert.equal((task['result'] as { value: { order: string } }).value.order, order);
  assert.equal(target.refunds.filter((r) => r.order === order).length, 1, 'the call happened once');
  const events = (await stack.deps.store.readEvents(id, '-', 1000)).map((e) => e.event.type);
  assert.equal(events.filter((t) => t === 'approval_requested').length, 1);
  assert.equal(events.filter((t) => t === 'approval_decided').length, 1);
});
