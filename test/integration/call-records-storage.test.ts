/**
 * Capability call records are storage like any other (the "unbounded storage" hole must not
 * reopen through them): a task's records have a cap (CAPABILITY_RECORDS_MAX_BYTES) past which
 * its calls are refused without reaching the target, a task declaring capabilities reserves
 * that cap in its tenant's quota, and when the task ends its records expire with it and count
 * in the tenant's usage. Real harness, broker listener, Redis and an HTTP target on loopback.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { callRecordsKey } from '../../harness/broker/call-records.ts';
import { redisKeys } from '../../protocol/redis-keys.ts';
import { activatePolicies, callBroker, permitInvoke, putCapability, resetPolicies, runningTask } from '../helpers/capabilities.ts';
import { REDIS_URL, startStack, type Stack } from '../helpers/stack.ts';
import { startTargetFixture, type TargetFixture } from '../helpers/target-fixture.ts';

const ADMIN_KEY = `admin-${randomUUID()}`;
const RECORDS_MAX = 6000;
const MAX_RESPONSE = 4096;
let stack: Stack;
let target: TargetFixture;
let redis: Redis;

before(async () => {
  redis = new Redis(REDIS_URL);
  target = await startTargetFixture({ tickets: 't', payments: 'p', basic: 'b:c' });
  stack = await startStack({
    runner: false,
    broker: true,
    harnessEnv: {
      AIRLOCK_ADMIN_API_KEY: ADMIN_KEY,
      AIRLOCK_ADMIN_TENANT: 'acme',
      CAPABILITY_PRIVATE_TARGETS: `127.0.0.1:${target.port}`,
      CAPABILITY_MAX_RESPONSE_BYTES: String(MAX_RESPONSE),
      CAPABILITY_RECORDS_MAX_BYTES: String(RECORDS_MAX),
    },
  });
  await putCapability(stack, ADMIN_KEY, 'big.read', {
    description: 'Answers n bytes',
    input: { type: 'object', properties: { bytes: { type: 'integer' } }, required: ['bytes'], additionalProperties: false },
    risk: 'read',
    implementation: { type: 'http', method: 'GET', url: `${target.base}/big?bytes={input.bytes}` },
  });
  await activatePolicies(stack, ADMIN_KEY, permitInvoke('storage-test', ['big.read']));
});
after(async () => {
  await resetPolicies(stack, ADMIN_KEY);
  await stack.close();
  await target.close();
  redis.disconnect();
});

const bigCalls = () => target.seen.filter((r) => r.url.startsWith('/big')).length;

async function recordBytes(taskId: string): Promise<number> {
  const all = await redis.hgetall(callRecordsKey(taskId));
  return Object.values(all).reduce((n, v) => n + Buffer.byteLength(v), 0);
}

describe('call records are bounded and counted', () => {
  test('past the cap a call is refused before it reaches the target; earlier calls still replay', async () => {
    const t = await runningTask(stack, ['big.read']);
    const call = (seq: number) => callBroker(stack, t.token, { taskId: t.id, attempt: 1, seq, name: 'big.read', input: { bytes: 2500 } });
    let seq = 0;
    const before = bigCalls();
    for (;;) {
      const res = await call(seq);
      if (!res.body.ok) {
        assert.equal(res.body.error.code, 'capability_failed', JSON.stringify(res.body));
        assert.match(res.body.error.message, /call records hold \d+ bytes.*CAPABILITY_RECORDS_MAX_BYTES = 6000/);
        break;
      }
      seq++;
      assert.ok(seq < 10, 'the cap stops the calls');
    }
    // Each ran call holds its 2500-byte answer: the cap is passed after 3, the 4th is refused.
    assert.equal(seq, 3);
    assert.equal(bigCalls() - before, 3, 'the refused call never reached the target');
    // The counter on the record is what the records hold.
    assert.equal(Number(await redis.hget(redisKeys.task(t.id), 'callRecordBytes')), await recordBytes(t.id));
    // A call already answered is still answered from its record, cap or not.
    const again = await call(1);
    assert.equal(again.body.ok, true, JSON.stringify(again.body));
    assert.equal((again.body as { replayed?: boolean }).replayed, true);
    assert.equal(bigCalls() - before, 3);
  });

  test('when the task ends, its records take its retention and count in the tenant usage', async () => {
    const t = await runningTask(stack, ['big.read']);
    for (let seq = 0; seq < 2; seq++) {
      const res = await callBroker(stack, t.token, { taskId: t.id, attempt: 1, seq, name: 'big.read', input: { bytes: 2000 } });
      assert.equal(res.body.ok, true, JSON.stringify(res.body));
    }
    assert.ok(await stack.deps.store.transition(t.id, 'succeeded', ['running'], {}));
    const ttl = await redis.pttl(callRecordsKey(t.id));
    const taskTtl = await redis.pttl(redisKeys.task(t.id));
    assert.ok(ttl > 0 && Math.abs(ttl - taskTtl) < 5000, `the records expire with the task (${ttl} vs ${taskTtl})`);
    const counted = await redis.hget(redisKeys.storageBytes('acme'), t.id);
    assert.ok(counted, 'the task is in the tenant accounting');
    const redisBytes = Number(counted.split(',')[0]);
    assert.ok(redisBytes >= (await recordBytes(t.id)), `the records (${await recordBytes(t.id)} bytes) count in the task's ${redisBytes}`);
  });

  test('a task declaring capabilities reserves the records cap and one answer', async () => {
    const reserved = async (capabilities: string[] | undefined): Promise<number> => {
      const res = await stack.app.inject({
        method: 'POST',
        url: '/v1/tasks',
        headers: stack.headers('alice'),
        payload: { runtime: 'javascript', code: '1', ...(capabilities ? { capabilities } : {}) },
      });
      assert.equal(res.statusCode, 201, res.body);
      const id = (res.json() as { id: string }).id;
      const entry = await redis.hget(redisKeys.storageBytes('acme'), id);
      assert.ok(entry);
      return Number(entry.split(',')[0]);
    };
    const without = await reserved(undefined);
    const withCaps = await reserved(['big.read']);
    assert.equal(withCaps - without, RECORDS_MAX + MAX_RESPONSE);
  });
});
