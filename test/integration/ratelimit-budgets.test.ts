/**
 * Rate budgets (reads, writes, task creations; per agent and per API key), their RateLimit
 * headers and the admin overrides, through the real Fastify app (`inject`) on real Redis with
 * rate-limiter-flexible counters. Nothing is mocked. No runner: created tasks stay queued, so
 * task counts are exact. Small quotas come from env; the tenant and agents are unique to this
 * run and the stack's partition salt is random, so counters start at zero and tests do not
 * depend on each other's traffic.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { LightMyRequestResponse } from 'fastify';
import { startStack, type Stack } from '../helpers/stack.ts';
import { assertThrottled, limits, policies, rateLimitAgents, type RunAgent } from '../helpers/ratelimit.ts';

const ADMIN_KEY = `admin-${randomUUID()}`;
let stack: Stack;
let tenantId: string;
let agents: Record<string, RunAgent>;
let readerPk: Uint8Array | undefined;

before(async () => {
  const run = await rateLimitAgents({ reader: 1, other: 1, writer: 1, creator: 1, kim: 2, plain: 1, victim: 1, queued: 1 });
  tenantId = run.tenantId;
  agents = run.agents;
  stack = await startStack({
    runner: false,
    harnessEnv: {
      AIRLOCK_AGENTS_FILE: run.file,
      AIRLOCK_ADMIN_API_KEY: ADMIN_KEY,
      AIRLOCK_ADMIN_TENANT: run.tenantId,
      RATE_LIMIT_READS_PER_MIN: '3',
      RATE_LIMIT_WRITES_PER_MIN: '2',
      RATE_LIMIT_TASK_CREATES_PER_MIN: '2',
      RATE_LIMIT_CONCURRENT_TASKS: '100',
    },
  });
});
after(async () => {
  await stack.close();
});

const agent = (name: string) => agents[name] as RunAgent;
const admin = () => ({ authorization: `Bearer ${ADMIN_KEY}` });
const list = (headers: Record<string, string>) => stack.app.inject({ method: 'GET', url: '/v1/tasks', headers });
const create = (headers: Record<string, string>, key = randomUUID()) =>
  stack.app.inject({
    method: 'POST',
    url: '/v1/tasks',
    headers: { ...headers, 'idempotency-key': `"${key}"` },
    payload: { runtime: 'javascript', code: '1 + 1' },
  });
/** The admin's own budget is raised in every document, so admin calls never hit the small quotas. */
const putLimits = (doc: { tenant?: object; agents?: Record<string, object>; keys?: Record<string, object> }) =>
  stack.app.inject({
    method: 'PUT',
    url: '/v1/admin/limits',
    headers: admin(),
    payload: { ...doc, agents: { 'bootstrap-admin': { readsPerMin: 1000, writesPerMin: 1000 }, ...doc.agents } },
  });

function assertPk(res: LightMyRequestResponse) {
  for (const p of [...policies(res).values(), ...limits(res).values()]) {
    assert.equal(p.pk.length, 12);
    // A hash, never the raw ids.
    const text = Buffer.from(p.pk).toString('latin1');
    assert.ok(!text.includes(tenantId) && !text.includes('rl-'));
  }
}

describe('read budget', () => {
  test('the 4th read in a window gets 429; every success carries parsable RateLimit headers', async () => {
    const h = agent('reader').headers();
    for (let i = 1; i <= 3; i++) {
      const res = await list(h);
      assert.equal(res.statusCode, 200);
      const pol = policies(res);
      assert.deepEqual({ ...pol.get('agent-reads'), pk: undefined }, { q: 3, w: 60, pk: undefined });
      assert.equal(pol.get('key-reads')?.q, 3);
      const rl = limits(res).get('agent-reads');
      assert.equal(rl?.r, 3 - i);
      assert.ok(rl?.t !== undefined && rl.t >= 1 && rl.t <= 60);
      assert.deepEqual(pol.get('agent-reads')?.pk, rl?.pk);
      assertPk(res);
    }
    const res = await list(h);
    assertThrottled(res, ['agent-reads']);
    assertPk(res);
    readerPk = limits(res).get('agent-reads')?.pk;
  });

  test('another agent of the same tenant is unaffected', async () => {
    const res = await list(agent('other').headers());
    assert.equal(res.statusCode, 200);
    assert.equal(limits(res).get('agent-reads')?.r, 2);
    assert.ok(readerPk);
    assert.notDeepEqual(limits(res).get('agent-reads')?.pk, readerPk, 'each agent has its own partition');
  });

  test('HEAD and the task read routes draw from the read budget; reads do not touch writes', async () => {
    const h = agent('victim').headers();
    const head = await stack.app.inject({ method: 'HEAD', url: '/v1/tasks', headers: h });
    assert.equal(head.statusCode, 200);
    assert.equal(limits(head).get('agent-reads')?.r, 2);
    const missing = await stack.app.inject({ method: 'GET', url: `/v1/tasks/${randomUUID()}`, headers: h });
    assert.equal(missing.statusCode, 404);
    assert.equal(limits(missing).get('agent-reads')?.r, 1, 'a 404 is the agent’s own traffic: it counts');
    assert.ok(!policies(missing).has('agent-writes'));
  });
});

