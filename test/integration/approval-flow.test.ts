/**
 * Approvals end to end through real parts: tasks POSTed to the real harness app, run by a real
 * in-process runner (isolate hosts), their capability calls sent to the real broker on its
 * loopback listener, the target a REAL loopback payments fixture; approvers are real users of
 * the identity store deciding through the real API; Redis is real. Covered: an irreversible call
 * pauses the task (`waiting_approval`, events), an approver approves and the fixture sees the
 * call once (the runner resent it while it waited); deny → `approval_denied` caught by the code;
 * expiry → `approval_expired`; who may not decide (agent, task token, member, the user the task
 * acts for, another tenant's approver); deciding twice or after the deadline → 409; a decision
 * does not cover other arguments at the same position; cancel while waiting; the audit trail.
 */
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { issueBrokerToken } from '../../protocol/broker-token.ts';
import type { Approval } from '../../protocol/approval.ts';
import { activatePolicies, auditDrafts, callBroker, permitInvoke, putCapability, putCredential, resetPolicies } from '../helpers/capabilities.ts';
import { bearer, createPrincipalWithKey, createTenant, mintToken } from '../helpers/identity.ts';
import { AGENTS, pollTask, REDIS_URL, startStack, TERMINAL, type Stack } from '../helpers/stack.ts';
import { startTargetFixture, type TargetFixture } from '../helpers/target-fixture.ts';
import { dockerGate } from '../helpers/docker.ts';
import { redisKeys } from '../../protocol/redis-keys.ts';

const ADMIN_KEY = `admin-${randomUUID()}`;
const SECRETS = { tickets: `tk_${randomBytes(12).toString('hex')}`, payments: `pk_${randomBytes(12).toString('hex')}`, basic: 'u:p' };
const NOTE = `note-${randomUUID()}`;
const skipDocker = await dockerGate();

let redis: Redis;
let target: TargetFixture;

interface People {
  approver: { id: string; key: string };
  member: { id: string; key: string };
  /** An approver a task acts for: may not approve that task's calls. */
  actedFor: { id: string; key: string };
  /** An approver of another tenant. */
  foreign: { id: string; key: string };
}

async function setUp(stack: Stack): Promise<People> {
  await putCredential(stack, ADMIN_KEY, 'payments', { type: 'header', header: 'X-Api-Key', value: SECRETS.payments });
  const obj = (properties: Record<string, unknown>, required: string[]) => ({ type: 'object', properties, required, additionalProperties: false });
  await putCapability(stack, ADMIN_KEY, 'payments.refund', {
    description: 'Refunds an order (cannot be undone)',
    input: obj({ order: { type: 'string' }, amount: { type: 'integer' }, note: { type: 'string', 'x-airlock-redact': true } }, ['order', 'amount']),
    risk: 'irreversible',
    implementation: { type: 'http', method: 'POST', url: `${target.base}/refunds/{input.order}`, body: { amount: '{input.amount}' }, credential: 'payments' },
  });
  await activatePolicies(stack, ADMIN_KEY, `${permitInvoke('approvals-caps', ['payments.refund'])}
    @id("users-invoke") permit (principal is Airlock::User, action == Airlock::Action::"capabilities.invoke", resource == Airlock::Capability::"payments.refund");`);
  await new Promise((r) => setTimeout(r, 1100)); // the broker's policy cache
  const approver = await createPrincipalWithKey(stack, ADMIN_KEY, 'user', { roles: ['approver'] });
  const member = await createPrincipalWithKey(stack, ADMIN_KEY, 'user', { roles: ['member'] });
  const actedFor = await createPrincipalWithKey(stack, ADMIN_KEY, 'user', { roles: ['approver'] });
  const other = await createTenant(stack, ADMIN_KEY);
  const foreign = await createPrincipalWithKey(stack, other.adminKey, 'user', { roles: ['approver'] });
  return { approver, member, actedFor, foreign };
}

