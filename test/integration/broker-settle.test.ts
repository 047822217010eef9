/**
 * A call is answered as its record settles (harness/broker/broker-call.ts): the settle is written
 * to Redis before the answer leaves, and the broker does not wait for Redis's reply. What that
 * must never change: a settle that fails leaves the call `started` (so a retried attempt runs it
 * again with its key, or finds it uncertain), and the code gets the answer the target gave (not
 * an error for a call that did happen). And when nothing fails, each record is settled, with its
 * audit entry.
 *
 * Real parts: the harness and its broker listener in this process, a real Redis reached through
 * a loopback proxy (test/helpers/redis-reply-cutter.ts) that the target (a loopback HTTP server
 * of the test's own) takes down while it answers, the way a Redis lost at that moment looks to
 * the harness.
 */
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import http from 'node:http';
import type net from 'node:net';
import { after, before, test } from 'node:test';
import { Redis } from 'ioredis';
import { callKey, callRecordsKey, type CallRecord } from '../../harness/broker/call-records.ts';
import { waitFor } from '../helpers/audit.ts';
import { activatePolicies, auditDrafts, callBroker, permitInvoke, putCapability, runningTask } from '../helpers/capabilities.ts';
import { startRedisReplyCutter, type RedisReplyCutter } from '../helpers/redis-reply-cutter.ts';
import { REDIS_URL, startStack, type Stack } from '../helpers/stack.ts';

const ADMIN_KEY = `admin-${randomUUID()}`;
let stack: Stack;
let direct: Redis;
let proxy: RedisReplyCutter;
let target: http.Server;
let targetPort = 0;
/** Run by the target after it read a request and before it answers. */
let beforeAnswer: () => Promise<void> = async () => {};

before(async () => {
  direct = new Redis(REDIS_URL);
  const upstream = new URL(REDIS_URL);
  proxy = await startRedisReplyCutter(Number(upstream.port || 6379), upstream.hostname);
  const viaProxy = new URL(proxy.url);
  viaProxy.username = upstream.username;
  viaProxy.password = upstream.password;
  viaProxy.pathname = upstream.pathname;

  target = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void beforeAnswer().then(() => {
        const body = JSON.stringify({ echoed: JSON.parse(Buffer.concat(chunks).toString('utf8') || 'null') });
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
        res.end(body);
      });
    });
  });
  await new Promise<void>((r) => target.listen(0, '127.0.0.1', r));
  targetPort = (target.address() as net.AddressInfo).port;

  stack = await startStack({
    runner: false,
    broker: true,
    harnessEnv: {
      REDIS_URL: viaProxy.toString(),
      AIRLOCK_ADMIN_API_KEY: ADMIN_KEY,
      AIRLOCK_ADMIN_TENANT: 'acme',
      AIRLOCK_VAULT_KEY: randomBytes(32).toString('base64'),
      CAPABILITY_PRIVATE_TARGETS: `127.0.0.1:${targetPort}`,
    },
  });
  await putCapability(stack, ADMIN_KEY, 'orders.ship', {
    description: 'Ships an order',
    input: { type: 'object', properties: { order: { type: 'string' } }, required: ['order'] },
    risk: 'write',
    implementation: { type: 'http', method: 'POST', url: `http://127.0.0.1:${targetPort}/ship`, body: 'input' },
  });
  await activatePolicies(stack, ADMIN_KEY, permitInvoke('ship', ['orders.ship']));
});

after(async () => {
  proxy.up();
  await stack?.close();
  direct.disconnect();
  await proxy.close();
  target.close();
});

async function recordOf(taskId: string, seq: number): Promise<CallRecord | null> {
  const raw = await direct.hget(callRecordsKey(taskId), String(seq));
  return raw === null ? null : (JSON.parse(raw) as CallRecord);
}

/**
 * The record once settled (within 2 s). Read on a connection of the test's own: the settle goes
 * out right after the answer, on the harness's connection, so a read on another one can overtake it.
 */
function settledRecordOf(taskId: string, seq: number): Promise<CallRecord> {
  return waitFor(async () => {
    const rec = await recordOf(taskId, seq);
    return rec?.state === 'settled' ? rec : null;
  }, `call #${seq} of ${taskId} settled`, 2000);
}

test('when nothing fails, each call is answered and its record settled, with its answer audited', async () => {
  const task = await runningTask(stack, ['orders.ship']);
  for (let seq = 0; seq < 20; seq++) {
    const input = { order: `o-${seq}` };
    const res = await callBroker(stack, task.token, { taskId: task.id, attempt: task.attempt, seq, name: 'orders.ship', input });
    assert.equal(res.status, 200);
    assert.deepEqual(res.body, { ok: true, output: { echoed: input } });
    const rec = await settledRecordOf(task.id, seq);
    assert.equal(rec?.state, 'settled', `call #${seq}`);
    assert.equal(rec?.key, callKey(task.id, seq, 'orders.ship', input));
  }
  const answered = (await auditDrafts(direct, task.id)).filter((d) => d.action === 'capability.call');
  assert.equal(answered.length, 20);
});

test('a settle that fails after the target answered: the code gets that answer, the call stays started', async () => {
  const task = await runningTask(stack, ['orders.ship']);
  const input = { order: 'o-cut' };
  // Redis is lost while the target answers: the claim went through, the settle cannot.
  beforeAnswer = async () => proxy.down();
  let res: Awaited<ReturnType<typeof callBroker>>;
  try {
    res = await callBroker(stack, task.token, { taskId: task.id, attempt: task.attempt, seq: 0, name: 'orders.ship', input });
  } finally {
    beforeAnswer = async () => {};
  }
  assert.equal(res.status, 200);
  assert.deepEqual(res.body, { ok: true, output: { echoed: input } }, 'the answer the target gave, not capability_unavailable');

  // Give the failed settle time to give up, then let Redis be reached again.
  await new Promise((r) => setTimeout(r, 1000));
  proxy.up();
  const rec = await recordOf(task.id, 0);
  assert.equal(rec?.state, 'started', 'the call is not settled: a retried attempt reruns it with its key or finds it uncertain');
  assert.equal(rec?.key, callKey(task.id, 0, 'orders.ship', input));
  const actions = (await auditDrafts(direct, task.id)).map((d) => d.action);
  assert.ok(actions.includes('capability.call.started'));
  assert.ok(!actions.includes('capability.call'), 'no answer entry: it was to be written with the settle');

  // The harness reconnects and its broker works again.
  const deadline = Date.now() + 15_000;
  for (;;) {
    const again = await callBroker(stack, task.token, { taskId: task.id, attempt: task.attempt, seq: 1, name: 'orders.ship', input: { order: 'o-after' } }).catch(() => null);
    if (again?.status === 200 && again.body.ok) break;
    assert.ok(Date.now() < deadline, `the broker did not recover: ${JSON.stringify(again?.body)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  assert.equal((await settledRecordOf(task.id, 1))?.state, 'settled');
});
