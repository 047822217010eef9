/**
 * Time spent waiting for an approval does not count against a task's `timeoutMs` (issue 11),
 * through real parts: tasks POSTed to the real harness app, run by a real in-process runner
 * (isolate hosts; Docker containers in the last group), their calls sent to the real broker on
 * its loopback listener, the target a REAL loopback payments fixture, approvers real users of the
 * identity store deciding through the real API, Redis real. The runner's job lock is short
 * (RUNNER_LOCK_MS 1 s) so a wait of several lock periods would show if the lock or the stalled
 * check took the job from a waiting task (a retried attempt, `attempts` 2).
 * Controls (each assertion can fail): the wall clock runs again after the decision (a task that
 * spins past its time after an approved call times out), and before the wait (time spent before
 * the call counts).
 */
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { Approval } from '../../protocol/approval.ts';
import { activatePolicies, putCapability, putCredential, resetPolicies } from '../helpers/capabilities.ts';
import { dockerGate } from '../helpers/docker.ts';
import { bearer, createPrincipalWithKey } from '../helpers/identity.ts';
import { pollTask, startStack, TERMINAL, type Stack } from '../helpers/stack.ts';
import { startTargetFixture, type TargetFixture } from '../helpers/target-fixture.ts';

const ADMIN_KEY = `admin-${randomUUID()}`;
const SECRETS = { tickets: `tk_${randomBytes(12).toString('hex')}`, payments: `pk_${randomBytes(12).toString('hex')}`, basic: 'u:p' };
const skipDocker = await dockerGate();

let target: TargetFixture;

function harnessEnv(): Record<string, string> {
  return {
    AIRLOCK_ADMIN_API_KEY: ADMIN_KEY,
    AIRLOCK_ADMIN_TENANT: 'acme',
    AIRLOCK_VAULT_KEY: randomBytes(32).toString('base64'),
    CAPABILITY_PRIVATE_TARGETS: `127.0.0.1:${target.port}`,
    // Held 1 s at a time: the runner resends the waiting call several times during a wait.
    APPROVAL_POLL_MS: '1000',
  };
}

async function setUp(stack: Stack): Promise<{ key: string; id: string }> {
  await putCredential(stack, ADMIN_KEY, 'payments', { type: 'header', header: 'X-Api-Key', value: SECRETS.payments });
  await putCapability(stack, ADMIN_KEY, 'payments.refund', {
    description: 'Refunds an order (cannot be undone)',
    input: { type: 'object', properties: { order: { type: 'string' }, amount: { type: 'integer' } }, required: ['order', 'amount'], additionalProperties: false },
    risk: 'irreversible',
    implementation: { type: 'http', method: 'POST', url: `${target.base}/refunds/{input.order}`, body: { amount: '{input.amount}' }, credential: 'payments' },
  });
  await activatePolicies(stack, ADMIN_KEY, `@id("wait-caps") permit (principal is Airlock::Agent, action == Airlock::Action::"capabilities.invoke", resource == Airlock::Capability::"payments.refund");`);
  await new Promise((r) => setTimeout(r, 1100)); // the broker's policy cache
  return createPrincipalWithKey(stack, ADMIN_KEY, 'user', { roles: ['approver'] });
}

async function submit(stack: Stack, runtime: string, code: string, timeoutMs: number): Promise<string> {
  const res = await stack.app.inject({
    method: 'POST',
    url: '/v1/tasks',
    headers: stack.headers('alice'),
    payload: { runtime, code, capabilities: ['payments.refund'], timeoutMs },
  });
  assert.equal(res.statusCode, 201, res.body);
  return res.json().id as string;
}

async function pendingOf(stack: Stack, key: string, taskId: string): Promise<Approval> {
  for (let i = 0; i < 400; i++) {
    const res = await stack.app.inject({ method: 'GET', url: '/v1/approvals?status=pending&limit=100', headers: bearer(key) });
    const found = (res.json().items as Approval[]).find((a) => a.taskId === taskId);
    if (found) return found;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`no pending approval for task ${taskId}`);
}

const approve = (stack: Stack, key: string, id: string) =>
  stack.app.inject({ method: 'POST', url: `/v1/approvals/${id}/approve`, headers: bearer(key), payload: {} });
const ended = (stack: Stack, id: string) => pollTask(stack, id, (t) => TERMINAL.has(t.status), 'alice', 60_000);
const refundsOf = (order: string) => target.refunds.filter((r) => r.order === order).length;

