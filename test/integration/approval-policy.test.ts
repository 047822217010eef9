/**
 * What Cedar policies say about approvals beyond "needs one" (issue 11), through real parts: the
 * real harness app (inject), the real broker on its loopback listener, a real in-process runner
 * (isolate hosts), a REAL loopback payments fixture, real users of the identity store, real Redis.
 * - `@approvalTimeoutMs("…")` on a policy that asks for approval caps its requests' deadline (the
 *   smallest of the policies that asked; APPROVAL_TIMEOUT_MS otherwise); a bad value is refused
 *   when the set is validated.
 * - Self-approval: the user a task acts for (or who created it) may decide its requests only where
 *   a policy permits `approvals.selfApprove` — refused by default, allowed exactly as far as the
 *   policy says (here: deny only; approve for small amounts), and each such decision is audited.
 * Calls of tasks made here directly (a task record and a broker token, as the runner does) go to
 * the broker the way the runner sends them.
 */
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import type { Approval } from '../../protocol/approval.ts';
import { issueBrokerToken } from '../../protocol/broker-token.ts';
import { activatePolicies, adminHeaders, auditDrafts, callBroker, putCapability, putCredential, resetPolicies } from '../helpers/capabilities.ts';
import { bearer, createPrincipalWithKey } from '../helpers/identity.ts';
import { pollTask, REDIS_URL, startStack, TERMINAL, type Stack } from '../helpers/stack.ts';
import { startTargetFixture, type TargetFixture } from '../helpers/target-fixture.ts';

const ADMIN_KEY = `admin-${randomUUID()}`;
const SECRETS = { tickets: `tk_${randomBytes(12).toString('hex')}`, payments: `pk_${randomBytes(12).toString('hex')}`, basic: 'u:p' };

const INVOKE = `
  @id("policy-caps") permit (principal, action == Airlock::Action::"capabilities.invoke", resource)
    when { resource == Airlock::Capability::"payments.refund" || resource == Airlock::Capability::"payments.payout" };
  @id("refunds-quick-decision") @approvalTimeoutMs("3000")
  permit (principal, action == Airlock::Action::"capabilities.requireApproval", resource == Airlock::Capability::"payments.refund");`;

let redis: Redis;
let target: TargetFixture;
let stack: Stack;
let approver: { id: string; key: string };
let self: { id: string; key: string };

async function approvalOf(taskId: string, status = 'pending'): Promise<Approval> {
  for (let i = 0; i < 200; i++) {
    const res = await stack.app.inject({ method: 'GET', url: `/v1/approvals?status=${status}&limit=100`, headers: bearer(approver.key) });
    const found = (res.json().items as Approval[]).find((a) => a.taskId === taskId);
    if (found) return found;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`no ${status} approval for task ${taskId}`);
}

const decide = (key: string, id: string, verb: 'approve' | 'deny') =>
  stack.app.inject({ method: 'POST', url: `/v1/approvals/${id}/${verb}`, headers: bearer(key), payload: {} });

/** A running task (as the runner starts one) whose call `name(input)` is sent to the broker. */
async function waitingCall(
  name: string,
  input: Record<string, unknown>,
  who: { actingFor?: string; ownedBy?: string } = {},
): Promise<{ taskId: string; approval: Approval; call: () => ReturnType<typeof callBroker> }> {
  const taskId = randomUUID();
  await stack.deps.store.create({
    id: taskId, tenantId: 'acme', agentId: who.ownedBy ?? 'alice', status: 'running', runtime: 'javascript', createdAt: new Date().toISOString(),
    limits: { timeoutMs: 60_000, cpuMs: 60_000, memoryMb: 64, outputBytes: 1024 * 1024 }, metadata: {}, attempts: 1,
    capabilities: [name], principalKind: who.ownedBy ? 'user' : 'agent', ...(who.actingFor ? { actingFor: who.actingFor } : {}),
  });
  const token = (await issueBrokerToken(stack.deps.redis, taskId, 1))!;
  const call = () => callBroker(stack, token, { taskId, attempt: 1, seq: 0, name, input, approvalWaitMs: 0 });
  const first = await call();
  assert.equal(!first.body.ok && first.body.error.code, 'approval_pending', JSON.stringify(first.body));
  return { taskId, approval: await approvalOf(taskId), call };
}

