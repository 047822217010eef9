/**
 * The harness broker on its own loopback listener, called the way a runner calls it (a task
 * record running an attempt, and that attempt's broker token made by the protocol code the
 * runner uses), against a REAL loopback HTTP fixture playing a ticketing and a payments API.
 * Real Redis, real Cedar, real vault, real audit transport. Covered: every stage's refusal with
 * its stable code and its audit entry; credentials injected per type and redacted everywhere
 * (echoed back by the target too); exactly-once (replay, divergence, rerun with the key,
 * uncertain without); tokens of finished tasks, of other tasks and agents' API keys refused and
 * recorded; end-to-end SSRF refusals with loopback spellings the operator did not open;
 * timeouts, the circuit breaker, byte caps, rate limits and a call held for approval.
 */
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { CallRecords, callKey, callRecordsKey } from '../../harness/broker/call-records.ts';
import { AuditProducer } from '../../protocol/audit/producer.ts';
import {
  activatePolicies,
  auditDrafts,
  auditText,
  callBroker,
  permitInvoke,
  putCapability,
  putCredential,
  resetPolicies,
  runningTask,
} from '../helpers/capabilities.ts';
import { REDIS_URL, startStack, type Stack } from '../helpers/stack.ts';
import { startTargetFixture, type TargetFixture } from '../helpers/target-fixture.ts';
import { auditShard, auditStreamKey, redisKeys } from '../../protocol/redis-keys.ts';

const ADMIN_KEY = `admin-${randomUUID()}`;
const SECRETS = {
  tickets: `tk_${randomBytes(18).toString('base64url')}`,
  payments: `pk_${randomBytes(18).toString('hex')}`,
  basic: `svc:${randomBytes(12).toString('hex')}`,
};
let stack: Stack;
let target: TargetFixture;
/** A second target for the circuit-breaker test (circuits are per target: it opens this one's). */
let flaky: TargetFixture;
let redis: Redis;

/** Rate counters outlive a run (Redis): a name of this run's own. */
const LIMITED = `limited.r${randomUUID().slice(0, 8)}`;
const ALL = ['tickets.create', 'payments.refund', 'payments.refund_once', 'web.fetch', 'basic.check', 'slow.call', 'flaky.call', 'big.call', 'typed.call', LIMITED, 'danger.delete'];

