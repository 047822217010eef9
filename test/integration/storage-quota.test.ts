/**
 * Per-tenant storage: the quota refuses a task whose worst case does not fit (403
 * storage_quota_exceeded, nothing created), usage is what tasks really store once they end and
 * drops to nothing when they expire (per-tenant retention), and only the operator changes a
 * tenant's quota. Real harness, real runner (isolate hosts), real Redis; nothing faked.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { redisKeys } from '../../protocol/redis-keys.ts';
import { bearer, createTenant, type TenantFixture } from '../helpers/identity.ts';
import { runAgents, type RunAgents } from '../helpers/run-agents.ts';
import { pollTask, REDIS_URL, startStack, type Stack } from '../helpers/stack.ts';

const BOOTSTRAP_KEY = `bootstrap-${randomUUID()}`;
const OUTPUT_BYTES = 1024;
/** What an isolate task reserves: 3 × its output limit (stdout, stderr, value) + 64 KiB of record. */
const ISOLATE_RESERVE = 3 * OUTPUT_BYTES + 64 * 1024;

const redis = new Redis(REDIS_URL);
let stack: Stack;
let agents: RunAgents;
let tenantAdmin: TenantFixture;

before(async () => {
  agents = await runAgents();
  stack = await startStack({
    harnessEnv: {
      ...agents.harnessEnv,
      AIRLOCK_ADMIN_API_KEY: BOOTSTRAP_KEY,
      TASK_OUTPUT_BYTES: String(OUTPUT_BYTES),
    },
  });
  tenantAdmin = await createTenant(stack, BOOTSTRAP_KEY);
});
after(async () => {
  await stack.close();
  redis.disconnect();
});

const storageOf = (tenantId: string, key = BOOTSTRAP_KEY) =>
  stack.app.inject({ method: 'GET', url: `/v1/admin/storage/tenants/${tenantId}`, headers: bearer(key) });
const setStorage = (tenantId: string, body: Record<string, unknown>, key = BOOTSTRAP_KEY) =>
  stack.app.inject({ method: 'PUT', url: `/v1/admin/storage/tenants/${tenantId}`, headers: bearer(key), payload: body });
const create = (agent: 'alice' | 'bob' | 'eve', body: Record<string, unknown>, idempotencyKey = randomUUID()) =>
  stack.app.inject({ method: 'POST', url: '/v1/tasks', headers: stack.headers(agent, idempotencyKey), payload: body });

describe('quota', () => {
  test('a task whose worst case does not fit is refused with 403 storage_quota_exceeded, and nothing is created', async () => {
    const tenant = agents.principals.alice.tenantId;
    const set = await setStorage(tenant, { quotaBytes: ISOLATE_RESERVE });
    assert.equal(set.statusCode, 200, set.body);
    assert.equal(set.json().quotaBytes, ISOLATE_RESERVE);
    assert.deepEqual(set.json().overrides, { quotaBytes: ISOLATE_RESERVE });

    // Holds its reservation while it runs.
    const first = await create('alice', { runtime: 'javascript', code: 'while (true) {}', timeoutMs: 20_000 });
    assert.equal(first.statusCode, 201, first.body);
    await pollTask(stack, first.json().id, (t) => t.status === 'running');
    assert.equal((await storageOf(tenant)).json().usage.redisBytes, ISOLATE_RESERVE, 'a running task counts its worst case');

    const keysBefore = (await redis.keys('airlock:task:*')).length;
    const jobsBefore = await stack.deps.queue.count();
    const idempotencyKey = randomUUID();
    const refused = await create('bob', { runtime: 'javascript', code: '1' }, idempotencyKey);
    assert.equal(refused.statusCode, 403, refused.body);
    assert.match(String(refused.headers['content-type']), /application\/problem\+json/);
    const problem = refused.json();
    assert.equal(problem.code, 'storage_quota_exceeded');
    assert.equal(problem.type, 'https://airlock.dev/problems/storage_quota_exceeded');
    assert.equal(problem.quotaBytes, ISOLATE_RESERVE);
    assert.equal(problem.usedBytes, ISOLATE_RESERVE);
    assert.equal(problem.requiredBytes, ISOLATE_RESERVE);
    assert.equal((await redis.keys('airlock:task:*')).length, keysBefore, 'no task record');
    assert.equal(await stack.deps.queue.count(), jobsBefore, 'no job');
    const listed = await stack.app.inject({ method: 'GET', url: '/v1/tasks', headers: stack.headers('bob', null) });
    assert.deepEqual(listed.json().items, [], 'nothing in the agent index');
    assert.equal((await storageOf(tenant)).json().usage.tasks, 1, 'no reservation was left behind');

    // Another tenant is not held to this one's quota.
    assert.equal((await create('eve', { runtime: 'javascript', code: '1', wait: 10 })).statusCode, 201);

    // The running task ends: its entry becomes what it really stores (far less than reserved),
    // so with a little room the refused request now goes through, same Idempotency-Key (a
    // refusal stores no answer).
    await stack.app.inject({ method: 'DELETE', url: `/v1/tasks/${first.json().id}`, headers: stack.headers('alice', null) });
    const settled = (await storageOf(tenant)).json().usage;
    assert.ok(settled.redisBytes > 0 && settled.redisBytes < 16 * 1024, JSON.stringify(settled));
    assert.equal(settled.blobBytes, 0);
    await setStorage(tenant, { quotaBytes: ISOLATE_RESERVE + 16 * 1024 });
    const retried = await create('bob', { runtime: 'javascript', code: '1', wait: 10 }, idempotencyKey);
    assert.equal(retried.statusCode, 201, retried.body);
    assert.equal(retried.json().status, 'succeeded');
  });

  test('quota 0 refuses every task; removing the override restores the default', async () => {
    const tenant = agents.principals.eve.tenantId;
    await setStorage(tenant, { quotaBytes: 0 });
    assert.equal((await create('eve', { runtime: 'javascript', code: '1' })).json().code, 'storage_quota_exceeded');
    const reset = await setStorage(tenant, {});
    assert.deepEqual(reset.json().overrides, {});
    assert.equal(reset.json().quotaBytes, reset.json().defaults.quotaBytes);
    assert.equal((await create('eve', { runtime: 'javascript', code: '1' })).statusCode, 201);
  });
});

