/**
 * ActiveTasks (the concurrency count behind `agent-concurrent-tasks`) on a real Redis, with real
 * task records written by the shared TaskStore: the count can never leak — terminal and expired
 * tasks and abandoned reservations free their slots; live tasks keep theirs; concurrent
 * admissions never exceed the cap. No app, no runner.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { redisKeys } from '../../protocol/redis-keys.ts';
import { TaskStore } from '../../protocol/task-store.ts';
import { ActiveTasks } from '../../harness/ratelimit/active-tasks.ts';
import { REDIS_URL } from '../helpers/stack.ts';
import { queuedTaskRecord } from '../helpers/task-record.ts';

let redis: Redis;
let store: TaskStore;
const partitions: string[] = [];
const tasks: string[] = [];
const TENANT = `rl-active-${randomUUID().slice(0, 8)}`;

before(() => {
  redis = new Redis(REDIS_URL);
  store = new TaskStore({ redis, retentionMs: 60_000 });
});
after(async () => {
  for (const p of partitions) await redis.del(ActiveTasks.key(p));
  for (const id of tasks) await redis.del(redisKeys.task(id), redisKeys.events(id));
  await redis.del(redisKeys.agentTasks(TENANT, 'a'));
  redis.disconnect();
});

function partition(): string {
  const p = `test-${randomUUID()}`;
  partitions.push(p);
  return p;
}

async function queuedTask(): Promise<string> {
  const task = queuedTaskRecord(TENANT, 'a');
  await store.create(task);
  tasks.push(task.id);
  return task.id;
}

describe('ActiveTasks', () => {
  test('terminal tasks (any way they end) and vanished records free their slots; live ones do not', async () => {
    const active = new ActiveTasks({ redis, reservationTtlMs: 60_000, setTtlMs: 60_000 });
    const p = partition();
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) {
      const { reservation } = await active.admit(p, 4);
      assert.ok(reservation);
      const id = await queuedTask();
      await active.confirm(reservation, id);
      ids.push(id);
    }
    assert.equal((await active.admit(p, 4)).reservation, null);
    const [cancelledQueued, runningThenFailed, running, vanished] = ids as [string, string, string, string];
    assert.ok(await store.transition(cancelledQueued, 'cancelled', ['queued']));
    assert.ok(await store.transition(runningThenFailed, 'running', ['queued']));
    assert.ok(await store.transition(runningThenFailed, 'failed', ['running']));
    assert.ok(await store.transition(running, 'running', ['queued']));
    await redis.del(redisKeys.task(vanished));
    assert.equal(await active.count(p), 1, 'only the running task still counts');
    // A retry of a job never adds a member: re-confirming a task id is still one slot.
    const { reservation } = await active.admit(p, 4);
    assert.ok(reservation);
    await active.confirm(reservation, running);
    assert.equal(await active.count(p), 1);
  });

  test('a reservation whose request never answered is dropped after its TTL; a released one at once', async () => {
    const p = partition();
    const fresh = new ActiveTasks({ redis, reservationTtlMs: 60_000, setTtlMs: 60_000 });
    const r1 = await fresh.admit(p, 2);
    assert.ok(r1.reservation);
    await fresh.release(r1.reservation);
    assert.equal(await fresh.count(p), 0);
    assert.ok((await fresh.admit(p, 2)).reservation);
    assert.equal(await fresh.count(p), 1, 'an abandoned reservation holds its slot while young');
    // The same set seen by a harness with a zero reservation TTL: the abandoned one is stale.
    const expired = new ActiveTasks({ redis, reservationTtlMs: -1, setTtlMs: 60_000 });
    assert.equal(await expired.count(p), 0);
  });

  test('concurrent admissions never exceed the cap', async () => {
    const active = new ActiveTasks({ redis, reservationTtlMs: 60_000, setTtlMs: 60_000 });
    const p = partition();
    const results = await Promise.all(Array.from({ length: 30 }, () => active.admit(p, 5)));
    assert.equal(results.filter((r) => r.reservation).length, 5);
    assert.equal(await active.count(p), 5);
  });
});
