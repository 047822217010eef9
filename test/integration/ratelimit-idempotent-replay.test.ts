/**
 * Idempotency-Key replays and the rate limits, through the real Fastify app (`inject`) on real
 * Redis (idempotency store, rate-limiter-flexible counters, the active-task set). No runner:
 * created tasks stay queued, so they hold their concurrency slots until cancelled and counts are
 * exact. The tenant and agents are unique to this run and the stack's partition salt is random.
 *
 * A replay creates nothing, so the cap on active tasks never refuses it (nor a retry that joins
 * the task of a first request still in flight, gets 409 or 422 reused key); it is still a
 * request, so it draws from the request-rate budgets like any other (README, Rate limits and
 * quotas).
 *
 * One test builds a second real app on the same deps whose security path is the standard one
 * plus a hook between the rate limits and the handler, to expire a stored answer at exactly that
 * point (a real DEL in Redis, what its TTL would do).
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { buildApp, standardSecurityPath, type SecurityPath } from '../../harness/app.ts';
import { idempotencyStoreKey } from '../../harness/plugins/idempotency.ts';
import { startStack, type Stack } from '../helpers/stack.ts';
import { assertThrottled, limits, policies, rateLimitAgents, type RunAgent } from '../helpers/ratelimit.ts';

const ADMIN_KEY = `admin-${randomUUID()}`;
let stack: Stack;
let agents: Record<string, RunAgent>;

before(async () => {
  const run = await rateLimitAgents({ capped: 1, waiter: 1, metered: 1, expiring: 1 });
  agents = run.agents;
  stack = await startStack({
    runner: false,
    harnessEnv: {
      AIRLOCK_AGENTS_FILE: run.file,
      AIRLOCK_ADMIN_API_KEY: ADMIN_KEY,
      AIRLOCK_ADMIN_TENANT: run.tenantId,
      RATE_LIMIT_CONCURRENT_TASKS: '1',
    },
  });
});
after(async () => {
  await stack.close();
});

const agent = (name: string) => agents[name] as RunAgent;
const BODY = { runtime: 'javascript', code: '1 + 1' };
const create = (a: RunAgent, key: string, body: object = BODY) =>
  stack.app.inject({
    method: 'POST',
    url: '/v1/tasks',
    headers: { ...a.headers(), 'idempotency-key': `"${key}"` },
    payload: body,
  });
const taskCount = async (a: RunAgent) =>
  ((await stack.app.inject({ method: 'GET', url: '/v1/tasks?limit=100', headers: a.headers() })).json() as {
    items: { id: string }[];
  }).items;

describe('the concurrency cap never refuses a request that cannot create anything', () => {
  test('a replay at the cap gets the stored first answer; a new key is still refused', async () => {
    const a = agent('capped');
    const key = randomUUID();
    const first = await create(a, key);
    assert.equal(first.statusCode, 201, first.body);
    assert.equal(limits(first).get('agent-concurrent-tasks')?.r, 0, 'the agent is at its cap of 1');

    const replay = await create(a, key);
    assert.equal(replay.statusCode, 201, replay.body);
    assert.equal(replay.headers['idempotent-replayed'], 'true');
    assert.equal(replay.body, first.body, 'byte-identical replay');
    assert.equal(replay.headers['location'], first.headers['location']);
    // It drew from the request budgets, not from the cap (it takes no slot).
    assert.ok(policies(replay).has('agent-task-creates'));
    assert.ok(!policies(replay).has('agent-concurrent-tasks'));

    // The same key with another body: 422 (it would create nothing either), not 429.
    const reused = await create(a, key, { ...BODY, code: '2 + 2' });
    assert.equal(reused.statusCode, 422, reused.body);
    assert.equal(reused.json().code, 'idempotency_key_reused');

    // A new request is still refused at the cap, and nothing was created by any of this.
    assertThrottled(await create(a, randomUUID()), ['agent-concurrent-tasks']);
    assert.deepEqual((await taskCount(a)).map((t) => t.id), [first.json().id]);
  });

  test('a retry while the first request is still in flight (its wait) joins its task, not 429', async () => {
    const a = agent('waiter');
    const key = randomUUID();
    // No runner: the task stays queued and this request waits, holding the key and the slot.
    const pending = create(a, key, { ...BODY, wait: 30 });
    const deadline = Date.now() + 10_000;
    let id: string | undefined;
    while (!id) {
      id = (await taskCount(a))[0]?.id;
      if (!id && Date.now() > deadline) throw new Error('the first request made no task');
      if (!id) await new Promise((r) => setTimeout(r, 10));
    }
    // The retry is at the cap (the first task holds the only slot) and creates nothing: it
    // answers with that task, waiting like the first request.
    const retry = create(a, key, { ...BODY, wait: 30 });
    // End both waits: cancelling makes the task terminal.
    await stack.app.inject({ method: 'DELETE', url: `/v1/tasks/${id}`, headers: a.headers() });
    const [done, joined] = await Promise.all([pending, retry]);
    assert.equal(done.statusCode, 201, done.body);
    assert.equal(done.json().status, 'cancelled');
    assert.equal(joined.statusCode, 201, joined.body);
    assert.equal(joined.headers['idempotent-replayed'], 'true');
    assert.equal(joined.json().id, id);
    assert.ok(!policies(joined).has('agent-concurrent-tasks'), 'held to no cap: it takes no slot');
    assert.equal((await taskCount(a)).length, 1);
  });
});

test('a stored answer that expires after the cap was skipped: 409 retry, never a task over the cap', async () => {
  const a = agent('expiring');
  const expire: SecurityPath = (v1, ctx) => {
    standardSecurityPath(v1, ctx);
    // preHandler: after the rate limits (preParsing), before the handler claims the key.
    v1.addHook('preHandler', async (request) => {
      if (request.method !== 'POST' || request.routeOptions.url !== '/v1/tasks' || !request.principal) return;
      const key = idempotencyStoreKey(request, request.principal);
      if (key) await stack.deps.redis.del(key);
    });
  };
  const app = await buildApp(stack.deps, expire);
  try {
    const key = randomUUID();
    const first = await create(a, key);
    assert.equal(first.statusCode, 201, first.body);
    const res = await app.inject({
      method: 'POST',
      url: '/v1/tasks',
      headers: { ...a.headers(), 'idempotency-key': `"${key}"` },
      payload: BODY,
    });
    assert.equal(res.statusCode, 409, res.body);
    assert.equal(res.json().code, 'idempotency_request_in_flight');
    assert.equal((await taskCount(a)).length, 1, 'no second task over the cap of 1');
    // The key is free again: the retry is a new request, held to the cap.
    assertThrottled(await create(a, key), ['agent-concurrent-tasks']);
  } finally {
    await app.close();
  }
});

test('a replay still counts against the task-creation budget (it is a request like any other)', async () => {
  const a = agent('metered');
  const put = await stack.app.inject({
    method: 'PUT',
    url: '/v1/admin/limits',
    headers: { authorization: `Bearer ${ADMIN_KEY}` },
    payload: { agents: { metered: { taskCreatesPerMin: 2, concurrentTasks: 10 } } },
  });
  assert.equal(put.statusCode, 200, put.body);
  const key = randomUUID();
  const first = await create(a, key);
  assert.equal(first.statusCode, 201, first.body);
  const replay = await create(a, key);
  assert.equal(replay.headers['idempotent-replayed'], 'true');
  assert.equal(limits(replay).get('agent-task-creates')?.r, 0);
  assertThrottled(await create(a, key), ['agent-task-creates']);
  assert.equal((await taskCount(a)).length, 1);
});