describe('write budget', () => {
  test('the 3rd write gets 429 while reads still pass', async () => {
    const h = agent('writer').headers();
    for (let i = 1; i <= 2; i++) {
      const res = await stack.app.inject({ method: 'DELETE', url: `/v1/tasks/${randomUUID()}`, headers: h });
      assert.equal(res.statusCode, 404);
      assert.equal(limits(res).get('agent-writes')?.r, 2 - i);
      assert.equal(policies(res).get('agent-writes')?.q, 2);
    }
    assertThrottled(await stack.app.inject({ method: 'DELETE', url: `/v1/tasks/${randomUUID()}`, headers: h }), [
      'agent-writes',
    ]);
    assert.equal((await list(h)).statusCode, 200);
  });
});

describe('task creation budget', () => {
  test('a throttled POST creates nothing and its Idempotency-Key works once the budget allows', async () => {
    const h = agent('creator').headers();
    for (let i = 1; i <= 2; i++) {
      const res = await create(h);
      assert.equal(res.statusCode, 201);
      const pol = policies(res);
      assert.equal(pol.get('agent-task-creates')?.q, 2);
      assert.deepEqual(
        { ...pol.get('agent-concurrent-tasks'), pk: undefined },
        { q: 100, qu: 'concurrent-requests', pk: undefined },
      );
      assert.equal(limits(res).get('agent-concurrent-tasks')?.r, 100 - i);
      assert.equal(limits(res).get('agent-concurrent-tasks')?.t, undefined);
      assert.ok(!pol.has('agent-writes'), 'a task creation is not also a write');
    }
    const key = randomUUID();
    const throttled = await create(h, key);
    assertThrottled(throttled, ['agent-task-creates']);
    const before = await stack.deps.queue.count();
    const tasks = (await list(h)).json() as { items: unknown[] };
    assert.equal(tasks.items.length, 2, 'the throttled POST created no task');

    assert.equal((await putLimits({ agents: { creator: { taskCreatesPerMin: 10 } } })).statusCode, 200);
    const retried = await create(h, key);
    assert.equal(retried.statusCode, 201, retried.body);
    assert.equal(retried.headers['idempotent-replayed'], undefined, 'a new execution, not a replay of the 429');
    assert.equal(policies(retried).get('agent-task-creates')?.q, 10);
    assert.equal(await stack.deps.queue.count(), before + 1);
  });
});

describe('concurrent task cap (queued tasks; no runner here)', () => {
  test('queued tasks hold their slots; cancelling a queued task frees one; the cap is overridable', async () => {
    const h = agent('queued').headers();
    assert.equal((await putLimits({ agents: { queued: { concurrentTasks: 1, taskCreatesPerMin: 100 } } })).statusCode, 200);
    const first = await create(h);
    assert.equal(first.statusCode, 201);
    assert.equal(first.json().status, 'queued');
    assert.equal(policies(first).get('agent-concurrent-tasks')?.q, 1);
    assert.equal(limits(first).get('agent-concurrent-tasks')?.r, 0);
    assert.equal(limits(first).get('agent-task-creates')?.r, 99);
    const refused = await create(h);
    assertThrottled(refused, ['agent-concurrent-tasks']);
    // The refused create was given back to the creation budget: a 429 changes nothing.
    assert.equal(limits(refused).get('agent-task-creates')?.r, 99);
    assert.equal(limits(refused).get('key-task-creates')?.r, 99);
    const cancelled = await stack.app.inject({ method: 'DELETE', url: `/v1/tasks/${first.json().id}`, headers: h });
    assert.equal(cancelled.json().status, 'cancelled');
    // A rejected create (400) does not hold a slot either: the next create still gets the one
    // slot. (At the cap, the 429 comes first: the cap is checked before the body is parsed.)
    const bad = await stack.app.inject({
      method: 'POST', url: '/v1/tasks', headers: { ...h, 'idempotency-key': `"${randomUUID()}"` },
      payload: { runtime: 'javascript', code: '1', tenantId: 'x' } });
    assert.equal(bad.statusCode, 400);
    const secondKey = randomUUID();
    const second = await create(h, secondKey);
    assert.equal(second.statusCode, 201, second.body);
    assertThrottled(await create(h), ['agent-concurrent-tasks']);
    // Replaying the accepted create (same Idempotency-Key) is not a new task: the slot is its own.
    const replay = await stack.app.inject({
      method: 'POST', url: '/v1/tasks', headers: { ...h, 'idempotency-key': `"${secondKey}"` },
      payload: { runtime: 'javascript', code: '1 + 1' } });
    // At the cap, the replay still gets the stored answer: it creates nothing, so it takes no slot.
    assert.equal(replay.statusCode, 201, replay.body);
    assert.equal(replay.headers['idempotent-replayed'], 'true');
    assert.equal(replay.body, second.body);
  });
});

