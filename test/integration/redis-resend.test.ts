/**
 * A task's status changes, its grant plan's audit entry and a capability call's claim are made
 * once even when their command runs twice. ioredis resends
 * every command that was in flight when its connection dropped (Redis restarted, a network cut):
 * the command may already have run, and only its answer was lost. This is how a CI run of the
 * durability test saw a task "ran 2 times": the runner's `start` ran, Redis was SIGKILLed before
 * the answer left, and the resent `start` counted a second attempt.
 *
 * The same resend of the broker's claim used to find "its own" call in progress and, once nobody
 * settled it, end the call `capability_uncertain` though it never ran.
 *
 * Real parts: the shared Redis, the real task store and call records with an audit producer, and a loopback proxy
 * that lets the command through to Redis and then cuts the connection instead of passing the
 * answer back (test/helpers/redis-reply-cutter.ts). The client is set up as the runner's is
 * (`maxRetriesPerRequest: null`: it waits for Redis to come back rather than failing).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { AuditProducer } from '../../protocol/audit/producer.ts';
import { auditShard, auditStreamKey, redisKeys } from '../../protocol/redis-keys.ts';
import { TaskStore } from '../../protocol/task-store.ts';
import { callKey, CallRecords } from '../../harness/broker/call-records.ts';
import { startRedisReplyCutter, type RedisReplyCutter } from '../helpers/redis-reply-cutter.ts';
import { REDIS_URL } from '../helpers/stack.ts';
import { queuedTaskRecord } from '../helpers/task-record.ts';

const direct = new Redis(REDIS_URL);
let cutter: RedisReplyCutter;
let viaCutter: Redis;
let store: TaskStore;
let producer: AuditProducer;

before(async () => {
  cutter = await startRedisReplyCutter(Number(new URL(REDIS_URL).port || 6379), new URL(REDIS_URL).hostname);
  viaCutter = new Redis(cutter.url, { maxRetriesPerRequest: null, retryStrategy: () => 20 });
  producer = new AuditProducer({ redis: viaCutter });
  store = new TaskStore({ redis: viaCutter, retentionMs: 60_000, audit: producer });
  // Every script once, uncut: a script Redis does not know yet answers NOSCRIPT without running,
  // and a cut NOSCRIPT answer would test nothing.
  const warm = queuedTaskRecord();
  await store.create(warm);
  await store.start(warm.id, warm);
  await store.transition(warm.id, 'succeeded', ['running']);
});

after(async () => {
  viaCutter.disconnect();
  direct.disconnect();
  await cutter.close();
});

/** The audit entries (not voided) this test's producer appended about `taskId`, by action. */
async function auditActions(taskId: string): Promise<string[]> {
  const rows = await direct.xrange(auditStreamKey(auditShard(taskId)), '-', '+');
  const actions: string[] = [];
  for (const [, flat] of rows) {
    const f = new Map<string, string>();
    for (let i = 0; i < flat.length; i += 2) f.set(flat[i] as string, flat[i + 1] as string);
    if (f.get('p') !== producer.id || f.get('v') === '1' || !f.has('e')) continue;
    const entry = JSON.parse(f.get('e') as string) as { action: string; taskId?: string };
    if (entry.taskId === taskId) actions.push(entry.action);
  }
  return actions;
}

async function statusEvents(taskId: string): Promise<string[]> {
  return (await store.readEvents(taskId)).flatMap((e) => (e.event.type === 'status' ? [e.event.status] : []));
}