function harnessEnv(extra: Record<string, string> = {}): Record<string, string> {
  return {
    AIRLOCK_ADMIN_API_KEY: ADMIN_KEY,
    AIRLOCK_ADMIN_TENANT: 'acme',
    AIRLOCK_VAULT_KEY: randomBytes(32).toString('base64'),
    CAPABILITY_PRIVATE_TARGETS: `127.0.0.1:${target.port}`,
    // Held 1 s, then "still pending": the runner resends the call while it waits.
    APPROVAL_POLL_MS: '1000',
    ...extra,
  };
}

async function submit(stack: Stack, code: string): Promise<string> {
  const res = await stack.app.inject({
    method: 'POST',
    url: '/v1/tasks',
    headers: stack.headers('alice'),
    payload: { runtime: 'javascript', code, capabilities: ['payments.refund'], timeoutMs: 60_000 },
  });
  assert.equal(res.statusCode, 201, res.body);
  return res.json().id as string;
}

async function approvalOf(stack: Stack, key: string, taskId: string, status = 'pending'): Promise<Approval> {
  for (let i = 0; i < 200; i++) {
    const res = await stack.app.inject({ method: 'GET', url: `/v1/approvals?status=${status}&limit=100`, headers: bearer(key) });
    assert.equal(res.statusCode, 200, res.body);
    const found = (res.json().items as Approval[]).filter((a) => a.taskId === taskId);
    if (found.length > 1) assert.fail(`task ${taskId} has ${found.length} ${status} requests`);
    if (found[0]) return found[0];
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`no ${status} approval for task ${taskId}`);
}

const decide = (stack: Stack, key: string, id: string, verb: 'approve' | 'deny', body: Record<string, unknown> = {}, idem?: string) =>
  stack.app.inject({
    method: 'POST',
    url: `/v1/approvals/${id}/${verb}`,
    headers: { ...bearer(key), ...(idem ? { 'idempotency-key': `"${idem}"` } : {}) },
    payload: body,
  });

const ended = (stack: Stack, id: string) => pollTask(stack, id, (t) => TERMINAL.has(t.status), 'alice', 60_000);
const refundsOf = (order: string) => target.refunds.filter((r) => r.order === order).length;

after(() => redis?.disconnect());

