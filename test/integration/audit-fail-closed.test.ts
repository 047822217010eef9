/**
 * No unaudited action: when the audit stream cannot be written, the change it would record does
 * not happen. The streams are broken for real (the key holds a string, so XADD fails with
 * WRONGTYPE, as it would for a full or misconfigured Redis); the task store's scripts, the
 * harness's decisions, admin changes, 401s and token minting then fail with nothing changed.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, afterEach, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { AuditProducer, isAuditUnavailable } from '../../protocol/audit/producer.ts';
import { AUDIT_SHARDS, auditShard, auditStreamKey, redisKeys } from '../../protocol/redis-keys.ts';
import { TaskStore, type TaskRecord } from '../../protocol/task-store.ts';
import { bearer, createPrincipalWithKey, createTenant, requestToken, type TenantFixture } from '../helpers/identity.ts';
import { REDIS_URL, startStack, type Stack } from '../helpers/stack.ts';

const BOOTSTRAP = `admin-${randomUUID()}`;
let redis: Redis;
let stack: Stack;
let acme: TenantFixture;
let agent: { id: string; key: string };

before(async () => {
  redis = new Redis(REDIS_URL);
  stack = await startStack({ runner: false, harnessEnv: { AIRLOCK_ADMIN_API_KEY: BOOTSTRAP } });
  acme = await createTenant(stack, BOOTSTRAP);
  agent = await createPrincipalWithKey(stack, acme.adminKey, 'agent');
});
afterEach(async () => {
  await heal();
});
after(async () => {
  await heal();
  await stack.close();
  redis.disconnect();
});

/** Makes the audit streams of `shards` (default: all) unwritable: each key holds a string. */
async function breakStreams(shards: readonly number[] = [...Array(AUDIT_SHARDS).keys()]): Promise<void> {
  for (const s of shards) {
    await redis.del(auditStreamKey(s));
    await redis.set(auditStreamKey(s), 'not a stream');
  }
}
async function heal(): Promise<void> {
  for (let s = 0; s < AUDIT_SHARDS; s++) if ((await redis.type(auditStreamKey(s))) !== 'stream') await redis.del(auditStreamKey(s));
}

function record(id: string): TaskRecord {
  return {
    id,
    tenantId: 'acme',
    agentId: 'alice',
    status: 'queued',
    runtime: 'javascript',
    createdAt: new Date().toISOString(),
    limits: { timeoutMs: 1000, cpuMs: 1000, memoryMb: 64, outputBytes: 1024 },
    metadata: { promptSnippet: 'fail closed' },
    attempts: 0,
  };
}

describe('the task store: a transition and its entry land together or not at all', () => {
  test('create, start and transition each fail when the task\'s audit stream cannot be written, changing nothing', async () => {
    const store = new TaskStore({ redis, retentionMs: 60_000, audit: new AuditProducer({ redis }) });
    const id = randomUUID();
    await breakStreams([auditShard(id)]);
    await assert.rejects(store.create(record(id)), (err: unknown) => isAuditUnavailable(err));
    assert.equal(await redis.exists(redisKeys.task(id), redisKeys.events(id)), 0, 'no record, no event');

    await heal();
    await store.create(record(id));
    const events = await redis.xlen(redisKeys.events(id));
    await breakStreams([auditShard(id)]);
    await assert.rejects(store.start(id, { tenantId: 'acme', agentId: 'alice' }, { runnerId: 'r', attempt: 1 }), (err: unknown) => isAuditUnavailable(err));
    assert.equal(await store.status(id), 'queued', 'not started');
    await assert.rejects(
      store.transition(id, 'cancelled', ['queued'], { finishedAt: new Date().toISOString() }, { code: 'cancelled', message: 'x' }),
      (err: unknown) => isAuditUnavailable(err),
    );
    assert.equal(await store.status(id), 'queued', 'not cancelled');
    assert.equal(await redis.xlen(redisKeys.events(id)), events, 'no event appended');
    assert.equal(await redis.pttl(redisKeys.task(id)), -1, 'no retention set');

    await heal();
    assert.equal(await store.transition(id, 'cancelled', ['queued'], { finishedAt: new Date().toISOString() }), true);
    const [entry] = (await redis.xrange(auditStreamKey(auditShard(id)), '-', '+')).filter(([, f]) => f.includes('e') && f.join(' ').includes('task.cancelled'));
    assert.ok(entry, 'healed: the transition and its entry land');
  });
});

describe('through the API: 503 not_ready, nothing changed', () => {
  test('POST /v1/tasks: no task, no record', async () => {
    const before = (await redis.keys(`airlock:task:*`)).length;
    await breakStreams();
    const res = await stack.app.inject({
      method: 'POST',
      url: '/v1/tasks',
      headers: { ...bearer(agent.key), 'idempotency-key': `"${randomUUID()}"` },
      payload: { runtime: 'javascript', code: '1' },
    });
    assert.equal(res.statusCode, 503, res.body);
    assert.equal(res.json().code, 'not_ready');
    assert.equal((await redis.keys(`airlock:task:*`)).length, before);
  });

  test('DELETE /v1/tasks/:id: the task stays queued', async () => {
    const created = await stack.app.inject({
      method: 'POST',
      url: '/v1/tasks',
      headers: { ...bearer(agent.key), 'idempotency-key': `"${randomUUID()}"` },
      payload: { runtime: 'javascript', code: '1' },
    });
    assert.equal(created.statusCode, 201, created.body);
    await breakStreams();
    const res = await stack.app.inject({ method: 'DELETE', url: `/v1/tasks/${created.json().id}`, headers: bearer(agent.key) });
    assert.equal(res.statusCode, 503, res.body);
    await heal();
    assert.equal(await stack.deps.store.status(created.json().id), 'queued');
  });

  test('admin changes, token minting and 401s: refused, nothing stored or handed out', async () => {
    await breakStreams();
    const grant = await stack.app.inject({
      method: 'PUT',
      url: '/v1/admin/grants/never',
      headers: bearer(acme.adminKey),
      payload: { hostPath: '/tmp', mode: 'ro', maxBytes: 10, allowedAgents: ['*'] },
    });
    assert.equal(grant.statusCode, 503, grant.body);
    const agentCreate = await stack.app.inject({ method: 'POST', url: '/v1/admin/agents', headers: bearer(acme.adminKey), payload: { name: 'ghost' } });
    assert.equal(agentCreate.statusCode, 503, agentCreate.body);
    const token = await requestToken(stack, agent.key, {});
    assert.equal(token.statusCode, 503, token.body);
    assert.ok(!token.body.includes('eyJ'), 'no token handed out');
    const unauth = await stack.app.inject({ method: 'GET', url: '/v1/tasks', headers: bearer('nope') });
    assert.equal(unauth.statusCode, 503, 'a 401 that cannot be recorded is a 503');
    await heal();
    const list = await stack.app.inject({ method: 'GET', url: '/v1/admin/agents?limit=100', headers: bearer(acme.adminKey) });
    assert.ok(!(list.json().items as { name: string }[]).some((a) => a.name === 'ghost'), 'no agent created');
    const grants = await stack.app.inject({ method: 'GET', url: '/v1/admin/grants', headers: bearer(acme.adminKey) });
    assert.deepEqual(grants.json().items, []);
  });
});