describe('retention and expiry', () => {
  test("a tenant's retention applies to its tasks, and their usage drops to nothing when they expire", async () => {
    const tenant = tenantAdmin.tenantId;
    const set = await setStorage(tenant, { retentionMs: 1500 });
    assert.equal(set.json().retentionMs, 1500);
    const agent = await stack.app.inject({ method: 'POST', url: '/v1/admin/agents', headers: bearer(tenantAdmin.adminKey), payload: { name: 'writer' } });
    const issued = await stack.app.inject({ method: 'POST', url: `/v1/admin/agents/${agent.json().id}/keys`, headers: bearer(tenantAdmin.adminKey), payload: {} });
    const key = issued.json().secret as string;
    const res = await stack.app.inject({
      method: 'POST',
      url: '/v1/tasks',
      headers: { ...bearer(key), 'idempotency-key': `"${randomUUID()}"` },
      payload: { runtime: 'javascript', code: 'console.log("x".repeat(500)); 1', wait: 10 },
    });
    assert.equal(res.json().status, 'succeeded', res.body);
    const id = res.json().id as string;
    const ttl = await redis.pttl(redisKeys.task(id));
    assert.ok(ttl > 0 && ttl <= 1500, `task key TTL ${ttl}`);
    assert.ok((await redis.pttl(redisKeys.output(id))) <= 1500, 'the output expires with it');
    // The tenant's own admin sees it.
    const mine = await stack.app.inject({ method: 'GET', url: '/v1/admin/storage', headers: bearer(tenantAdmin.adminKey) });
    assert.equal(mine.statusCode, 200, mine.body);
    assert.equal(mine.json().tenantId, tenant);
    assert.equal(mine.json().usage.tasks, 1);
    assert.ok(mine.json().usage.redisBytes >= 500, JSON.stringify(mine.json().usage));

    const deadline = Date.now() + 15_000;
    let usage = mine.json().usage;
    while ((usage.tasks !== 0 || usage.redisBytes !== 0) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      usage = (await storageOf(tenant)).json().usage;
    }
    assert.deepEqual(usage, { redisBytes: 0, blobBytes: 0, totalBytes: 0, tasks: 0 });
    assert.equal(await redis.exists(redisKeys.task(id)), 0, 'the task itself is gone too');
  });
});

describe('who may see and change storage settings', () => {
  test("a tenant admin reads its own usage but cannot change its quota or read another tenant's", async () => {
    const own = tenantAdmin.tenantId;
    assert.equal((await setStorage(own, { quotaBytes: 10 ** 12 }, tenantAdmin.adminKey)).statusCode, 403);
    assert.equal((await storageOf(agents.principals.alice.tenantId, tenantAdmin.adminKey)).statusCode, 403);
    const agentView = await stack.app.inject({ method: 'GET', url: '/v1/admin/storage', headers: stack.headers('alice', null) });
    assert.equal(agentView.statusCode, 403);
  });

  test('invalid settings are a 400 problem and change nothing', async () => {
    const tenant = agents.principals.bob.tenantId;
    const before = (await storageOf(tenant)).json().overrides;
    for (const body of [{ quotaBytes: -1 }, { retentionMs: 10 }, { quotaBytes: 1.5 }, { other: 1 }]) {
      const res = await setStorage(tenant, body);
      assert.equal(res.statusCode, 400, JSON.stringify(body));
      assert.equal(res.json().code, 'invalid_request');
    }
    assert.deepEqual((await storageOf(tenant)).json().overrides, before);
    assert.equal((await stack.app.inject({ method: 'GET', url: '/v1/admin/storage/tenants/a%2Fb', headers: bearer(BOOTSTRAP_KEY) })).statusCode, 400);
  });
});