before(async () => {
  redis = new Redis(REDIS_URL);
  target = await startTargetFixture(SECRETS);
  flaky = await startTargetFixture(SECRETS);
  stack = await startStack({
    runner: false,
    broker: { breakers: { threshold: 3, halfOpenAfterMs: 60_000 } },
    harnessEnv: {
      AIRLOCK_ADMIN_API_KEY: ADMIN_KEY,
      AIRLOCK_ADMIN_TENANT: 'acme',
      AIRLOCK_VAULT_KEY: randomBytes(32).toString('base64'),
      CAPABILITY_PRIVATE_TARGETS: `127.0.0.1:${target.port},127.0.0.1:${flaky.port}`,
      CAPABILITY_MAX_RESPONSE_BYTES: '65536',
      // A call waiting for approval is held this long, then answered approval_pending.
      APPROVAL_POLL_MS: '200',
    },
  });
  const base = target.base;
  await putCredential(stack, ADMIN_KEY, 'tickets', { type: 'bearer', value: SECRETS.tickets });
  await putCredential(stack, ADMIN_KEY, 'payments', { type: 'header', header: 'X-Api-Key', value: SECRETS.payments });
  await putCredential(stack, ADMIN_KEY, 'basic', { type: 'basic', value: SECRETS.basic });
  const obj = (properties: Record<string, unknown>, required: string[] = []) => ({ type: 'object', properties, required, additionalProperties: false });
  await putCapability(stack, ADMIN_KEY, 'tickets.create', {
    description: 'Opens a ticket',
    input: obj({ title: { type: 'string', maxLength: 200 }, note: { type: 'string', 'x-airlock-redact': true } }, ['title']),
    output: { type: 'object', required: ['id'] },
    risk: 'write',
    implementation: { type: 'http', method: 'POST', url: `${base}/tickets`, body: { title: '{input.title}' }, credential: 'tickets' },
  });
  const refund = (idempotencyHeader?: false) => ({
    description: 'Refunds an order',
    input: obj({ order: { type: 'string' }, amount: { type: 'integer', minimum: 1 } }, ['order', 'amount']),
    risk: 'write',
    implementation: {
      type: 'http', method: 'POST', url: `${base}/refunds/{input.order}`, body: { amount: '{input.amount}' }, credential: 'payments',
      ...(idempotencyHeader === false ? { idempotencyHeader } : {}),
    },
  });
  await putCapability(stack, ADMIN_KEY, 'payments.refund', refund());
  await putCapability(stack, ADMIN_KEY, 'payments.refund_once', refund(false));
  await putCapability(stack, ADMIN_KEY, 'web.fetch', {
    description: 'Fetches from the fixture',
    risk: 'read',
    timeoutMs: 3000,
    implementation: { type: 'http.request', allowedHosts: [`127.0.0.1:${target.port}`] },
  });
  await putCapability(stack, ADMIN_KEY, 'basic.check', {
    description: 'Basic auth', input: obj({ q: { type: 'string' } }), risk: 'read',
    implementation: { type: 'http', method: 'GET', url: `${base}/basic?q={input.q}`, credential: 'basic' },
  });
  await putCapability(stack, ADMIN_KEY, 'slow.call', {
    description: 'Never answers', input: obj({}), risk: 'read', timeoutMs: 300,
    implementation: { type: 'http', method: 'GET', url: `${base}/hang` },
  });
  await putCapability(stack, ADMIN_KEY, 'flaky.call', {
    description: 'Always 503', input: obj({}), risk: 'read',
    implementation: { type: 'http', method: 'GET', url: `${flaky.base}/fail` },
  });
  await putCapability(stack, ADMIN_KEY, 'big.call', {
    description: 'Oversize answers', input: obj({ bytes: { type: 'integer' } }), risk: 'read',
    implementation: { type: 'http', method: 'GET', url: `${base}/big?bytes={input.bytes}` },
  });
  await putCapability(stack, ADMIN_KEY, 'typed.call', {
    description: 'Output must be an object with n', input: obj({ name: { type: 'string' } }), output: { type: 'object', required: ['n'] }, risk: 'read',
    implementation: { type: 'http', method: 'GET', url: `${base}/text?name={input.name}` },
  });
  await putCapability(stack, ADMIN_KEY, LIMITED, {
    description: 'Two per minute', input: obj({ name: { type: 'string' } }), risk: 'read', rateLimit: { perMinute: 2 },
    implementation: { type: 'http', method: 'GET', url: `${base}/text?name={input.name}` },
  });
  await putCapability(stack, ADMIN_KEY, 'danger.delete', {
    description: 'Irreversible', input: obj({}), risk: 'irreversible',
    implementation: { type: 'http', method: 'DELETE', url: `${base}/echo` },
  });
  await activatePolicies(
    stack,
    ADMIN_KEY,
    `${permitInvoke('test-caps', ALL)}
    @id("refund-limit") forbid (principal, action == Airlock::Action::"capabilities.invoke", resource)
      when { (resource == Airlock::Capability::"payments.refund" || resource == Airlock::Capability::"payments.refund_once")
        && resource.numbers.hasTag("amount") && resource.numbers.getTag("amount") > 1000 };
    @id("no-bob") forbid (principal == Airlock::Agent::"bob", action == Airlock::Action::"capabilities.invoke", resource);`,
  );
  // The broker's policy store reads a tenant's policies through a 1 s cache.
  await new Promise((r) => setTimeout(r, 1100));
});
after(async () => {
  await resetPolicies(stack, ADMIN_KEY);
  await stack.close();
  await target.close();
  await flaky.close();
  redis.disconnect();
});

let seq = 0;
const nextSeq = () => seq++;

async function call(name: string, input: unknown, task?: { id: string; token: string; attempt: number }) {
  const t = task ?? (await runningTask(stack, ALL));
  return callBroker(stack, t.token, { taskId: t.id, attempt: t.attempt, seq: nextSeq(), name, input });
}

