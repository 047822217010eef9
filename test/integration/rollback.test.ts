/**
 * Rollback end to end through real parts: tasks POSTed to the real harness app, run by a real
 * in-process runner (isolate hosts), their capability calls sent to the real broker on its
 * loopback listener; the target is a REAL loopback HTTP server (test/helpers/target-fixture.ts:
 * `/steps/:name` does a step, `/undo/:id` undoes it and can be told to fail or hang); the
 * compensations run in the real rollback worker (BullMQ on a real Redis) through the broker's
 * stages and execute path; the trace is sealed by the real sealer process. Nothing is mocked.
 * Covered: compensations run newest call first after a failure, a timeout and a cancel (also
 * while the task waits for an approval: the brake); a failing compensation is retried with the
 * same Idempotency-Key and then left `failed` and visible, and the rollback goes on; the
 * compensating capability's rate limit applies; a call in flight when the task ended is shown
 * `capability_uncertain`, never run; a compensation that policy denies is `failed` with the
 * reason, one that policy says needs approval waits for an approver (approve → runs, deny →
 * failed); a template cannot forward a credential the target echoed; a harness restart in the
 * middle (the in-process rollback worker killed while a compensation hangs; the SIGKILLed process
 * case is rollback-harness-kill.test.ts) and a task that ended while no harness ran still get
 * their compensations; every step is in the task's sealed trace (GET /v1/tasks/:id/trace).
 */
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { Compensation } from '../../protocol/compensation.ts';
import type { SealedEntry } from '../../protocol/audit/entry.ts';
import { startRollback } from '../../harness/rollback/start-rollback.ts';
import { activatePolicies, adminHeaders, auditText, permitInvoke, putCapability, putCredential, resetPolicies } from '../helpers/capabilities.ts';
import { auditFixture, startSealerProcess, waitFor, type SealerProcess } from '../helpers/audit.ts';
import { pollTask, startStack, TERMINAL, type Stack } from '../helpers/stack.ts';
import { startTargetFixture, type TargetFixture } from '../helpers/target-fixture.ts';
import { bearer, createPrincipalWithKey } from '../helpers/identity.ts';
import type { Approval } from '../../protocol/approval.ts';

const ADMIN_KEY = `admin-${randomUUID()}`;
const MAX_ATTEMPTS = 3;
/** Named per run: its rate-limit counter (a minute long, in Redis) is then this run's own. */
const LIMITED_UNDO = `steps.undo_l${randomBytes(4).toString('hex')}`;
const TICKETS_SECRET = `tk_${randomBytes(16).toString('hex')}`;

let target: TargetFixture;
let stack: Stack;
let sealer: SealerProcess;

type TaskView = Record<string, unknown> & { status: string; compensations?: Compensation[] };

const obj = (properties: Record<string, unknown>, required: string[]) => ({ type: 'object', properties, required, additionalProperties: false });