describe('a status change whose answer was lost and whose command ioredis resent', () => {
  test('create: one record, one queued event, one task.created entry', async () => {
    const task = queuedTaskRecord();
    const cutsBefore = cutter.cuts;
    cutter.cutAnswerTo(task.id);
    await store.create(task);
    assert.equal(cutter.cuts, cutsBefore + 1);
    assert.equal((await store.get(task.id))?.status, 'queued');
    assert.deepEqual(await statusEvents(task.id), ['queued']);
    assert.deepEqual(await auditActions(task.id), ['task.created']);
  });

  test('start: the same attempt, one running event, one task.started entry', async () => {
    const task = queuedTaskRecord();
    await store.create(task);
    const cutsBefore = cutter.cuts;
    cutter.cutAnswerTo(task.id);
    const started = await store.start(task.id, task, { runnerId: 'r1', attempt: 1 });
    assert.equal(cutter.cuts, cutsBefore + 1, 'the answer to start was cut (else this test proves nothing)');
    assert.deepEqual(started, { outcome: 'started', attempts: 1, outputOffsets: { stdout: 0, stderr: 0 } });
    assert.equal((await store.get(task.id))?.attempts, 1);
    assert.deepEqual(await statusEvents(task.id), ['queued', 'running']);
    assert.deepEqual(await auditActions(task.id), ['task.created', 'task.started']);
  });

  test("a retried attempt's start resent: still that attempt, with the output offsets of its first answer", async () => {
    const task = queuedTaskRecord();
    await store.create(task);
    await store.start(task.id, task);
    assert.ok(await store.appendOutput(task.id, 'stdout', 'lost attempt\n', 0));
    cutter.cutAnswerTo(task.id);
    const cutsBefore = cutter.cuts;
    const retry = await store.start(task.id, task, { runnerId: 'r2', attempt: 2 });
    assert.equal(cutter.cuts, cutsBefore + 1);
    assert.deepEqual(retry, { outcome: 'started', attempts: 2, outputOffsets: { stdout: 13, stderr: 0 } });
    assert.deepEqual(await statusEvents(task.id), ['queued', 'running', 'running']);
    assert.deepEqual(await auditActions(task.id), ['task.created', 'task.started', 'task.retried']);
  });

  test('finish: answered true (not "someone else ended it"), one terminal event, one entry', async () => {
    const task = queuedTaskRecord();
    await store.create(task);
    await store.start(task.id, task);
    cutter.cutAnswerTo(task.id);
    const cutsBefore = cutter.cuts;
    const finished = await store.transition(task.id, 'succeeded', ['running'], { finishedAt: new Date().toISOString() });
    assert.equal(cutter.cuts, cutsBefore + 1);
    assert.equal(finished, true, 'a resent finish is the same finish');
    assert.equal((await store.get(task.id))?.status, 'succeeded');
    assert.deepEqual(await statusEvents(task.id), ['queued', 'running', 'succeeded']);
    assert.deepEqual(await auditActions(task.id), ['task.created', 'task.started', 'task.succeeded']);
    // The record expires after its retention, as any finished task's does.
    const ttl = await direct.pttl(redisKeys.task(task.id));
    assert.ok(ttl > 0 && ttl <= 60_000, `retention set: ${ttl}`);
  });

  test("a capability call's claim: still this call's to make, not one \"in progress\" elsewhere (which would end uncertain)", async () => {
    const task = queuedTaskRecord();
    await store.create(task);
    await store.start(task.id, task);
    const records = new CallRecords(viaCutter, 60_000);
    const key = callKey(task.id, 1, 'tickets.create', { title: 'x' });
    const stamp = () => producer.stamp({ tenant: task.tenantId, taskId: task.id, action: 'capability.call.started', outcome: 'success', details: { seq: 1 } });
    // Warm the claim script (see before()) on another position.
    await records.claim(task.id, 0, callKey(task.id, 0, 'tickets.create', {}), 1, true, stamp());
    const cutsBefore = cutter.cuts;
    cutter.cutAnswerTo(key);
    assert.deepEqual(await records.claim(task.id, 1, key, 1, true, stamp()), { kind: 'fresh' });
    assert.equal(cutter.cuts, cutsBefore + 1);
    assert.equal((await records.get(task.id, 1))?.state, 'started');
    assert.deepEqual((await auditActions(task.id)).filter((a) => a === 'capability.call.started'), ['capability.call.started', 'capability.call.started']);
    // A claim of the same call by this attempt that is not the resent one still finds it running.
    assert.equal((await records.claim(task.id, 1, key, 1, true, stamp())).kind, 'in_progress');
  });

  test('the grant plan: one task.grants.applying entry', async () => {
    const task = queuedTaskRecord();
    await store.create(task);
    await store.start(task.id, task);
    const planned = [{ grant: 'g', path: 'notes.txt', change: 'modified' as const, sha256: 'a'.repeat(64), size: 3 }];
    // Warm the script (see before()) on another task.
    const other = queuedTaskRecord();
    await store.create(other);
    await store.recordGrantPlan(other.id, planned);
    const cutsBefore = cutter.cuts;
    cutter.cutAnswerTo(task.id);
    await store.recordGrantPlan(task.id, planned);
    assert.equal(cutter.cuts, cutsBefore + 1);
    assert.deepEqual(await auditActions(task.id), ['task.created', 'task.started', 'task.grants.applying']);
    // A second plan (another command, another stamp) is still recorded.
    await store.recordGrantPlan(task.id, planned);
    assert.deepEqual(await auditActions(task.id), ['task.created', 'task.started', 'task.grants.applying', 'task.grants.applying']);
  });

  test('another change to the same status is still refused: only the very same command is recognised', async () => {
    const task = queuedTaskRecord();
    await store.create(task);
    await store.start(task.id, task);
    assert.equal(await store.transition(task.id, 'cancelled', ['queued', 'running']), true);
    assert.equal(await store.transition(task.id, 'cancelled', ['queued', 'running']), false);
    assert.deepEqual(await statusEvents(task.id), ['queued', 'running', 'cancelled']);
  });
});