describe('approvals with a real runner', () => {
  let stack: Stack;
  let people: People;
  before(async () => {
    redis = new Redis(REDIS_URL);
    target = await startTargetFixture(SECRETS);
    stack = await startStack({ broker: true, harnessEnv: harnessEnv() });
    people = await setUp(stack);
  });
  after(async () => {
    await resetPolicies(stack, ADMIN_KEY);
    await stack.close();
  });

  test('an irreversible call pauses the task; an approver approves; the fixture sees the call once', { timeout: 90_000 }, async () => {
    const order = `o-${randomUUID()}`;
    const id = await submit(stack, `const r = await caps.payments.refund({ order: '${order}', amount: 7, note: '${NOTE}' }); r`);
    const waiting = await pollTask(stack, id, (t) => t.status === 'waiting_approval' || TERMINAL.has(t.status));
    assert.equal(waiting.status, 'waiting_approval', JSON.stringify(waiting));
    const listed = await stack.app.inject({ method: 'GET', url: '/v1/tasks?status=waiting_approval&limit=100', headers: stack.headers('alice', null) });
    assert.ok((listed.json().items as { id: string }[]).some((t) => t.id === id), 'the list filter finds it');

    const pending = await approvalOf(stack, people.approver.key, id);
    assert.equal(pending.capability, 'payments.refund');
    assert.equal(pending.risk, 'irreversible');
    assert.equal(pending.agentId, 'alice');
    assert.deepEqual(pending.input, { order, amount: 7 }, 'the exact input, without the redacted field');
    assert.deepEqual(pending.redacted, ['note']);
    // (The code shows it, as the code was written: only the input is redacted.)
    assert.ok(!JSON.stringify({ ...pending, code: null }).includes(NOTE), 'the redacted value is nowhere else in the request');
    assert.deepEqual(pending.policyIds, ['irreversible-needs-approval']);
    assert.equal(pending.code, undefined, 'the list leaves the code out');
    assert.equal(pending.taskUrl, `/v1/tasks/${id}`);
    assert.ok(Date.parse(pending.deadline) - Date.parse(pending.createdAt) === 10 * 60 * 1000, 'default deadline: 10 min');
    const one = await stack.app.inject({ method: 'GET', url: `/v1/approvals/${pending.id}`, headers: bearer(people.approver.key) });
    assert.equal(one.statusCode, 200, one.body);
    assert.equal(one.json().id, pending.id);
    assert.match(one.json().code ?? '', /caps\.payments\.refund/, 'the task’s code');

    // The runner resends the waiting call (held 1 s each time): still one request, nothing ran.
    await new Promise((r) => setTimeout(r, 2500));
    assert.equal((await approvalOf(stack, people.approver.key, id)).id, pending.id);
    assert.equal(refundsOf(order), 0, 'nothing reached the target before the decision');

    const approved = await decide(stack, people.approver.key, pending.id, 'approve', { reason: 'ok by me' });
    assert.equal(approved.statusCode, 200, approved.body);
    assert.equal(approved.json().status, 'approved');
    assert.equal(approved.json().decidedBy, people.approver.id);

    const task = await ended(stack, id);
    assert.equal(task.status, 'succeeded', JSON.stringify(task));
    assert.deepEqual((task['result'] as { value: unknown }).value, { refunded: 7, order, refundId: `re_${target.refunds.length}` });
    assert.equal(refundsOf(order), 1, 'the fixture saw the call exactly once');

    // Deciding twice: 409 with the state it has.
    for (const verb of ['approve', 'deny'] as const) {
      const again = await decide(stack, people.approver.key, pending.id, verb);
      assert.equal(again.statusCode, 409, again.body);
      assert.equal(again.json().code, 'approval_not_pending');
      assert.equal(again.json().state, 'approved');
    }

    const events = (await stack.deps.store.readEvents(id, '-', 1000)).map((e) => e.event);
    const kinds = events.filter((e) => e.type !== 'output').map((e) => (e.type === 'status' ? e.status : e.type));
    assert.deepEqual(kinds, ['queued', 'running', 'approval_requested', 'waiting_approval', 'approval_decided', 'running', 'succeeded']);
    const trail = await auditDrafts(redis, id);
    const actions = trail.map((e) => e.action).filter((a) => a.startsWith('approval.') || a.startsWith('capability.'));
    assert.deepEqual(actions, ['approval.requested', 'approval.approved', 'capability.call.started', 'capability.call']);
    const call = trail.find((e) => e.action === 'capability.call');
    assert.equal((call?.details as { approvalId?: string }).approvalId, pending.id);
    assert.equal((call?.details as { approvedBy?: string }).approvedBy, people.approver.id);
    assert.equal(trail.find((e) => e.action === 'approval.approved')?.agentId, people.approver.id);
  });

  test('deny → the code catches approval_denied; the decision honours Idempotency-Key', { timeout: 90_000 }, async () => {
    const order = `d-${randomUUID()}`;
    const id = await submit(stack, `let out = 'ran'; try { await caps.payments.refund({ order: '${order}', amount: 3 }); } catch (e) { out = [e.code, e.message]; } out`);
    const pending = await approvalOf(stack, people.approver.key, id);
    const key = randomUUID();
    const denied = await decide(stack, people.approver.key, pending.id, 'deny', { reason: 'not this one' }, key);
    assert.equal(denied.statusCode, 200, denied.body);
    assert.equal(denied.json().status, 'denied');
    const replay = await decide(stack, people.approver.key, pending.id, 'deny', { reason: 'not this one' }, key);
    assert.equal(replay.statusCode, 200, replay.body);
    assert.equal(replay.headers['idempotent-replayed'], 'true');
    const task = await ended(stack, id);
    assert.equal(task.status, 'succeeded', JSON.stringify(task));
    const [code, message] = (task['result'] as { value: [string, string] }).value;
    assert.equal(code, 'approval_denied');
    assert.match(message, /not this one/);
    assert.equal(refundsOf(order), 0);
    const trail = (await auditDrafts(redis, id)).map((e) => e.action);
    assert.equal(trail.filter((a) => a === 'approval.denied').length, 1, 'the replay decided nothing');
  });

  test('who may not decide: the agent, its task token, a member, another tenant’s approver, the user a task acts for', { timeout: 90_000 }, async () => {
    // A task acting for an approver (RFC 8693), called the way its runner calls the broker.
    const taskId = randomUUID();
    await stack.deps.store.create({
      id: taskId, tenantId: 'acme', agentId: 'alice', status: 'running', runtime: 'javascript', createdAt: new Date().toISOString(),
      limits: { timeoutMs: 60_000, cpuMs: 60_000, memoryMb: 64, outputBytes: 1024 * 1024 }, metadata: { promptSnippet: 'refund the customer' }, attempts: 1,
      capabilities: ['payments.refund'], principalKind: 'agent', actingFor: people.actedFor.id,
    });
    const token = await issueBrokerToken(stack.deps.redis, taskId, 1);
    assert.ok(token);
    const order = `a-${randomUUID()}`;
    const call = () => callBroker(stack, token, { taskId, attempt: 1, seq: 0, name: 'payments.refund', input: { order, amount: 1 } });
    const first = await call();
    assert.equal(!first.body.ok && first.body.error.code, 'approval_pending');
    const pending = await approvalOf(stack, people.approver.key, taskId);
    assert.equal(pending.actingFor, people.actedFor.id);
    assert.equal(pending.promptSnippet, 'refund the customer');

    const agentToken = await mintToken(stack, AGENTS.alice.key);
    const refused: [string, string, number, string][] = [
      ['agent key', AGENTS.alice.key, 403, 'forbidden'],
      ['task token', agentToken, 403, 'forbidden'],
      ['member', people.member.key, 403, 'forbidden'],
      ['the user the task acts for', people.actedFor.key, 403, 'forbidden'],
      ['another tenant’s approver', people.foreign.key, 404, 'not_found'],
    ];
    for (const [who, key, status, code] of refused) {
      for (const verb of ['approve', 'deny'] as const) {
        const res = await decide(stack, key, pending.id, verb);
        assert.equal(res.statusCode, status, `${who} ${verb}: ${res.body}`);
        assert.equal(res.json().code, code, who);
      }
      if (who !== 'the user the task acts for') {
        const read = await stack.app.inject({ method: 'GET', url: `/v1/approvals/${pending.id}`, headers: bearer(key) });
        assert.equal(read.statusCode, status, `${who} read: ${read.body}`);
      }
    }
    const foreignList = await stack.app.inject({ method: 'GET', url: '/v1/approvals?status=pending&limit=100', headers: bearer(people.foreign.key) });
    assert.ok(!foreignList.body.includes(pending.id), 'another tenant does not list it');
    assert.equal((await stack.app.inject({ method: 'GET', url: `/v1/approvals/${pending.id}`, headers: bearer(people.approver.key) })).json().status, 'pending');

    // The admin of the tenant may; the call then runs once, and a resend is answered from its record.
    const ok = await decide(stack, ADMIN_KEY, pending.id, 'approve');
    assert.equal(ok.statusCode, 200, ok.body);
    const ran = await call();
    assert.ok(ran.body.ok, JSON.stringify(ran.body));
    const again = await call();
    assert.ok(again.body.ok && again.body.replayed, JSON.stringify(again.body));
    assert.equal(refundsOf(order), 1);
  });

  test('a decision cannot be replayed for other arguments: same position, other input → a new request', { timeout: 60_000 }, async () => {
    const taskId = randomUUID();
    await stack.deps.store.create({
      id: taskId, tenantId: 'acme', agentId: 'alice', status: 'running', runtime: 'javascript', createdAt: new Date().toISOString(),
      limits: { timeoutMs: 60_000, cpuMs: 60_000, memoryMb: 64, outputBytes: 1024 * 1024 }, metadata: {}, attempts: 1,
      capabilities: ['payments.refund'], principalKind: 'agent',
    });
    const token = (await issueBrokerToken(stack.deps.redis, taskId, 1))!;
    const order = `r-${randomUUID()}`;
    const call = (amount: number) => callBroker(stack, token, { taskId, attempt: 1, seq: 0, name: 'payments.refund', input: { order, amount } });
    assert.equal((await call(5)).body.ok, false);
    const small = await approvalOf(stack, people.approver.key, taskId);
    assert.equal((await decide(stack, people.approver.key, small.id, 'approve')).statusCode, 200);
    // The same call position with another amount is another call: not covered by the approval.
    const big = await call(5000);
    assert.equal(!big.body.ok && big.body.error.code, 'approval_pending');
    const second = await approvalOf(stack, people.approver.key, taskId);
    assert.notEqual(second.id, small.id);
    assert.deepEqual(second.input, { order, amount: 5000 });
    assert.notEqual(second.bindingSha256, small.bindingSha256);
    assert.equal(refundsOf(order), 0, 'nothing ran under the first approval for other arguments');
    // The approved arguments run, once.
    const ran = await call(5);
    assert.ok(ran.body.ok, JSON.stringify(ran.body));
    assert.deepEqual(target.refunds.filter((r) => r.order === order).map((r) => r.amount), [5]);
  });

  test('a retried attempt (its runner lost) making the same call waits on the same request; the call runs once', { timeout: 60_000 }, async () => {
    const taskId = randomUUID();
    await stack.deps.store.create({
      id: taskId, tenantId: 'acme', agentId: 'alice', status: 'running', runtime: 'javascript', createdAt: new Date().toISOString(),
      limits: { timeoutMs: 60_000, cpuMs: 60_000, memoryMb: 64, outputBytes: 1024 * 1024 }, metadata: {}, attempts: 1,
      capabilities: ['payments.refund'], principalKind: 'agent',
    });
    const order = `k-${randomUUID()}`;
    const input = { order, amount: 4 };
    const first = (await issueBrokerToken(stack.deps.redis, taskId, 1))!;
    assert.equal((await callBroker(stack, first, { taskId, attempt: 1, seq: 0, name: 'payments.refund', input })).body.ok, false);
    const pending = await approvalOf(stack, people.approver.key, taskId);
    // The runner is lost; the job is retried: attempt 2 with its own token, the same call.
    await stack.deps.redis.hset(redisKeys.task(taskId), 'attempts', '2');
    const second = (await issueBrokerToken(stack.deps.redis, taskId, 2))!;
    const call2 = () => callBroker(stack, second, { taskId, attempt: 2, seq: 0, name: 'payments.refund', input });
    const waiting = await call2();
    assert.equal(!waiting.body.ok && waiting.body.error.code, 'approval_pending');
    assert.equal((await approvalOf(stack, people.approver.key, taskId)).id, pending.id, 'the same request, not a second');
    assert.equal((await callBroker(stack, first, { taskId, attempt: 1, seq: 0, name: 'payments.refund', input })).status, 401, 'the lost attempt’s token is dead');
    // A decision while attempt 2's call is held wakes it (pub/sub), well before the hold ends.
    const held = call2();
    await new Promise((r) => setTimeout(r, 200));
    const startedAt = Date.now();
    assert.equal((await decide(stack, people.approver.key, pending.id, 'approve')).statusCode, 200);
    const ran = await held;
    assert.ok(ran.body.ok, JSON.stringify(ran.body));
    assert.ok(Date.now() - startedAt < 900, `woken by the decision, not by the end of the hold (${Date.now() - startedAt} ms)`);
    assert.equal(refundsOf(order), 1);
    const events = (await stack.deps.store.readEvents(taskId, '-', 100)).map((e) => e.event.type);
    assert.equal(events.filter((t) => t === 'approval_requested').length, 1);
  });

  test('racing decisions: of an approve and a deny sent at once, exactly one takes effect, the other is 409', { timeout: 60_000 }, async () => {
    const second = await createPrincipalWithKey(stack, ADMIN_KEY, 'user', { roles: ['approver'] });
    for (let round = 0; round < 10; round++) {
      const taskId = randomUUID();
      await stack.deps.store.create({
        id: taskId, tenantId: 'acme', agentId: 'alice', status: 'running', runtime: 'javascript', createdAt: new Date().toISOString(),
        limits: { timeoutMs: 60_000, cpuMs: 60_000, memoryMb: 64, outputBytes: 1024 * 1024 }, metadata: {}, attempts: 1,
        capabilities: ['payments.refund'], principalKind: 'agent',
      });
      const token = (await issueBrokerToken(stack.deps.redis, taskId, 1))!;
      const held = callBroker(stack, token, { taskId, attempt: 1, seq: 0, name: 'payments.refund', input: { order: `race-${round}`, amount: 1 } });
      const pending = await approvalOf(stack, people.approver.key, taskId);
      const [a, b] = await Promise.all([
        decide(stack, people.approver.key, pending.id, 'approve'),
        decide(stack, second.key, pending.id, 'deny'),
      ]);
      assert.deepEqual([a.statusCode, b.statusCode].toSorted(), [200, 409], `round ${round}: ${a.body} ${b.body}`);
      const winner = a.statusCode === 200 ? a.json() : b.json();
      const loser = a.statusCode === 200 ? b.json() : a.json();
      assert.equal(loser.state, winner.status, 'the 409 names the state the winner set');
      const final = (await stack.app.inject({ method: 'GET', url: `/v1/approvals/${pending.id}`, headers: bearer(people.approver.key) })).json();
      assert.equal(final.status, winner.status);
      assert.equal(final.decidedBy, winner.decidedBy);
      const answer = await held;
      assert.equal(answer.body.ok, winner.status === 'approved', JSON.stringify(answer.body));
      const decided = (await stack.deps.store.readEvents(taskId, '-', 100)).filter((e) => e.event.type === 'approval_decided');
      assert.equal(decided.length, 1, 'one decision event');
    }
  });

  test('cancel while waiting: the task is cancelled and its request becomes cancelled', { timeout: 90_000 }, async () => {
    const order = `c-${randomUUID()}`;
    const id = await submit(stack, `await caps.payments.refund({ order: '${order}', amount: 9 }); 'ran'`);
    const pending = await approvalOf(stack, people.approver.key, id);
    const cancel = await stack.app.inject({ method: 'DELETE', url: `/v1/tasks/${id}`, headers: stack.headers('alice', null) });
    assert.equal(cancel.statusCode, 200, cancel.body);
    assert.equal(cancel.json().status, 'cancelled');
    const read = await stack.app.inject({ method: 'GET', url: `/v1/approvals/${pending.id}`, headers: bearer(people.approver.key) });
    assert.equal(read.json().status, 'cancelled');
    const late = await decide(stack, people.approver.key, pending.id, 'approve');
    assert.equal(late.statusCode, 409, late.body);
    assert.equal(late.json().state, 'cancelled');
    assert.equal((await ended(stack, id)).status, 'cancelled');
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(refundsOf(order), 0);
  });
});

