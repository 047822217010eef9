/**
 * A harness that crashes (SIGKILL) under its clients. Real processes: the harness the clients
 * talk to is the real `harness/server.ts` process, SIGKILLed while a task streams its events and
 * while a `wait` is in flight, then started again; a second replica is the real app in this
 * process; the runner is a real in-process runner (BullMQ worker, isolate host child processes)
 * on this file's own queue, on real Redis. Nothing is mocked.
 *
 * - an SSE client sees the stream break (not end cleanly: that would mean the task ended),
 *   reconnects to the restarted harness — and to the other replica — with `Last-Event-ID`, and
 *   gets every event after that id exactly once, in order: nothing missed, nothing repeated;
 * - a `wait` in flight ends with a connection error, never an answer; retried with its
 *   Idempotency-Key on the restarted harness it answers with the one task, finished.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import { after, before, test } from 'node:test';
import { spawnHarness, type HarnessProcess } from '../helpers/harness-process.ts';
import { openSse, type SseEvent } from '../helpers/sse.ts';
import { AGENTS, REDIS_URL, startStack, writeAgentsFile, type Stack } from '../helpers/stack.ts';

let stack: Stack;
let agentsFile: string;
const harnesses: HarnessProcess[] = [];

before(async () => {
  agentsFile = await writeAgentsFile();
  stack = await startStack({ harnessEnv: { AIRLOCK_AGENTS_FILE: agentsFile } });
});
after(async () => {
  for (const h of harnesses) await h.kill();
  await stack.close();
});

async function startHarnessProcess(): Promise<HarnessProcess> {
  const harness = await spawnHarness({
    REDIS_URL,
    AIRLOCK_TASK_QUEUE: stack.queueName,
    AIRLOCK_AGENTS_FILE: agentsFile,
    RATE_LIMIT_TASK_CREATES_PER_MIN: '1000',
    RATE_LIMIT_READS_PER_MIN: '100000',
  });
  harnesses.push(harness);
  return harness;
}

const LINES = 30;
/** Prints LINES lines, one every 100 ms (busy-waiting: isolates have no timers), then 42. */
const STREAMING_TASK = {
  runtime: 'javascript',
  code: `let t = Date.now(); for (let i = 0; i < ${LINES}; i++) { while (Date.now() - t < 100) {} t = Date.now(); console.log('line ' + i); } 42`,
  timeoutMs: 30_000,
};

const auth = { authorization: `Bearer ${AGENTS.alice.key}` };
const port = (h: HarnessProcess) => Number(new URL(h.url).port);

async function post(h: HarnessProcess, body: unknown, key: string): Promise<{ status: number; body: string }> {
  const res = await fetch(`${h.url}/v1/tasks`, {
    method: 'POST',
    headers: { ...auth, 'content-type': 'application/json', 'idempotency-key': `"${key}"` },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: await res.text() };
}

/** A POST with `wait` on a raw socket: resolves with the answer, or rejects with the connection error. */
function postWaiting(h: HarnessProcess, body: unknown, key: string): Promise<{ status: number; body: string }> {
  const payload = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port: port(h),
        path: '/v1/tasks',
        method: 'POST',
        headers: { ...auth, 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload), 'idempotency-key': `"${key}"` },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => (res.complete ? resolve({ status: res.statusCode ?? 0, body: text }) : reject(new Error('incomplete answer'))));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

/** The output lines of `events`, in order. */
const linesOf = (events: SseEvent[]) =>
  events
    .filter((e) => e.event === 'output')
    .flatMap((e) => String(e.data['data']).split('\n').filter(Boolean));

test('SIGKILLed harness: SSE clients resume with Last-Event-ID on a restarted harness and on another replica and miss no event; a wait in flight ends with a connection error', async () => {
  let a = await startHarnessProcess();
  const created = await post(a, STREAMING_TASK, randomUUID());
  assert.equal(created.status, 201, created.body);
  const taskId = JSON.parse(created.body).id as string;

  // A wait in flight on the same harness (another task that takes as long).
  const waitKey = randomUUID();
  const waiting = postWaiting(a, { ...STREAMING_TASK, wait: 30 }, waitKey).then(
    (answer) => ({ answer }),
    (error: unknown) => ({ error }),
  );

  // Read part of the stream, then kill the harness under it.
  const stream = await openSse(port(a), `/v1/tasks/${taskId}/events`, auth);
  assert.equal(stream.status, 200);
  const before: SseEvent[] = [];
  while (linesOf(before).length < 5) {
    const e = await stream.next();
    assert.ok(e, 'the stream ended before the harness was killed');
    before.push(e);
  }
  await a.kill();
  for (let e = await stream.next(); e; e = await stream.next()) before.push(e);
  assert.equal(stream.broken, true, 'the stream must break, not end as if the task had ended');
  assert.ok(!before.some((e) => e.event === 'status' && ['succeeded', 'failed'].includes(String(e.data['status']))), 'the task was still running at the kill');

  const waited = await waiting;
  assert.ok('error' in waited, `the wait in flight got an answer from a dead harness: ${JSON.stringify(waited)}`);

  // Resume on a restarted harness and on the other replica (in-process, over a real listener).
  const lastId = before.at(-1)!.id;
  assert.ok(lastId, 'every event carries an id');
  a = await startHarnessProcess();
  await stack.app.listen({ port: 0, host: '127.0.0.1' });
  const replicaPort = (stack.app.server.address() as { port: number }).port;
  const resumed = await Promise.all(
    [port(a), replicaPort].map(async (p) => {
      const s = await openSse(p, `/v1/tasks/${taskId}/events`, { ...auth, 'last-event-id': lastId });
      assert.equal(s.status, 200);
      const rest = await s.rest();
      assert.equal(s.broken, false);
      return rest;
    }),
  );
  // The whole stream, from the start, as the reference.
  const full = await (await openSse(port(a), `/v1/tasks/${taskId}/events`, auth)).rest();
  const ids = (events: SseEvent[]) => events.map((e) => e.id);
  for (const after of resumed) {
    assert.deepEqual([...ids(before), ...ids(after)], ids(full), 'resumed stream = the full stream: nothing missed or repeated');
    assert.deepEqual(linesOf([...before, ...after]), Array.from({ length: LINES }, (_, i) => `line ${i}`));
    assert.equal(after.at(-1)?.data['status'], 'succeeded');
  }

  // The wait's request, retried with its key, answers with its one task, finished.
  const retried = await postWaiting(a, { ...STREAMING_TASK, wait: 30 }, waitKey);
  assert.equal(retried.status, 201, retried.body);
  assert.equal(JSON.parse(retried.body).status, 'succeeded');
  assert.equal(JSON.parse(retried.body).result.value, 42);
});
