/**
 * Broker tokens (protocol/broker-token.ts) on a real Redis with the real task store: a token is
 * issued only for the attempt a task is running, and accepted only for that attempt while the
 * task is live. Nothing faked.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { redisKeys } from '../../protocol/redis-keys.ts';
import { brokerTokenSha256, checkBrokerToken, issueBrokerToken } from '../../protocol/broker-token.ts';
import { TaskStore } from '../../protocol/task-store.ts';
import { REDIS_URL } from '../helpers/stack.ts';
import { queuedTaskRecord } from '../helpers/task-record.ts';

const redis = new Redis(REDIS_URL);
const store = new TaskStore({ redis, retentionMs: 60_000 });
after(() => redis.disconnect());

async function runningTask() {
  const task = queuedTaskRecord();
  await store.create(task);
  const started = await store.start(task.id, task);
  assert.equal(started.outcome, 'started');
  return { id: task.id, attempt: started.outcome === 'started' ? started.attempts : 0 };
}

describe('broker tokens', () => {
  test('issued for the running attempt; only its hash is stored; accepted for that attempt only', async () => {
    const { id, attempt } = await runningTask();
    const token = await issueBrokerToken(redis, id, attempt);
    assert.ok(token && /^bt_[A-Za-z0-9_-]{43}$/.test(token));
    const record = await store.get(id);
    assert.equal(record?.brokerTokenSha256, brokerTokenSha256(token));
    assert.ok(!JSON.stringify(await redis.hgetall(redisKeys.task(id))).includes(token), 'the token itself is not stored');
    assert.deepEqual(await checkBrokerToken(redis, id, attempt, token), { ok: true });
    assert.deepEqual(await checkBrokerToken(redis, id, attempt + 1, token), { ok: false, reason: 'wrong_attempt' });
    const other = `bt_${'A'.repeat(43)}`;
    assert.deepEqual(await checkBrokerToken(redis, id, attempt, other), { ok: false, reason: 'wrong_token' });
    assert.deepEqual(await checkBrokerToken(redis, id, attempt, 'Bearer x'), { ok: false, reason: 'malformed' });
  });

  test('not issued for an attempt the task is not running; dead once the task ends or is retried', async () => {
    const queued = queuedTaskRecord();
    await store.create(queued);
    assert.equal(await issueBrokerToken(redis, queued.id, 1), null, 'queued: no token');

    const { id, attempt } = await runningTask();
    assert.equal(await issueBrokerToken(redis, id, attempt + 1), null, 'another attempt: no token');
    const token = (await issueBrokerToken(redis, id, attempt)) as string;
    // A retry starts attempt 2 on another runner: attempt 1's token is refused from then on.
    const retried = await store.start(id, { tenantId: 'acme', agentId: 'alice' });
    assert.equal(retried.outcome, 'started');
    assert.deepEqual(await checkBrokerToken(redis, id, attempt, token), { ok: false, reason: 'wrong_attempt' });
    const token2 = (await issueBrokerToken(redis, id, attempt + 1)) as string;
    assert.deepEqual(await checkBrokerToken(redis, id, attempt + 1, token2), { ok: true });
    await store.transition(id, 'succeeded', ['running'], { finishedAt: new Date().toISOString() });
    assert.deepEqual(await checkBrokerToken(redis, id, attempt + 1, token2), { ok: false, reason: 'not_live' });
    assert.deepEqual(
      await checkBrokerToken(redis, '00000000-0000-4000-8000-000000000000', 1, token2),
      { ok: false, reason: 'no_task' },
    );
  });
});