async function defineCapabilities(): Promise<void> {
  const step = (compensation: string) => ({
    description: 'Does a step',
    input: obj({ name: { type: 'string' } }, ['name']),
    risk: 'write',
    implementation: { type: 'http', method: 'POST', url: `${target.base}/steps/{input.name}` },
    compensation: { capability: compensation, input: { id: '{output.id}', why: 'undo {input.name}' } },
  });
  await putCapability(stack, ADMIN_KEY, 'steps.do', step('steps.undo'));
  await putCapability(stack, ADMIN_KEY, 'steps.locked', step('steps.forbidden'));
  const undo = {
    description: 'Undoes a step',
    input: obj({ id: { type: 'string' }, why: { type: 'string' } }, ['id']),
    risk: 'write',
    implementation: { type: 'http', method: 'POST', url: `${target.base}/undo/{input.id}`, body: { why: '{input.why}' } },
  };
  await putCapability(stack, ADMIN_KEY, 'steps.undo', undo);
  await putCapability(stack, ADMIN_KEY, 'steps.forbidden', undo);
  // Undone by an irreversible capability: the shipped policy asks a human before it runs.
  await putCapability(stack, ADMIN_KEY, 'steps.careful', step('steps.undo_careful'));
  await putCapability(stack, ADMIN_KEY, 'steps.undo_careful', { ...undo, risk: 'irreversible' });
  // Undone by a capability with a per-agent rate limit of 1 call a minute.
  await putCapability(stack, ADMIN_KEY, 'steps.limited', step(LIMITED_UNDO));
  await putCapability(stack, ADMIN_KEY, LIMITED_UNDO, { ...undo, rateLimit: { perMinute: 1 } });
  // Never answers (the fixture's /hang): a call of it is in flight when the task is cancelled.
  await putCapability(stack, ADMIN_KEY, 'steps.slow', { ...step('steps.undo'), implementation: { type: 'http', method: 'POST', url: `${target.base}/hang?id={input.name}` } });
  await putCapability(stack, ADMIN_KEY, 'steps.final', {
    description: 'Cannot be undone (needs approval)',
    input: obj({ name: { type: 'string' } }, ['name']),
    risk: 'irreversible',
    implementation: { type: 'http', method: 'POST', url: `${target.base}/steps/{input.name}` },
  });
  // steps.forbidden may be defined but not invoked: its compensations are denied by policy.
  await activatePolicies(stack, ADMIN_KEY, permitInvoke('rollback-caps', ['steps.do', 'steps.locked', 'steps.undo', 'steps.final', 'steps.careful', 'steps.undo_careful', 'steps.slow', 'steps.limited', LIMITED_UNDO]));
  await new Promise((r) => setTimeout(r, 1100)); // the broker's policy cache
}

async function submit(code: string, extra: Record<string, unknown> = {}): Promise<string> {
  const res = await stack.app.inject({
    method: 'POST',
    url: '/v1/tasks',
    headers: stack.headers('alice'),
    payload: { runtime: 'javascript', code, capabilities: ['steps.do', 'steps.locked', 'steps.final', 'steps.careful', 'steps.slow', 'steps.limited'], timeoutMs: 60_000, ...extra },
  });
  assert.equal(res.statusCode, 201, res.body);
  return res.json().id as string;
}

/** Code doing the steps `names` (tagged), then `tail`. */
const stepsThen = (tag: string, names: readonly string[], tail: string, capability = 'steps.do') =>
  `${names.map((n) => `await caps.${capability.replace('steps.', 'steps.')}({ name: '${tag}-${n}' });`).join('\n')}\n${tail}`;

/**
 * Call `seq` of the task settled: its answer recorded. The target notes a step before it answers,
 * so a cancel sent when the target has seen the step alone may find the call still in flight
 * (and then rightly leaves it `capability_uncertain`, not undone).
 */
const callSettled = (id: string, seq: number) =>
  waitFor(async () => (await stack.brokerParts!.deps.records.get(id, seq))?.state === 'settled', `call #${seq} of ${id} settled`);

const ended = (id: string) => pollTask(stack, id, (t) => TERMINAL.has(t.status), 'alice', 60_000) as Promise<TaskView>;
const settled = (id: string, count: number) =>
  pollTask(stack, id, (t) => {
    const c = (t as TaskView).compensations;
    return c?.length === count && c.every((x) => x.status !== 'pending');
  }, 'alice', 60_000) as Promise<TaskView>;
const redisOf = (s: Stack) => s.deps.redis;
const undoneOf = (tag: string) => target.undone.filter((id) => id.startsWith(`st_${tag}-`));

before(async () => {
  target = await startTargetFixture({ tickets: TICKETS_SECRET, payments: 'p', basic: 'u:p' });
  const fx = await auditFixture();
  sealer = await startSealerProcess(fx);
  stack = await startStack({
    broker: { breakers: { threshold: 1000 } },
    harnessEnv: {
      AIRLOCK_ADMIN_API_KEY: ADMIN_KEY,
      AIRLOCK_ADMIN_TENANT: 'acme',
      AIRLOCK_VAULT_KEY: randomBytes(32).toString('base64'),
      CAPABILITY_PRIVATE_TARGETS: `127.0.0.1:${target.port}`,
      AUDIT_DIR: fx.dir,
      APPROVAL_POLL_MS: '1000',
      ROLLBACK_MAX_ATTEMPTS: String(MAX_ATTEMPTS),
      ROLLBACK_BACKOFF_MS: '100',
      ROLLBACK_POLL_MS: '200',
    },
  });
  await defineCapabilities();
});