describe('credentials', () => {
  test('a bearer credential reaches the target; its echo comes back [REDACTED]; the audit has neither', async () => {
    const t = await runningTask(stack, ALL);
    const res = await callBroker(stack, t.token, { taskId: t.id, attempt: 1, seq: 0, name: 'tickets.create', input: { title: 'Disk full', note: 'private note' } });
    assert.equal(res.status, 200);
    assert.equal(res.body.ok, true, JSON.stringify(res.body));
    const output = (res.body as { output: { id: number; title: string; seenAuthorization: string } }).output;
    assert.equal(output.title, 'Disk full');
    assert.equal(output.seenAuthorization, 'Bearer [REDACTED]');
    const seen = target.seen.at(-1)!;
    assert.equal(seen.headers.authorization, `Bearer ${SECRETS.tickets}`);
    assert.match(String(seen.headers['idempotency-key']), new RegExp(`^${t.id}:0:tickets\\.create:[0-9a-f]{64}$`));
    const entries = await auditDrafts(redis, t.id);
    const done = entries.find((e) => e.action === 'capability.call')!;
    assert.equal(done.outcome, 'success');
    assert.deepEqual(done.decision?.policyIds, ['test-caps']);
    const d = done.details as Record<string, unknown>;
    assert.deepEqual(d['input'], { title: 'Disk full' }, 'the x-airlock-redact field is left out');
    assert.equal(d['capability'], 'tickets.create');
    assert.match(String(d['inputSha256']), /^[0-9a-f]{64}$/);
    assert.match(String(d['resultSha256']), /^[0-9a-f]{64}$/);
    assert.equal(d['status'], 201);
    assert.equal(d['callKey'], callKey(t.id, 0, 'tickets.create', { title: 'Disk full', note: 'private note' }));
    assert.ok(entries.some((e) => e.action === 'capability.call.started'));
    assert.ok(!JSON.stringify(entries).includes('private note'));
  });

  test('header and basic credentials; every encoded form of the value is redacted from what comes back', async () => {
    const ok = await call('payments.refund', { order: 'o-1', amount: 5 });
    assert.equal(ok.body.ok, true, JSON.stringify(ok.body));
    assert.equal(target.seen.at(-1)!.headers['x-api-key'], SECRETS.payments);
    const basic = await call('basic.check', { q: 'x' });
    assert.equal(basic.body.ok, true, JSON.stringify(basic.body));
    assert.deepEqual((basic.body as { output: unknown }).output, { raw: 'Basic [REDACTED]', query: '?q=x' });
    // The http.request built-in has no credential here: the code cannot smuggle one in either.
    const echo = await call('web.fetch', { url: `${target.base}/echo?a=1`, method: 'POST', body: 'hello' });
    assert.equal(echo.body.ok, true);
    const refused = await call('web.fetch', { url: `${target.base}/echo`, headers: { Authorization: 'Bearer x' } });
    assert.equal(refused.body.ok, false);
    assert.equal(!refused.body.ok && refused.body.error.code, 'capability_invalid_input');
  });

  test('no credential value (or its base64) is anywhere on the audit streams or in the call records', async () => {
    const text = await auditText(redis);
    const records = JSON.stringify(await redis.keys('airlock:calls:*').then((keys) => Promise.all(keys.map((k) => redis.hgetall(k)))));
    for (const secret of Object.values(SECRETS)) {
      for (const form of [secret, Buffer.from(secret).toString('base64'), encodeURIComponent(secret)]) {
        assert.ok(!text.includes(form), `audit: ${form}`);
        assert.ok(!records.includes(form), `records: ${form}`);
      }
    }
  });
});