describe('approval deadlines', () => {
  let stack: Stack;
  let people: People;
  before(async () => {
    redis ??= new Redis(REDIS_URL);
    target ??= await startTargetFixture(SECRETS);
    stack = await startStack({ broker: true, harnessEnv: harnessEnv({ APPROVAL_TIMEOUT_MS: '600000', APPROVAL_MAX_TIMEOUT_MS: '2500' }) });
    people = await setUp(stack);
  });
  after(async () => {
    await resetPolicies(stack, ADMIN_KEY);
    await stack.close();
    await target.close();
  });

  test('nobody decides before the deadline (capped by APPROVAL_MAX_TIMEOUT_MS) → approval_expired; deciding after it → 409', { timeout: 90_000 }, async () => {
    const order = `e-${randomUUID()}`;
    const id = await submit(stack, `let out = 'ran'; try { await caps.payments.refund({ order: '${order}', amount: 2 }); } catch (e) { out = e.code; } out`);
    const pending = await approvalOf(stack, people.approver.key, id);
    assert.equal(Date.parse(pending.deadline) - Date.parse(pending.createdAt), 2500, 'the cap applies');
    const task = await ended(stack, id);
    assert.equal(task.status, 'succeeded', JSON.stringify(task));
    assert.equal((task['result'] as { value: unknown }).value, 'approval_expired');
    const late = await decide(stack, people.approver.key, pending.id, 'approve');
    assert.equal(late.statusCode, 409, late.body);
    assert.equal(late.json().state, 'expired');
    assert.equal(refundsOf(order), 0);
    const expired = await approvalOf(stack, people.approver.key, id, 'expired');
    assert.equal(expired.id, pending.id);
  });

  test('a request past its deadline that nobody read is expired on read (list and approve)', { timeout: 60_000 }, async () => {
    const taskId = randomUUID();
    await stack.deps.store.create({
      id: taskId, tenantId: 'acme', agentId: 'alice', status: 'running', runtime: 'javascript', createdAt: new Date().toISOString(),
      limits: { timeoutMs: 60_000, cpuMs: 60_000, memoryMb: 64, outputBytes: 1024 * 1024 }, metadata: {}, attempts: 1,
      capabilities: ['payments.refund'], principalKind: 'agent',
    });
    const token = (await issueBrokerToken(stack.deps.redis, taskId, 1))!;
    const order = `x-${randomUUID()}`;
    // Held 1 s of a 2.5 s deadline: answered "pending", and then nobody asks again.
    const first = await callBroker(stack, token, { taskId, attempt: 1, seq: 0, name: 'payments.refund', input: { order, amount: 1 } });
    assert.equal(!first.body.ok && first.body.error.code, 'approval_pending');
    const pending = await approvalOf(stack, people.approver.key, taskId);
    await new Promise((r) => setTimeout(r, Date.parse(pending.deadline) - Date.now() + 50));
    const late = await decide(stack, people.approver.key, pending.id, 'approve');
    assert.equal(late.statusCode, 409, late.body);
    assert.equal(late.json().state, 'expired');
    const again = await callBroker(stack, token, { taskId, attempt: 1, seq: 0, name: 'payments.refund', input: { order, amount: 1 } });
    assert.equal(!again.body.ok && again.body.error.code, 'approval_expired');
    assert.equal(refundsOf(order), 0);
  });
});