after(async () => {
  await resetPolicies(stack, ADMIN_KEY);
  await stack.close();
  await sealer.stop();
  await target.close();
});

describe('rollback', () => {
  test('after a failure: compensations run newest call first, with inputs mapped from each call; all in the trace', { timeout: 90_000 }, async () => {
    const tag = randomUUID();
    const id = await submit(stepsThen(tag, ['a', 'b', 'c'], "throw new Error('boom')"));
    assert.equal((await ended(id)).status, 'failed');
    const task = await settled(id, 3);
    assert.deepEqual(
      task.compensations!.map((c) => [c.call, c.of, c.capability, c.status, c.attempts]),
      [[2, 'steps.do', 'steps.undo', 'done', 1], [1, 'steps.do', 'steps.undo', 'done', 1], [0, 'steps.do', 'steps.undo', 'done', 1]],
    );
    assert.deepEqual(undoneOf(tag), [`st_${tag}-c`, `st_${tag}-b`, `st_${tag}-a`], 'the target saw the undos in reverse order');
    const tries = target.undoTries.filter((t) => t.id.startsWith(`st_${tag}-`));
    assert.deepEqual(tries.map((t) => t.why), [`undo ${tag}-c`, `undo ${tag}-b`, `undo ${tag}-a`], 'input mapped from the call input');
    assert.ok(tries.every((t) => t.key?.includes(':compensation:steps.undo:')), 'each carries its compensation key');

    // The trace: sealed, from the harness app.
    const trace = await waitFor(async () => {
      const res = await stack.app.inject({ method: 'GET', url: `/v1/tasks/${id}/trace`, headers: stack.headers('alice', null) });
      const entries = res.statusCode === 200 ? (res.json().entries as SealedEntry[]) : [];
      return entries.some((e) => e.action === 'task.rollback.finished') ? entries : null;
    }, 'the rollback in the sealed trace', 30_000);
    const actions = trace.map((e) => e.action).filter((a) => !a.startsWith('task.created') && a !== 'task.started');
    assert.deepEqual(actions, [
      'capability.call.started', 'capability.call', 'capability.call.started', 'capability.call', 'capability.call.started', 'capability.call',
      'task.failed',
      'task.rollback.started',
      'capability.compensation.started', 'capability.compensation',
      'capability.compensation.started', 'capability.compensation',
      'capability.compensation.started', 'capability.compensation',
      'task.rollback.finished',
    ]);
    const outcomes = trace.filter((e) => e.action === 'capability.compensation');
    assert.deepEqual(outcomes.map((e) => (e.details as { compensates: { seq: number } }).compensates.seq), [2, 1, 0]);
    assert.ok(outcomes.every((e) => e.outcome === 'success' && e.decision?.allowed === true && e.agentId === 'alice'));
    assert.equal(trace.at(-1)!.outcome, 'success');
  });

  test('after a timeout: the calls made before it are undone in reverse order', { timeout: 90_000 }, async () => {
    const tag = randomUUID();
    const id = await submit(stepsThen(tag, ['a', 'b'], 'while (true) {}'), { timeoutMs: 3000 });
    assert.equal((await ended(id)).status, 'timed_out');
    const task = await settled(id, 2);
    assert.deepEqual(task.compensations!.map((c) => [c.call, c.status]), [[1, 'done'], [0, 'done']]);
    assert.deepEqual(undoneOf(tag), [`st_${tag}-b`, `st_${tag}-a`]);
  });

  test('the brake: DELETE while the task waits for an approval cancels it, cancels the request and rolls back', { timeout: 90_000 }, async () => {
    const tag = randomUUID();
    const id = await submit(stepsThen(tag, ['a', 'b'], `await caps.steps.final({ name: '${tag}-final' });`));
    const waiting = await pollTask(stack, id, (t) => t.status === 'waiting_approval' || TERMINAL.has(t.status));
    assert.equal(waiting.status, 'waiting_approval', JSON.stringify(waiting));
    const del = await stack.app.inject({ method: 'DELETE', url: `/v1/tasks/${id}`, headers: stack.headers('alice', null) });
    assert.equal(del.statusCode, 200, del.body);
    assert.equal(del.json().status, 'cancelled');
    const requests = await stack.app.inject({ method: 'GET', url: '/v1/approvals?status=cancelled&limit=100', headers: adminHeaders(ADMIN_KEY) });
    assert.ok((requests.json().items as { taskId: string }[]).some((a) => a.taskId === id), 'its pending request is cancelled');
    const task = await settled(id, 2);
    assert.deepEqual(task.compensations!.map((c) => [c.call, c.status]), [[1, 'done'], [0, 'done']]);
    assert.deepEqual(undoneOf(tag), [`st_${tag}-b`, `st_${tag}-a`]);
    assert.equal(target.steps.some((s) => s.name === `${tag}-final`), false, 'the unapproved call never ran');
  });

  test('after a cancel of a running task: rolled back too', { timeout: 90_000 }, async () => {
    const tag = randomUUID();
    const id = await submit(stepsThen(tag, ['a', 'b'], 'while (true) {}'));
    await callSettled(id, 1);
    const del = await stack.app.inject({ method: 'DELETE', url: `/v1/tasks/${id}`, headers: stack.headers('alice', null) });
    assert.equal(del.json().status, 'cancelled', del.body);
    await settled(id, 2);
    assert.deepEqual(undoneOf(tag), [`st_${tag}-b`, `st_${tag}-a`]);
  });

  test('a call in flight when the task is cancelled is not undone blindly: shown failed (capability_uncertain) for a human', { timeout: 90_000 }, async () => {
    const tag = randomUUID();
    const id = await submit(`${stepsThen(tag, ['a'], '')}\nawait caps.steps.slow({ name: '${tag}-slow' });`);
    await waitFor(() => target.seen.some((r) => r.url === `/hang?id=${tag}-slow`), 'the call reaching the target');
    const del = await stack.app.inject({ method: 'DELETE', url: `/v1/tasks/${id}`, headers: stack.headers('alice', null) });
    assert.equal(del.json().status, 'cancelled', del.body);
    const task = await settled(id, 2);
    const [slow, a] = task.compensations!;
    assert.deepEqual([slow!.call, slow!.of, slow!.status, slow!.attempts, slow!.error?.code], [1, 'steps.slow', 'failed', 0, 'capability_uncertain']);
    assert.match(slow!.error!.message, /human/);
    assert.deepEqual([a!.call, a!.status], [0, 'done']);
    assert.deepEqual(undoneOf(tag), [`st_${tag}-a`], 'only the completed call was undone');
  });

  test('the kill switch: disabling an agent cancels its running task, and its calls are still undone', { timeout: 90_000 }, async () => {
    const agent = await createPrincipalWithKey(stack, ADMIN_KEY, 'agent');
    const tag = randomUUID();
    const res = await stack.app.inject({
      method: 'POST',
      url: '/v1/tasks',
      headers: { ...bearer(agent.key), 'idempotency-key': `"${randomUUID()}"` },
      payload: { runtime: 'javascript', code: stepsThen(tag, ['a', 'b'], 'while (true) {}'), capabilities: ['steps.do'], timeoutMs: 60_000 },
    });
    assert.equal(res.statusCode, 201, res.body);
    const id = res.json().id as string;
    await callSettled(id, 1);
    const disabled = await stack.app.inject({ method: 'POST', url: `/v1/admin/agents/${agent.id}/disable`, headers: adminHeaders(ADMIN_KEY) });
    assert.equal(disabled.statusCode, 200, disabled.body);
    assert.equal(disabled.json().cancelledTasks, 1);
    // (The disabled agent can no longer read its task: read the record.)
    const compensations = await waitFor(async () => {
      const c = (await stack.deps.store.get(id))?.compensations;
      return c?.length === 2 && c.every((x) => x.status !== 'pending') ? c : null;
    }, 'the rollback of the disabled agent\'s task', 30_000);
    assert.deepEqual(compensations.map((c) => [c.call, c.status]), [[1, 'done'], [0, 'done']]);
    assert.deepEqual(undoneOf(tag), [`st_${tag}-b`, `st_${tag}-a`]);
  });

  test('a failing compensation is retried (same key), then left failed and visible; the older ones still run', { timeout: 90_000 }, async () => {
    const tag = randomUUID();
    target.undoBehaviour.set(`st_${tag}-b`, Infinity);
    const id = await submit(stepsThen(tag, ['a', 'b'], "throw new Error('boom')"));
    const task = await settled(id, 2);
    const [b, a] = task.compensations!;
    assert.equal(b!.status, 'failed');
    assert.equal(b!.attempts, MAX_ATTEMPTS);
    assert.equal(b!.error?.code, 'capability_failed');
    assert.match(b!.error?.message ?? '', /503/);
    assert.equal(a!.status, 'done');
    const tries = target.undoTries.filter((t) => t.id === `st_${tag}-b`);
    assert.equal(tries.length, MAX_ATTEMPTS, 'tried ROLLBACK_MAX_ATTEMPTS times');
    assert.equal(new Set(tries.map((t) => t.key)).size, 1, 'every try with the same Idempotency-Key');
    assert.deepEqual(undoneOf(tag), [`st_${tag}-a`]);
    // Still there later: never dropped.
    await new Promise((r) => setTimeout(r, 500));
    const again = (await stack.app.inject({ method: 'GET', url: `/v1/tasks/${id}`, headers: stack.headers('alice', null) })).json() as TaskView;
    assert.deepEqual(again.compensations, task.compensations);
  });

  test('compensations count against their capability\'s rate limit: over it, retried, then failed capability_rate_limited', { timeout: 90_000 }, async () => {
    const tag = randomUUID();
    const id = await submit(stepsThen(tag, ['a', 'b'], "throw new Error('boom')", 'steps.limited'));
    const task = await settled(id, 2);
    const [b, a] = task.compensations!;
    assert.deepEqual([b!.status, b!.attempts], ['done', 1], 'the first one within the limit');
    assert.deepEqual([a!.status, a!.attempts, a!.error?.code], ['failed', MAX_ATTEMPTS, 'capability_rate_limited']);
    assert.deepEqual(undoneOf(tag), [`st_${tag}-b`]);
  });

  test('a compensation that policy denies is failed with the reason, not retried', { timeout: 90_000 }, async () => {
    const tag = randomUUID();
    const id = await submit(`${stepsThen(tag, ['a'], '')}\n${stepsThen(tag, ['locked'], "throw new Error('boom')", 'steps.locked')}`);
    const task = await settled(id, 2);
    const [locked, a] = task.compensations!;
    assert.deepEqual([locked!.capability, locked!.status, locked!.attempts, locked!.error?.code], ['steps.forbidden', 'failed', 1, 'capability_denied']);
    assert.match(locked!.error?.message ?? '', /policy/);
    assert.equal(a!.status, 'done');
    assert.equal(target.undoTries.some((t) => t.id === `st_${tag}-locked`), false, 'the denied compensation never reached the target');
  });

  test('a compensation that policy says needs approval waits for a human after the task ended: approved → runs; denied → failed', { timeout: 90_000 }, async () => {
    const approver = await createPrincipalWithKey(stack, ADMIN_KEY, 'user', { roles: ['approver'] });
    const pendingOf = async (id: string) =>
      waitFor(async () => {
        const res = await stack.app.inject({ method: 'GET', url: '/v1/approvals?status=pending&limit=100', headers: bearer(approver.key) });
        return (res.json().items as Approval[]).find((a) => a.taskId === id);
      }, 'the compensation\'s approval request');
    const tags = [randomUUID(), randomUUID()];
    const ids = [
      await submit(stepsThen(tags[0]!, ['a'], "throw new Error('boom')", 'steps.careful')),
      await submit(stepsThen(tags[1]!, ['a'], "throw new Error('boom')", 'steps.careful')),
    ];
    const requests = [await pendingOf(ids[0]!), await pendingOf(ids[1]!)];
    for (const [i, r] of requests.entries()) {
      assert.equal(r.capability, 'steps.undo_careful');
      assert.deepEqual(r.compensates, { seq: 0, capability: 'steps.careful' });
      assert.deepEqual(r.input, { id: `st_${tags[i]}-a`, why: `undo ${tags[i]}-a` });
      assert.equal((await ended(ids[i]!)).status, 'failed');
    }
    // Still waiting a while later: the ended task does not cancel it, nothing ran.
    await new Promise((r) => setTimeout(r, 1500));
    const waiting = (await stack.app.inject({ method: 'GET', url: `/v1/tasks/${ids[0]}`, headers: stack.headers('alice', null) })).json() as TaskView;
    assert.equal(waiting.compensations![0]!.status, 'pending');
    assert.equal(waiting.compensations![0]!.attempts, 0, 'waiting for a human is not a try');
    assert.deepEqual(undoneOf(tags[0]!), []);
    const decide = (id: string, verb: string) =>
      stack.app.inject({ method: 'POST', url: `/v1/approvals/${id}/${verb}`, headers: bearer(approver.key), payload: { reason: 'checked' } });
    assert.equal((await decide(requests[0]!.id, 'approve')).statusCode, 200);
    assert.equal((await decide(requests[1]!.id, 'deny')).statusCode, 200);
    const [approved, denied] = [await settled(ids[0]!, 1), await settled(ids[1]!, 1)];
    assert.equal(approved.compensations![0]!.status, 'done');
    assert.deepEqual(undoneOf(tags[0]!), [`st_${tags[0]}-a`]);
    assert.equal(denied.compensations![0]!.status, 'failed');
    assert.equal(denied.compensations![0]!.error?.code, 'approval_denied');
    assert.deepEqual(undoneOf(tags[1]!), []);
  });

  test('a compensation template cannot carry a credential out: the output it maps from is the redacted one', { timeout: 90_000 }, async () => {
    const secret = TICKETS_SECRET;
    await putCredential(stack, ADMIN_KEY, 'tickets_rb', { type: 'bearer', value: secret });
    // The ticketing target echoes the credential back; the template tries to forward it.
    await putCapability(stack, ADMIN_KEY, 'steps.ticket', {
      description: 'Opens a ticket (the target echoes its credential)',
      input: obj({ title: { type: 'string' } }, ['title']),
      risk: 'write',
      implementation: { type: 'http', method: 'POST', url: `${target.base}/tickets`, body: 'input', credential: 'tickets_rb' },
      compensation: { capability: 'steps.undo', input: { id: 'leak-{input.title}', why: '{output.seenAuthorization}' } },
    });
    await activatePolicies(stack, ADMIN_KEY, permitInvoke('rollback-caps', ['steps.do', 'steps.locked', 'steps.undo', 'steps.final', 'steps.careful', 'steps.undo_careful', 'steps.slow', 'steps.limited', LIMITED_UNDO, 'steps.ticket']));
    await new Promise((r) => setTimeout(r, 1100));
    const tag = randomUUID();
    const res = await stack.app.inject({
      method: 'POST',
      url: '/v1/tasks',
      headers: stack.headers('alice'),
      payload: { runtime: 'javascript', code: `await caps.steps.ticket({ title: '${tag}' }); throw new Error('boom')`, capabilities: ['steps.ticket'], timeoutMs: 60_000 },
    });
    assert.equal(res.statusCode, 201, res.body);
    const task = await settled(res.json().id as string, 1);
    assert.equal(task.compensations![0]!.status, 'done');
    const tries = target.undoTries.filter((t) => t.id === `leak-${tag}`);
    assert.equal(tries.length, 1);
    assert.equal(tries[0]!.why, 'Bearer [REDACTED]');
    assert.equal(JSON.stringify(target.undoTries).includes(secret), false, 'the credential never reached the compensation');
    assert.equal((await auditText(redisOf(stack))).includes(secret), false, 'nor the audit log');
  });

  test('a harness restart in the middle: the rollback worker is killed while a compensation hangs; the next one completes it', { timeout: 90_000 }, async () => {
    const tag = randomUUID();
    target.undoBehaviour.set(`st_${tag}-b`, 'hang');
    const id = await submit(stepsThen(tag, ['a', 'b'], "throw new Error('boom')"));
    await waitFor(() => target.undoTries.some((t) => t.id === `st_${tag}-b`), 'the hanging undo');
    await stack.rollback!.service.kill();
    await stack.rollback!.close();
    const between = (await stack.app.inject({ method: 'GET', url: `/v1/tasks/${id}`, headers: stack.headers('alice', null) })).json() as TaskView;
    assert.deepEqual(between.compensations!.map((c) => c.status), ['pending', 'pending'], 'nothing done while no harness runs it');
    assert.deepEqual(undoneOf(tag), []);
    stack.rollback = await startRollback(stack.deps, stack.brokerParts!.deps);
    const task = await settled(id, 2);
    assert.deepEqual(task.compensations!.map((c) => [c.call, c.status]), [[1, 'done'], [0, 'done']]);
    assert.deepEqual(undoneOf(tag), [`st_${tag}-b`, `st_${tag}-a`]);
    const tries = target.undoTries.filter((t) => t.id === `st_${tag}-b`);
    assert.equal(tries.length, 2);
    assert.equal(tries[0]!.key, tries[1]!.key, 'the retry after the restart sends the same Idempotency-Key');
  });

  test('a task that ended while no harness ran its rollback is rolled back once one starts (the inbox)', { timeout: 90_000 }, async () => {
    const tag = randomUUID();
    await stack.rollback!.close();
    const id = await submit(stepsThen(tag, ['a', 'b'], "throw new Error('boom')"));
    assert.equal((await ended(id)).status, 'failed');
    await new Promise((r) => setTimeout(r, 500));
    const before = (await stack.app.inject({ method: 'GET', url: `/v1/tasks/${id}`, headers: stack.headers('alice', null) })).json() as TaskView;
    assert.equal(before.compensations, undefined, 'nobody planned it');
    stack.rollback = await startRollback(stack.deps, stack.brokerParts!.deps);
    await settled(id, 2);
    assert.deepEqual(undoneOf(tag), [`st_${tag}-b`, `st_${tag}-a`]);
  });

  test('a task that succeeded is not rolled back', { timeout: 90_000 }, async () => {
    const tag = randomUUID();
    const id = await submit(stepsThen(tag, ['a'], "'ok'"));
    assert.equal((await ended(id)).status, 'succeeded');
    await new Promise((r) => setTimeout(r, 800));
    const task = (await stack.app.inject({ method: 'GET', url: `/v1/tasks/${id}`, headers: stack.headers('alice', null) })).json() as TaskView;
    assert.equal(task.compensations, undefined);
    assert.deepEqual(undoneOf(tag), []);
  });
});