describe('policy and schema stages', () => {
  test('undeclared, invalid input, denied by policy (argument limit, agent), approval needed', async () => {
    const t = await runningTask(stack, ['tickets.create', 'payments.refund', 'danger.delete']);
    const at = (s: number, name: string, input: unknown) => callBroker(stack, t.token, { taskId: t.id, attempt: 1, seq: s, name, input });
    const code = (r: Awaited<ReturnType<typeof at>>) => (r.body.ok ? 'ok' : r.body.error.code);
    assert.equal(code(await at(0, 'web.fetch', { url: target.base })), 'capability_denied', 'not declared by this task');
    assert.equal(code(await at(1, 'tickets.create', { title: 5 })), 'capability_invalid_input');
    assert.equal(code(await at(2, 'tickets.create', { title: 'x', extra: 1 })), 'capability_invalid_input');
    const over = await at(3, 'payments.refund', { order: 'o-2', amount: 5000 });
    assert.equal(code(over), 'capability_denied');
    assert.match(!over.body.ok ? over.body.error.message : '', /refund-limit/);
    assert.equal(code(await at(4, 'payments.refund', { order: 'o-2', amount: 999 })), 'ok');
    // Needs a human (approval-flow.test.ts covers the flow): held, then "still pending", not run.
    const approval = await at(5, 'danger.delete', {});
    assert.equal(code(approval), 'approval_pending');
    const bob = await runningTask(stack, ['tickets.create'], { agent: 'bob' });
    const bobRes = await callBroker(stack, bob.token, { taskId: bob.id, attempt: 1, seq: 0, name: 'tickets.create', input: { title: 'x' } });
    assert.equal(!bobRes.body.ok && bobRes.body.error.code, 'capability_denied');
    const entries = await auditDrafts(redis, t.id);
    const denied = entries.filter((e) => e.action === 'capability.call' && e.outcome === 'denied');
    assert.equal(denied.length, 4, 'a call waiting for approval is not answered yet');
    assert.equal(entries.filter((e) => e.action === 'approval.requested').length, 1);
    assert.ok(denied.some((e) => e.decision?.policyIds.includes('refund-limit') && e.decision.allowed === false));
    assert.equal(target.refunds.filter((r) => r.order === 'o-2').length, 1, 'only the allowed refund ran');
  });

  test('output schema, timeout, oversize answer, rate limit', async () => {
    const typed = await call('typed.call', { name: 'n' });
    assert.equal(!typed.body.ok && typed.body.error.code, 'capability_failed');
    assert.match(!typed.body.ok ? typed.body.error.message : '', /output schema/);
    const slow = await call('slow.call', {});
    assert.equal(!slow.body.ok && slow.body.error.code, 'capability_timeout');
    const big = await call('big.call', { bytes: 100_000 });
    assert.equal(!big.body.ok && big.body.error.code, 'capability_failed');
    assert.match(!big.body.ok ? big.body.error.message : '', /larger than 65536 bytes/);
    const t = await runningTask(stack, ALL);
    const codes = [];
    for (let i = 0; i < 3; i++) {
      const r = await callBroker(stack, t.token, { taskId: t.id, attempt: 1, seq: i, name: LIMITED, input: { name: String(i) } });
      codes.push(r.body.ok ? 'ok' : r.body.error.code);
    }
    assert.deepEqual(codes, ['ok', 'ok', 'capability_rate_limited']);
  });

  test('a target that keeps failing opens its circuit: calls are refused without reaching it', async () => {
    const before = flaky.seen.filter((s) => s.url === '/fail').length;
    const codes = [];
    for (let i = 0; i < 5; i++) {
      const r = await call('flaky.call', {});
      codes.push(r.body.ok ? 'ok' : r.body.error.code);
    }
    assert.deepEqual(codes.slice(0, 3), ['capability_failed', 'capability_failed', 'capability_failed']);
    assert.deepEqual(codes.slice(3), ['capability_unavailable', 'capability_unavailable']);
    assert.equal(flaky.seen.filter((s) => s.url === '/fail').length - before, 3);
    // Other targets are not affected.
    assert.equal((await call('typed.call', { name: 'x' })).body.ok ? 'ok' : 'refused-by-schema', 'refused-by-schema');
  });
});

describe('tokens', () => {
  test('a finished task, another task’s token, an old attempt’s token, an API key: 401, each recorded', async () => {
    const a = await runningTask(stack, ALL);
    const b = await runningTask(stack, ALL);
    const req = { taskId: a.id, attempt: 1, seq: 0, name: 'tickets.create', input: { title: 'x' } };
    assert.equal((await callBroker(stack, b.token, req)).status, 401, 'another task’s token');
    assert.equal((await callBroker(stack, a.token, { ...req, attempt: 2 })).status, 401, 'another attempt');
    assert.equal((await callBroker(stack, stack.headers('alice').authorization!.slice(7), req)).status, 401, 'an agent API key');
    await stack.deps.store.transition(a.id, 'succeeded', ['running'], { finishedAt: new Date().toISOString() });
    assert.equal((await callBroker(stack, a.token, req)).status, 401, 'the task finished');
    const refused = (await auditDrafts(redis, a.id)).filter((e) => e.action === 'capability.refused');
    assert.deepEqual(refused.map((e) => (e.details as { reason: string }).reason), ['wrong_token', 'wrong_attempt', 'malformed', 'not_live']);
    assert.ok(refused.every((e) => e.tenant === 'acme' && e.outcome === 'denied'));
    assert.ok(!(await auditText(redis)).includes(a.token), 'never the token itself');
    // The agent API is not the broker: an API key cannot reach it there either.
    const api = await stack.app.inject({ method: 'POST', url: '/v1/broker/calls', headers: stack.headers('alice'), payload: { version: 'v1', ...req } });
    assert.equal(api.statusCode, 404);
  });
});