/** Waits `ms` while checking the task stays waiting (not timed out, not retried). */
async function stillWaiting(stack: Stack, id: string, ms: number): Promise<void> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    const task = (await stack.app.inject({ method: 'GET', url: `/v1/tasks/${id}`, headers: stack.headers('alice', null) })).json() as Record<string, unknown>;
    assert.equal(task['status'], 'waiting_approval', `still waiting after ${ms - (until - Date.now())} ms: ${JSON.stringify(task)}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

describe('an isolate task waiting for approval', () => {
  let stack: Stack;
  let approver: { key: string; id: string };
  before(async () => {
    target = await startTargetFixture(SECRETS);
    stack = await startStack({ broker: true, harnessEnv: harnessEnv(), runnerEnv: { RUNNER_LOCK_MS: '1000' } });
    approver = await setUp(stack);
  });
  after(async () => {
    await resetPolicies(stack, ADMIN_KEY);
    await stack.close();
    await target.close();
  });

  test('timeoutMs 2000, waits 4 s for a decision, then succeeds after approve; its job was never retried', { timeout: 60_000 }, async () => {
    const order = `w-${randomUUID()}`;
    const id = await submit(stack, 'javascript', `const r = await caps.payments.refund({ order: '${order}', amount: 5 }); r.order`, 2000);
    const pending = await pendingOf(stack, approver.key, id);
    await stillWaiting(stack, id, 4000);
    assert.equal(refundsOf(order), 0);
    assert.equal((await approve(stack, approver.key, pending.id)).statusCode, 200);
    const task = await ended(stack, id);
    assert.equal(task.status, 'succeeded', JSON.stringify(task));
    assert.equal((task['result'] as { value: unknown }).value, order);
    assert.equal(refundsOf(order), 1);
    assert.equal((await stack.deps.store.get(id))?.attempts, 1, 'the lock and the stalled check left the waiting job alone');
    const wallMs = (task['usage'] as { wallMs: number }).wallMs;
    assert.ok(wallMs >= 4000, `usage.wallMs is the real wall time (${wallMs})`);
  });

  test('the clock runs again after the decision: spinning past the time left after an approved call times out', { timeout: 60_000 }, async () => {
    const order = `s-${randomUUID()}`;
    const id = await submit(
      stack,
      'javascript',
      `await caps.payments.refund({ order: '${order}', amount: 6 }); const t = Date.now(); while (Date.now() - t < 4000) {} 'spun'`,
      2000,
    );
    const pending = await pendingOf(stack, approver.key, id);
    await stillWaiting(stack, id, 2500);
    assert.equal((await approve(stack, approver.key, pending.id)).statusCode, 200);
    const task = await ended(stack, id);
    assert.equal(task.status, 'timed_out', JSON.stringify(task));
    assert.equal((task['error'] as { code: string }).code, 'timeout');
    assert.equal(refundsOf(order), 1, 'the approved call ran; the time after it counted');
  });

  test('time before the call counts: a task that used most of its time before waiting has only the rest after', { timeout: 60_000 }, async () => {
    const order = `b-${randomUUID()}`;
    // 1.4 s of 2 s before the call; 1 s after it: over, though the wait in between was 3 s.
    const id = await submit(
      stack,
      'javascript',
      `let t = Date.now(); while (Date.now() - t < 1400) {} await caps.payments.refund({ order: '${order}', amount: 7 }); t = Date.now(); while (Date.now() - t < 1000) {} 'done'`,
      2000,
    );
    const pending = await pendingOf(stack, approver.key, id);
    await stillWaiting(stack, id, 3000);
    assert.equal((await approve(stack, approver.key, pending.id)).statusCode, 200);
    const task = await ended(stack, id);
    assert.equal(task.status, 'timed_out', JSON.stringify(task));
    assert.equal(refundsOf(order), 1);
  });
});

describe('a container task waiting for approval', { skip: skipDocker }, () => {
  let stack: Stack;
  let approver: { key: string; id: string };
  before(async () => {
    target = await startTargetFixture(SECRETS);
    stack = await startStack({ broker: true, harnessEnv: harnessEnv(), runnerEnv: { RUNNER_BACKENDS: 'docker', WARM_POOL_SIZE: '1', RUNNER_LOCK_MS: '1000' } });
    approver = await setUp(stack);
  });
  after(async () => {
    await resetPolicies(stack, ADMIN_KEY);
    await stack.close();
    await target.close();
  });

  test('python, timeoutMs 2000, waits 4 s for a decision, then succeeds after approve', { timeout: 120_000 }, async () => {
    const order = `py-${randomUUID()}`;
    const id = await submit(stack, 'python', `from airlock import caps\nprint(caps.payments.refund(order="${order}", amount=8)["order"])`, 2000);
    const pending = await pendingOf(stack, approver.key, id);
    await stillWaiting(stack, id, 4000);
    assert.equal((await approve(stack, approver.key, pending.id)).statusCode, 200);
    const task = await ended(stack, id);
    assert.equal(task.status, 'succeeded', JSON.stringify(task));
    assert.equal((task['result'] as { stdout: string }).stdout.trim(), order);
    assert.equal(refundsOf(order), 1);
    assert.equal((await stack.deps.store.get(id))?.attempts, 1);
  });

  test('python: the clock runs again after the decision (spinning past the time left times out)', { timeout: 120_000 }, async () => {
    const order = `pys-${randomUUID()}`;
    const id = await submit(stack, 'python', `import time\nfrom airlock import caps\ncaps.payments.refund(order="${order}", amount=9)\ntime.sleep(4)\nprint("slept")`, 2000);
    const pending = await pendingOf(stack, approver.key, id);
    await stillWaiting(stack, id, 2500);
    assert.equal((await approve(stack, approver.key, pending.id)).statusCode, 200);
    const task = await ended(stack, id);
    assert.equal(task.status, 'timed_out', JSON.stringify(task));
    assert.equal(refundsOf(order), 1);
  });
});