describe('PUT /v1/admin/capabilities: the compensation input template is checked', () => {
  const put = (compensation: unknown) =>
    stack.app.inject({
      method: 'PUT',
      url: `/v1/admin/capabilities/steps.bad_${randomBytes(4).toString('hex')}`,
      headers: adminHeaders(ADMIN_KEY),
      payload: {
        description: 'x',
        input: obj({ name: { type: 'string' } }, ['name']),
        risk: 'write',
        implementation: { type: 'http', method: 'POST', url: `${target.base}/steps/{input.name}` },
        compensation,
      },
    });

  test('placeholders other than {input.x} / {output.x}, or unclosed, are a 400 problem naming where', async () => {
    for (const [input, where] of [
      [{ id: '{result.id}' }, '/body/compensation/input/id'],
      [{ id: '{output.id' }, '/body/compensation/input/id'],
      [{ nested: ['{output.id}', '{input.}'] }, '/body/compensation/input/nested/1'],
      [{ id: 'a } b' }, '/body/compensation/input/id'],
    ] as const) {
      const res = await put({ capability: 'steps.undo', input });
      assert.equal(res.statusCode, 400, res.body);
      assert.equal(res.headers['content-type'], 'application/problem+json; charset=utf-8');
      assert.ok(JSON.stringify(res.json()).includes(where), `${JSON.stringify(input)}: ${res.body}`);
    }
  });

  test('well-formed templates are accepted, also naming a capability not defined yet', async () => {
    const ok = await put({ capability: 'steps.not_yet', input: { id: '{output.id}', note: 'undo {input.name} ({output.id})', n: 3 } });
    assert.ok(ok.statusCode === 201 || ok.statusCode === 200, ok.body);
    const none = await put({ capability: 'steps.undo' });
    assert.ok(none.statusCode === 201 || none.statusCode === 200, none.body);
  });
});