describe('per API key budgets', () => {
  test('a key has its own budget inside its agent’s', async () => {
    const kim = agent('kim');
    const [k1] = kim.keyIds as [string];
    assert.equal(
      (await putLimits({ agents: { kim: { readsPerMin: 4 } }, keys: { [k1]: { readsPerMin: 2 } } })).statusCode,
      200,
    );
    for (let i = 1; i <= 2; i++) {
      const res = await list(kim.headers(0));
      assert.equal(res.statusCode, 200);
      assert.equal(policies(res).get('key-reads')?.q, 2);
      assert.equal(policies(res).get('agent-reads')?.q, 4);
    }
    // Key 1 is out, however often it is tried: refused requests are given back to the agent's
    // budget, so a hammered key does not starve the agent's other keys.
    for (let i = 0; i < 5; i++) assert.deepEqual(assertThrottled(await list(kim.headers(0)), ['key-reads']), ['key-reads']);
    for (let i = 1; i <= 2; i++) {
      const second = await list(kim.headers(1));
      assert.equal(second.statusCode, 200);
      assert.equal(policies(second).get('key-reads')?.q, 4, 'key 2 has no override: the agent’s quota');
      assert.equal(limits(second).get('agent-reads')?.r, 2 - i);
      assert.notDeepEqual(limits(second).get('key-reads')?.pk, policies(second).get('agent-reads')?.pk);
    }
    // The agent's 4 are used (2 per key): now the agent budget is out for both keys.
    assert.deepEqual(assertThrottled(await list(kim.headers(1)), ['agent-reads']), ['agent-reads']);
    assertThrottled(await list(kim.headers(0)), ['agent-reads', 'key-reads']);
  });
});

describe('admin limits API', () => {
  test('GET shows defaults and overrides; PUT replaces them; a tenant override applies to its agents', async () => {
    assert.equal((await putLimits({ tenant: { readsPerMin: 1 } })).statusCode, 200);
    const got = await stack.app.inject({ method: 'GET', url: '/v1/admin/limits', headers: admin() });
    assert.equal(got.statusCode, 200);
    assert.deepEqual(got.json(), {
      defaults: { readsPerMin: 3, writesPerMin: 2, taskCreatesPerMin: 2, concurrentTasks: 100 },
      overrides: {
        tenant: { readsPerMin: 1 },
        agents: { 'bootstrap-admin': { readsPerMin: 1000, writesPerMin: 1000 } },
        keys: {},
      },
    });
    const h = agent('plain').headers();
    const first = await list(h);
    assert.equal(first.statusCode, 200);
    assert.equal(policies(first).get('agent-reads')?.q, 1);
    assertThrottled(await list(h), ['agent-reads']);
    assert.equal((await putLimits({})).statusCode, 200);
  });

  test('non-admins get 403 and bad documents 400; neither changes anything', async () => {
    const before = (await stack.app.inject({ method: 'GET', url: '/v1/admin/limits', headers: admin() })).json();
    const h = agent('other').headers();
    assert.equal((await stack.app.inject({ method: 'GET', url: '/v1/admin/limits', headers: h })).statusCode, 403);
    const put = await stack.app.inject({
      method: 'PUT', url: '/v1/admin/limits', headers: h, payload: { tenant: { readsPerMin: 100000 } } });
    assert.equal(put.statusCode, 403);
    for (const payload of [
      { tenant: { readsPerMin: -1 } },
      { tenant: { readsPerMin: 1.5 } },
      { tenant: { unknown: 1 } },
      { tenantId: 'other-tenant' },
      { agents: { 'bad id!': { readsPerMin: 1 } } },
    ]) {
      const res = await stack.app.inject({ method: 'PUT', url: '/v1/admin/limits', headers: admin(), payload });
      assert.equal(res.statusCode, 400, JSON.stringify(payload));
      assert.equal(res.json().code, 'invalid_request');
    }
    const after = (await stack.app.inject({ method: 'GET', url: '/v1/admin/limits', headers: admin() })).json();
    assert.deepEqual(after, before);
  });
});
