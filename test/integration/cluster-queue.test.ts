/**
 * BullMQ queues on a real 3-master Redis Cluster (helpers/redis-cluster.ts; nothing faked),
 * through the client factory harness and runner share (protocol/redis-connection.ts): with the
 * hash-tagged prefix `{airlock}` every key of a queue lives in one slot, so jobs are added and
 * processed; with BullMQ's default prefix its scripts touch keys in several slots and the cluster
 * refuses them (which is why the prefix must be a hash tag there). And the prefix setting reaches
 * both sides: a real harness app and a real runner on one standalone Redis, both with
 * AIRLOCK_QUEUE_PREFIX set, run `1+1`, and the queue keys carry that prefix.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { Queue, Worker } from 'bullmq';
import { Cluster } from 'ioredis';
import {
  CLUSTER_QUEUE_PREFIX,
  ClusterNodesSchema,
  createRedisClient,
  hasHashTag,
  queuePrefixFor,
  type RedisConnectionConfig,
} from '../../protocol/redis-connection.ts';
import { startRedisCluster, type RedisClusterFixture } from '../helpers/redis-cluster.ts';
import { startStack } from '../helpers/stack.ts';

let cluster: RedisClusterFixture;
let config: RedisConnectionConfig;
const clients: Cluster[] = [];
const client = () => {
  const c = createRedisClient(config, { maxRetriesPerRequest: null }) as Cluster;
  clients.push(c);
  return c;
};

before(async () => {
  cluster = await startRedisCluster();
  config = {
    REDIS_URL: 'redis://127.0.0.1:6379',
    REDIS_CLUSTER_NODES: ClusterNodesSchema.parse(cluster.ports.map((p) => `127.0.0.1:${p}`).join(',')),
  };
});
after(async () => {
  for (const c of clients) c.disconnect();
  await cluster?.stop();
});

describe('BullMQ on a Redis Cluster', () => {
  test('the factory makes a cluster client and the prefix defaults to a hash tag there', async () => {
    const c = client();
    assert.ok(c instanceof Cluster);
    assert.equal(await c.ping(), 'PONG');
    assert.equal(queuePrefixFor(config, undefined), CLUSTER_QUEUE_PREFIX);
    assert.equal(queuePrefixFor({ REDIS_URL: config.REDIS_URL }, undefined), 'bull');
    assert.ok(hasHashTag(CLUSTER_QUEUE_PREFIX));
    assert.equal(hasHashTag('bull'), false);
  });

  test('with the {airlock} prefix jobs are added and processed', async () => {
    const name = `cluster-${randomUUID()}`;
    const prefix = queuePrefixFor(config, undefined);
    const queue = new Queue(name, { connection: client(), prefix });
    const worker = new Worker(name, async (job) => (job.data as { n: number }).n * 2, { connection: client(), prefix, concurrency: 4 });
    try {
      const jobs = await Promise.all(Array.from({ length: 20 }, (_, n) => queue.add('double', { n })));
      // Polled from the jobs' own state (not QueueEvents' stream, whose blocking read once
      // missed its 20 s deadline on a slow CI machine): bounded by the test's own deadline.
      const deadline = Date.now() + 60_000;
      let results: unknown[] = [];
      for (;;) {
        const now = await Promise.all(jobs.map((j) => queue.getJob(j.id as string)));
        const failed = now.find((j) => j?.failedReason);
        assert.equal(failed, undefined, `a job failed: ${failed?.failedReason}`);
        if (now.every((j) => j?.finishedOn)) {
          results = now.map((j) => j?.returnvalue);
          break;
        }
        assert.ok(Date.now() < deadline, `${now.filter((j) => !j?.finishedOn).length} of 20 jobs not finished after 60 s`);
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.deepEqual(results, Array.from({ length: 20 }, (_, n) => n * 2));
    } finally {
      await worker.close();
      await queue.obliterate({ force: true }).catch(() => {});
      await queue.close();
    }
  });

  test("with BullMQ's default prefix the cluster refuses its scripts", async () => {
    const queue = new Queue(`cluster-${randomUUID()}`, { connection: client(), prefix: 'bull' });
    try {
      await assert.rejects(queue.add('x', {}), /CROSSSLOT|cross|slot/i);
    } finally {
      await queue.close();
    }
  });
});

test('AIRLOCK_QUEUE_PREFIX reaches the harness and the runner alike (standalone Redis)', async () => {
  const prefix = `{airlock-${randomUUID().slice(0, 8)}}`;
  const stack = await startStack({ harnessEnv: { AIRLOCK_QUEUE_PREFIX: prefix }, runnerEnv: { AIRLOCK_QUEUE_PREFIX: prefix } });
  try {
    assert.equal(stack.deps.queue.opts.prefix, prefix);
    const res = await stack.app.inject({
      method: 'POST',
      url: '/v1/tasks',
      headers: stack.headers('alice'),
      payload: { runtime: 'javascript', code: '1+1', wait: 10 },
    });
    assert.equal(res.statusCode, 201, res.body);
    assert.equal(res.json().result?.value, 2, res.body);
    assert.ok((await stack.deps.redis.exists(`${prefix}:${stack.queueName}:meta`)) === 1, 'the queue lives under the prefix');
  } finally {
    await stack.close();
  }
});
