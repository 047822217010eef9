/**
 * The broker listener writes no line per request at LOG_LEVEL=info (each call is an audit entry
 * and a metric already; two synchronous writes per call would cost it a good part of what the
 * broker costs), and still logs what its code logs. The real broker app over real HTTP, with the
 * stack's real broker parts (Redis, audit), its logger writing to a stream the test reads.
 */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, before, test } from 'node:test';
import { buildBrokerApp } from '../../harness/broker/broker-app.ts';
import { runningTask } from '../helpers/capabilities.ts';
import { startStack, type Stack } from '../helpers/stack.ts';

let stack: Stack;
const lines: { level: number; msg?: string }[] = [];
const stream = new Writable({
  write(chunk: Buffer, _enc, done) {
    for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) lines.push(JSON.parse(line) as { level: number; msg?: string });
    done();
  },
});

before(async () => {
  stack = await startStack({ runner: false, broker: true });
});
after(async () => {
  await stack?.close();
});

test('no line per broker request at info level; what the broker logs itself still appears', async () => {
  const parts = stack.brokerParts;
  assert.ok(parts);
  const logger = { level: 'info', stream };
  const app = await buildBrokerApp(parts.deps, { problemBaseUrl: stack.deps.config.PROBLEM_BASE_URL, logger });
  const url = await app.listen({ port: 0, host: '127.0.0.1' });
  try {
    const task = await runningTask(stack, ['tickets.create']);
    const post = (body: unknown, token = task.token) =>
      fetch(`${url}/v1/broker/calls`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify(body),
      });
    const call = { version: 'v1', taskId: task.id, attempt: task.attempt, seq: 0, name: 'tickets.create', input: { title: 'x' } };
    assert.equal((await post(call, 'bt_not-the-token')).status, 401);
    assert.equal((await post({ version: 'v1' })).status, 400);
    // Undeclared in the tenant (no such capability): a full pass through the stages, answered 200.
    const answered = await post({ ...call, name: 'nothing.here' });
    assert.equal(answered.status, 200);
    assert.equal(((await answered.json()) as { error?: { code: string } }).error?.code, 'capability_denied');
    app.log.info('probe');
    await new Promise((r) => setImmediate(r));
    const msgs = lines.map((l) => l.msg);
    assert.ok(msgs.includes('probe'), `the test reads the listener's log (${JSON.stringify(msgs)})`);
    assert.deepEqual(msgs.filter((m) => m === 'incoming request' || m === 'request completed'), []);
  } finally {
    await app.close();
  }
});