describe('a python container task waiting for approval', { skip: skipDocker }, () => {
  let stack: Stack;
  let people: People;
  before(async () => {
    redis ??= new Redis(REDIS_URL);
    target = await startTargetFixture(SECRETS);
    stack = await startStack({ broker: true, runnerEnv: { RUNNER_BACKENDS: 'docker', WARM_POOL_SIZE: '1' }, harnessEnv: harnessEnv() });
    people = await setUp(stack);
  });
  after(async () => {
    await resetPolicies(stack, ADMIN_KEY);
    await stack.close();
    await target.close();
  });

  test('`caps.payments.refund(...)` in Python waits (the container idle), is approved, and reaches the fixture once', { timeout: 120_000 }, async () => {
    const order = `py-${randomUUID()}`;
    const res = await stack.app.inject({
      method: 'POST',
      url: '/v1/tasks',
      headers: stack.headers('alice'),
      payload: {
        runtime: 'python',
        code: `import json\nfrom airlock import caps\nprint(json.dumps(caps.payments.refund(order="${order}", amount=6)))`,
        capabilities: ['payments.refund'],
        timeoutMs: 90_000,
      },
    });
    assert.equal(res.statusCode, 201, res.body);
    const id = res.json().id as string;
    const pending = await approvalOf(stack, people.approver.key, id);
    assert.equal((await pollTask(stack, id, (t) => t.status === 'waiting_approval', 'alice', 30_000)).status, 'waiting_approval');
    await new Promise((r) => setTimeout(r, 1500)); // resent at least once meanwhile
    assert.equal(refundsOf(order), 0);
    assert.equal((await decide(stack, people.approver.key, pending.id, 'approve')).statusCode, 200);
    const task = await ended(stack, id);
    assert.equal(task.status, 'succeeded', JSON.stringify(task));
    assert.equal((JSON.parse((task['result'] as { stdout: string }).stdout) as { order: string }).order, order);
    assert.equal(refundsOf(order), 1);
  });
});