before(async () => {
  redis = new Redis(REDIS_URL);
  target = await startTargetFixture(SECRETS);
  stack = await startStack({
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
  for (const name of ['payments.refund', 'payments.payout']) {
    await putCapability(stack, ADMIN_KEY, name, {
      description: 'Moves money (cannot be undone)',
      input: { type: 'object', properties: { order: { type: 'string' }, amount: { type: 'integer' } }, required: ['order', 'amount'], additionalProperties: false },
      risk: 'irreversible',
      implementation: { type: 'http', method: 'POST', url: `${target.base}/refunds/{input.order}`, body: { amount: '{input.amount}' }, credential: 'payments' },
    });
  }
  approver = await createPrincipalWithKey(stack, ADMIN_KEY, 'user', { roles: ['approver'] });
  self = await createPrincipalWithKey(stack, ADMIN_KEY, 'user', { roles: ['approver', 'member'] });
});

after(async () => {
  await resetPolicies(stack, ADMIN_KEY);
  await stack.close();
  await target.close();
  redis.disconnect();
});

describe('a policy caps the approval deadline', () => {
  before(async () => {
    await activatePolicies(stack, ADMIN_KEY, INVOKE);
    await new Promise((r) => setTimeout(r, 1100)); // the broker's policy cache
  });

  test('@approvalTimeoutMs caps the requests of the policy that asked; another capability keeps APPROVAL_TIMEOUT_MS', { timeout: 60_000 }, async () => {
    const capped = await waitingCall('payments.refund', { order: `q-${randomUUID()}`, amount: 1 });
    assert.equal(Date.parse(capped.approval.deadline) - Date.parse(capped.approval.createdAt), 3000);
    assert.deepEqual(capped.approval.policyIds.toSorted(), ['irreversible-needs-approval', 'refunds-quick-decision']);
    const other = await waitingCall('payments.payout', { order: `p-${randomUUID()}`, amount: 1 });
    assert.equal(Date.parse(other.approval.deadline) - Date.parse(other.approval.createdAt), 10 * 60 * 1000, 'the default');
    assert.deepEqual(other.approval.policyIds, ['irreversible-needs-approval']);
  });

  test('a task (timeoutMs 2000) waiting past the policy deadline gets approval_expired, not a timeout', { timeout: 60_000 }, async () => {
    const order = `t-${randomUUID()}`;
    const res = await stack.app.inject({
      method: 'POST',
      url: '/v1/tasks',
      headers: stack.headers('alice'),
      payload: {
        runtime: 'javascript',
        code: `let out = 'ran'; try { await caps.payments.refund({ order: '${order}', amount: 2 }); } catch (e) { out = e.code; } out`,
        capabilities: ['payments.refund'],
        timeoutMs: 2000,
      },
    });
    assert.equal(res.statusCode, 201, res.body);
    const id = res.json().id as string;
    const pending = await approvalOf(id);
    assert.equal(Date.parse(pending.deadline) - Date.parse(pending.createdAt), 3000);
    const task = await pollTask(stack, id, (t) => TERMINAL.has(t.status), 'alice', 30_000);
    assert.equal(task.status, 'succeeded', JSON.stringify(task));
    assert.equal((task['result'] as { value: unknown }).value, 'approval_expired');
    assert.equal(target.refunds.filter((r) => r.order === order).length, 0);
  });

  test('a bad @approvalTimeoutMs is refused when the set is validated, naming the policy', async () => {
    for (const value of ['soon', '0', '-5', '1.5', '99999999999']) {
      const res = await stack.app.inject({
        method: 'POST',
        url: '/v1/admin/policies/validate',
        headers: adminHeaders(ADMIN_KEY),
        payload: { text: `@id("bad-timeout") @approvalTimeoutMs("${value}") permit (principal, action == Airlock::Action::"capabilities.requireApproval", resource);` },
      });
      assert.equal(res.statusCode, 422, `${value}: ${res.body}`);
      assert.equal(res.json().code, 'invalid_policy');
      assert.match(res.body, /bad-timeout/);
      assert.match(res.body, /approvalTimeoutMs/);
    }
  });
});

describe('self-approval', () => {
  test('by default neither the user a task acts for nor the user who created it may approve or deny', { timeout: 60_000 }, async () => {
    await activatePolicies(stack, ADMIN_KEY, INVOKE);
    for (const who of [{ actingFor: self.id }, { ownedBy: self.id }]) {
      const w = await waitingCall('payments.payout', { order: `s-${randomUUID()}`, amount: 3 }, who);
      for (const verb of ['approve', 'deny'] as const) {
        const res = await decide(self.key, w.approval.id, verb);
        assert.equal(res.statusCode, 403, `${JSON.stringify(who)} ${verb}: ${res.body}`);
        assert.match(res.json().detail, /self-approval/);
      }
      // Another approver may.
      assert.equal((await decide(approver.key, w.approval.id, 'deny')).statusCode, 200);
    }
  });

  test('a policy may allow it, exactly as far as it says: deny always, approve only small amounts', { timeout: 60_000 }, async () => {
    await activatePolicies(
      stack,
      ADMIN_KEY,
      `${INVOKE}
      @id("self-deny") permit (principal, action == Airlock::Action::"approvals.selfApprove", resource) when { context.decision == "deny" };
      @id("self-approve-small") permit (principal, action == Airlock::Action::"approvals.selfApprove", resource)
        when { resource.numbers.hasTag("amount") && resource.numbers.getTag("amount") <= 10 };`,
    );
    await new Promise((r) => setTimeout(r, 1100));
    const big = await waitingCall('payments.payout', { order: `b-${randomUUID()}`, amount: 50 }, { actingFor: self.id });
    assert.equal((await decide(self.key, big.approval.id, 'approve')).statusCode, 403, 'approve 50: not permitted');
    const denied = await decide(self.key, big.approval.id, 'deny');
    assert.equal(denied.statusCode, 200, denied.body);
    assert.equal(denied.json().decidedBy, self.id);

    const order = `m-${randomUUID()}`;
    const small = await waitingCall('payments.payout', { order, amount: 5 }, { actingFor: self.id });
    const approved = await decide(self.key, small.approval.id, 'approve');
    assert.equal(approved.statusCode, 200, approved.body);
    const ran = await small.call();
    assert.ok(ran.body.ok, JSON.stringify(ran.body));
    assert.equal(target.refunds.filter((r) => r.order === order).length, 1);

    // Each self-approval question is an audited decision naming the policy that allowed it.
    const decisions = (await auditDrafts(redis)).filter(
      (e) => e.action === 'authz.decision' && JSON.stringify(e).includes('approvals.selfApprove') && JSON.stringify(e).includes(small.approval.capability),
    );
    assert.ok(decisions.some((e) => JSON.stringify(e).includes('self-approve-small')), JSON.stringify(decisions.slice(-3)));
    assert.ok(decisions.some((e) => e.outcome === 'denied'), 'the refused approve of 50 is recorded too');
  });
});
