/**
 * The concurrency cap (ActiveTasks, behind `agent-concurrent-tasks`) on a real 3-master Redis
 * Cluster (helpers/redis-cluster.ts: redis-server --cluster-enabled, redis-cli --cluster create;
 * nothing faked). Its script may touch only the key it declares: the task records it prunes by
 * live in slots all over the cluster (checked below), and the script that used to read them by
 * name failed there ("Lua script attempted to access a non local key in a cluster node").
 * Task records are written as the task store writes their `status` field; no app, no runner.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { Cluster } from 'ioredis';
import { ActiveTasks } from '../../harness/ratelimit/active-tasks.ts';
import { redisKeys } from '../../protocol/redis-keys.ts';
import { startRedisCluster, type RedisClusterFixture } from '../helpers/redis-cluster.ts';

let cluster: RedisClusterFixture;
let redis: Cluster;

before(async () => {
  cluster = await startRedisCluster();
  redis = new Cluster(cluster.ports.map((port) => ({ host: '127.0.0.1', port })));
  await redis.ping();
});
after(async () => {
  redis?.disconnect();
  await cluster?.stop();
});

async function queuedTask(): Promise<string> {
  const id = randomUUID();
  await redis.hset(redisKeys.task(id), 'status', 'queued', 'id', id);
  return id;
}

describe('ActiveTasks on a Redis Cluster', () => {
  test('ended and vanished tasks free their slots although their records live on other nodes', async () => {
    const active = new ActiveTasks({ redis, reservationTtlMs: 60_000, setTtlMs: 60_000 });
    const p = `cluster-${randomUUID()}`;
    const ids: string[] = [];
    for (let i = 0; i < 8; i++) {
      const { reservation } = await active.admit(p, 8);
      assert.ok(reservation, `admission ${i}`);
      const id = await queuedTask();
      await active.confirm(reservation, id);
      ids.push(id);
    }
    // The records are spread over the masters (else this test would prove nothing).
    const owners = new Set<string>();
    for (const id of ids) {
      const slot = Number(await redis.cluster('KEYSLOT', redisKeys.task(id)));
      owners.add(String(redis.slots[slot]?.[0]));
    }
    assert.ok(owners.size >= 2, `task records on ${[...owners].join(', ')}`);
    assert.equal((await active.admit(p, 8)).reservation, null, 'at the cap');
    for (const id of ids.slice(0, 3)) await redis.hset(redisKeys.task(id), 'status', 'succeeded');
    await redis.hset(redisKeys.task(ids[3]!), 'status', 'cancelled');
    await redis.del(redisKeys.task(ids[4]!));
    await redis.hset(redisKeys.task(ids[5]!), 'status', 'running');
    assert.equal(await active.count(p), 3, 'running and queued tasks still count');
    assert.ok((await active.admit(p, 8)).reservation);
  });

  test('concurrent admissions never exceed the cap', async () => {
    const active = new ActiveTasks({ redis, reservationTtlMs: 60_000, setTtlMs: 60_000 });
    const p = `cluster-${randomUUID()}`;
    const results = await Promise.all(Array.from({ length: 30 }, () => active.admit(p, 5)));
    assert.equal(results.filter((r) => r.reservation).length, 5);
    assert.equal(await active.count(p), 5);
  });
});