describe('exactly once', () => {
  test('a call at a position already settled is answered from the record (replayed), not run again', async () => {
    const t = await runningTask(stack, ALL);
    const req = { taskId: t.id, attempt: 1, seq: 0, name: 'payments.refund', input: { order: `o-${t.id}`, amount: 7 } };
    const first = await callBroker(stack, t.token, req);
    assert.equal(first.body.ok, true, JSON.stringify(first.body));
    // The retried attempt: a new token, the same calls.
    await stack.deps.store.transition(t.id, 'running', ['running'], { attempts: 2 } as never);
    await redis.hset(redisKeys.task(t.id), 'attempts', '2');
    const { issueBrokerToken } = await import('../../protocol/broker-token.ts');
    const token2 = (await issueBrokerToken(redis, t.id, 2))!;
    const again = await callBroker(stack, token2, { ...req, attempt: 2 });
    assert.deepEqual(again.body, { ...first.body, replayed: true });
    assert.equal(target.refunds.filter((r) => r.order === `o-${t.id}`).length, 1);
    // A divergent retry (other input at that position) runs fresh and is flagged.
    const diverged = await callBroker(stack, token2, { ...req, attempt: 2, input: { order: `o-${t.id}`, amount: 8 } });
    assert.equal(diverged.body.ok, true);
    assert.equal(target.refunds.filter((r) => r.order === `o-${t.id}`).length, 2);
    const calls = (await auditDrafts(redis, t.id)).filter((e) => e.action === 'capability.call');
    assert.deepEqual(calls.map((e) => [(e.details as Record<string, unknown>)['replayed'] ?? false, (e.details as Record<string, unknown>)['diverged'] ?? false]), [
      [false, false],
      [true, false],
      [false, true],
    ]);
  });

  test('started and never settled: re-run with the same key when the target deduplicates, uncertain when it cannot', async () => {
    const records = new CallRecords(redis, 60_000);
    const producer = new AuditProducer({ redis });
    for (const [name, expected] of [['payments.refund', 'ok'], ['payments.refund_once', 'capability_uncertain']] as const) {
      const t = await runningTask(stack, ALL, { attempt: 2 });
      const input = { order: `u-${t.id}`, amount: 3 };
      const key = callKey(t.id, 0, name, input);
      // Attempt 1 (another runner, now dead) claimed the call, and the target performed it...
      await records.claim(t.id, 0, key, 1, true, producer.stamp({ tenant: 'acme', action: 'capability.call.started', outcome: 'success', taskId: t.id }));
      await fetch(`${target.base}/refunds/u-${t.id}`, {
        method: 'POST',
        headers: { 'x-api-key': SECRETS.payments, 'content-type': 'application/json', ...(name === 'payments.refund' ? { 'idempotency-key': key } : {}) },
        body: JSON.stringify({ amount: 3 }),
      });
      // ...but its answer was never recorded. Attempt 2 makes the same call:
      const res = await callBroker(stack, t.token, { taskId: t.id, attempt: 2, seq: 0, name, input });
      assert.equal(res.body.ok ? 'ok' : res.body.error.code, expected, JSON.stringify(res.body));
      assert.equal(target.refunds.filter((r) => r.order === `u-${t.id}`).length, 1, `${name}: the refund happened once`);
    }
  });
});

describe('fail closed', () => {
  test('a call whose start cannot be audited is not claimed and never reaches the target', async () => {
    const t = await runningTask(stack, ALL);
    const stream = auditStreamKey(auditShard(t.id));
    const input = { order: `f-${t.id}`, amount: 2 };
    // The task's audit shard cannot be written (the key holds a string: XADD fails, WRONGTYPE).
    const saved = await redis.xrange(stream, '-', '+');
    await redis.del(stream);
    await redis.set(stream, 'not a stream');
    try {
      const res = await callBroker(stack, t.token, { taskId: t.id, attempt: 1, seq: 0, name: 'payments.refund', input });
      assert.equal(res.body.ok ? 'ok' : res.body.error.code, 'capability_unavailable', JSON.stringify(res.body));
      assert.equal(target.refunds.filter((r) => r.order === `f-${t.id}`).length, 0, 'the target was not called');
      assert.equal(await redis.hget(callRecordsKey(t.id), '0'), null, 'the position was not claimed');
    } finally {
      await redis.del(stream);
      for (const [, fields] of saved) await redis.xadd(stream, '*', ...fields);
    }
    // Healed, the same call runs, once, and its start is recorded with the claim.
    const res = await callBroker(stack, t.token, { taskId: t.id, attempt: 1, seq: 0, name: 'payments.refund', input });
    assert.equal(res.body.ok, true, JSON.stringify(res.body));
    assert.equal(target.refunds.filter((r) => r.order === `f-${t.id}`).length, 1);
    const actions = (await auditDrafts(redis, t.id)).map((e) => e.action);
    assert.deepEqual(actions.filter((a) => a.startsWith('capability.call')), ['capability.call.started', 'capability.call']);
  });
});

describe('SSRF, end to end (loopback spellings the operator did not open; no packet leaves the machine)', () => {
  const refusedUrls = () => [
    `http://127.0.0.2:${target.port}/echo`,
    `http://127.0.0.1:${target.port + 1}/echo`,
    `http://[::1]:${target.port}/echo`,
    `http://[::ffff:127.0.0.2]:${target.port}/echo`,
    `http://[::ffff:7f00:1]:${target.port + 1}/echo`,
    `http://2130706434:${target.port}/echo`,
    `http://0177.0.0.2:${target.port}/echo`,
    // (A name resolving to 127.0.0.1, such as localhost, reaches the opened 127.0.0.1:port: the
    // operator opened that socket, whatever name leads to it.)
  ];
  test('refused before connecting, even when allowedHosts lists them', async () => {
    for (const url of refusedUrls()) {
      await putCapability(stack, ADMIN_KEY, 'web.fetch', {
        description: 'Fetches', risk: 'read', timeoutMs: 3000,
        implementation: { type: 'http.request', allowedHosts: [new URL(url).host, `127.0.0.1:${target.port}`] },
      });
      const before = target.seen.length;
      const res = await call('web.fetch', { url });
      assert.equal(res.body.ok ? 'ok' : res.body.error.code, 'capability_denied', `${url}: ${JSON.stringify(res.body)}`);
      assert.equal(target.seen.length, before, url);
    }
  });

  test('redirects: into a refused address, or an allowed host redirecting to a host not allowed, are refused', async () => {
    await putCapability(stack, ADMIN_KEY, 'web.fetch', {
      description: 'Fetches', risk: 'read', timeoutMs: 3000,
      implementation: { type: 'http.request', allowedHosts: [`127.0.0.1:${target.port}`, `127.0.0.2:${target.port}`] },
    });
    const via = (to: string) => `${target.base}/redirect?to=${encodeURIComponent(to)}`;
    const intoRefused = await call('web.fetch', { url: via(`http://127.0.0.2:${target.port}/echo`) });
    assert.equal(!intoRefused.body.ok && intoRefused.body.error.code, 'capability_denied');
    assert.match(!intoRefused.body.ok ? intoRefused.body.error.message : '', /redirect/);
    const notAllowed = await call('web.fetch', { url: via(`http://127.0.0.1:${target.port + 1}/echo`) });
    assert.equal(!notAllowed.body.ok && notAllowed.body.error.code, 'capability_denied');
    assert.match(!notAllowed.body.ok ? notAllowed.body.error.message : '', /allowedHosts/);
    const fine = await call('web.fetch', { url: via('/text?name=ok') });
    assert.equal(fine.body.ok, true);
    assert.equal((fine.body as { output: { body: string } }).output.body, 'hello ok');
  });
});
