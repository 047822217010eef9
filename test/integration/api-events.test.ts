/**
 * Server-Sent Events and `wait` through the real harness listening on a real TCP port (read
 * with node:http as a stream), real Redis (event streams, pub/sub), real BullMQ and a real
 * in-process runner with isolate host processes. Nothing is faked.
 */
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { pollTask, startStack, TERMINAL, type Stack } from '../helpers/stack.ts';
import { runAgents } from '../helpers/run-agents.ts';
import { openSse, type SseEvent as SseEventOf, type SseStream } from '../helpers/sse.ts';

let stack: Stack;
let port: number;
before(async () => {
  const agents = await runAgents();
  stack = await startStack({ harnessEnv: agents.harnessEnv });
  await stack.app.listen({ port: 0, host: '127.0.0.1' });
  port = (stack.app.server.address() as AddressInfo).port;
});
after(async () => {
  for (const stream of openStreams) stream.close();
  await stack.close();
});

/** Streams opened by the tests: one left open by a failed test would keep the server from closing. */
const openStreams = new Set<SseStream<EventData>>();

interface EventData {
  type: string;
  status?: string;
  stream?: string;
  data?: string;
  at?: string;
  error?: { code: string };
}
type SseEvent = SseEventOf<EventData>;

/** Opens GET /v1/tasks/:id/events as alice. */
async function openEvents(id: string, lastEventId?: string): Promise<SseStream<EventData>> {
  const headers: Record<string, string> = stack.headers('alice', null);
  if (lastEventId) headers['last-event-id'] = lastEventId;
  const stream = await openSse<EventData>(port, `/v1/tasks/${id}/events`, headers);
  openStreams.add(stream);
  return stream;
}

function submit(body: Record<string, unknown>) {
  return stack.app.inject({
    method: 'POST',
    url: '/v1/tasks',
    headers: stack.headers('alice'),
    payload: body,
  });
}

/** Code that prints ten lines, about 80 ms apart, then returns "done". */
const PRINTER = `
for (let i = 0; i < 10; i++) {
  console.log('line ' + i + ' ' + 'x'.repeat(i));
  const t = Date.now();
  while (Date.now() - t < 80) {}
}
"done"`;

/** Events of the last finished task of the ordered-stream test, for the replay tests. */
let finishedId: string;
let finishedEvents: SseEvent[];

describe('GET /v1/tasks/:id/events (SSE)', () => {
  test('a running task streams: queued, running, its output in order, succeeded last, then the stream ends', async () => {
    const created = (await submit({ runtime: 'javascript', code: PRINTER })).json();
    const stream = await openEvents(created.id);
    assert.equal(stream.status, 200);
    assert.equal(stream.headers['content-type'], 'text/event-stream; charset=utf-8');
    assert.equal(stream.headers['cache-control'], 'no-store');
    const events = await stream.rest();

    const statuses = events.filter((e) => e.data.type === 'status').map((e) => e.data.status);
    assert.deepEqual(statuses, ['queued', 'running', 'succeeded']);
    assert.equal(events[0]?.data.status, 'queued');
    assert.equal(events[1]?.data.status, 'running');
    assert.equal(events.at(-1)?.data.status, 'succeeded');
    const outputs = events.slice(2, -1);
    assert.ok(outputs.length >= 1);
    for (const e of outputs) {
      assert.equal(e.data.type, 'output');
      assert.equal(e.data.stream, 'stdout');
    }
    for (const e of events) assert.equal(e.event, e.data.type, 'SSE event name = event type');
    // Ids are Redis stream ids, strictly increasing.
    for (let i = 1; i < events.length; i++) {
      const [a, b] = [events[i - 1]!.id, events[i]!.id].map((id) => id.split('-').map(BigInt));
      assert.ok(
        a![0]! < b![0]! || (a![0] === b![0] && a![1]! < b![1]!),
        `${events[i - 1]!.id} < ${events[i]!.id}`,
      );
    }

    const task = (
      await stack.app.inject({
        method: 'GET',
        url: `/v1/tasks/${created.id}`,
        headers: stack.headers('alice', null),
      })
    ).json();
    assert.equal(task.status, 'succeeded');
    assert.equal(task.result.value, 'done');
    const expectedStdout = Array.from(
      { length: 10 },
      (_, i) => `line ${i} ${'x'.repeat(i)}\n`,
    ).join('');
    assert.equal(task.result.stdout, expectedStdout);
    assert.equal(outputs.map((e) => e.data.data).join(''), task.result.stdout);
    finishedId = created.id;
    finishedEvents = events;
  });

  test('output arrives while the task still runs; a cancel ends the stream with status cancelled', async () => {
    // This task never ends by itself, so anything read before the cancel was streamed live.
    const created = (
      await submit({
        runtime: 'javascript',
        code: 'console.log("started"); while (true) {}',
        timeoutMs: 120_000,
      })
    ).json();
    const stream = await openEvents(created.id);
    assert.deepEqual((await stream.next())?.data.status, 'queued');
    assert.deepEqual((await stream.next())?.data.status, 'running');
    const output = await stream.next();
    assert.deepEqual(output?.data, { type: 'output', stream: 'stdout', data: 'started\n' });
    const live = (
      await stack.app.inject({
        method: 'GET',
        url: `/v1/tasks/${created.id}`,
        headers: stack.headers('alice', null),
      })
    ).json();
    assert.equal(live.status, 'running');

    const del = await stack.app.inject({
      method: 'DELETE',
      url: `/v1/tasks/${created.id}`,
      headers: stack.headers('alice', null),
    });
    assert.equal(del.json().status, 'cancelled');
    const rest = await stream.rest();
    assert.equal(rest.length, 1);
    assert.equal(rest[0]?.data.status, 'cancelled');
    assert.equal(rest[0]?.data.error?.code, 'cancelled');
  });

  test('the events of a finished task are replayed in full and the stream closes', async () => {
    const stream = await openEvents(finishedId);
    assert.equal(stream.status, 200);
    assert.deepEqual(await stream.rest(), finishedEvents);
  });

  test('Last-Event-ID resumes right after that event', async () => {
    for (const k of [0, 1, 2, finishedEvents.length - 2]) {
      const stream = await openEvents(finishedId, finishedEvents[k]!.id);
      assert.deepEqual(await stream.rest(), finishedEvents.slice(k + 1), `after event ${k}`);
    }
  });

  test(
    'Last-Event-ID of the final event of a finished task: no events, and the stream still closes',
    { timeout: 20_000 },
    async () => {
      // EventSource reconnects with the last id it saw after the server ends the stream.
      const stream = await openEvents(finishedId, finishedEvents.at(-1)!.id);
      assert.equal(stream.status, 200);
      assert.deepEqual(await stream.rest(), []);
    },
  );

  test('a malformed Last-Event-ID → 400 problem', async () => {
    const res = await stack.app.inject({
      method: 'GET',
      url: `/v1/tasks/${finishedId}/events`,
      headers: { ...stack.headers('alice', null), 'last-event-id': 'abc' },
    });
    assert.equal(res.statusCode, 400);
    assert.equal(res.headers['content-type'], 'application/problem+json; charset=utf-8');
    assert.deepEqual(
      res.json().errors.map((e: { pointer: string }) => e.pointer),
      ['/headers/last-event-id'],
    );
  });
});

describe('POST with wait', () => {
  test('a task that ends within the wait is returned terminal', async () => {
    const res = await submit({
      runtime: 'javascript',
      code: 'console.log("quick"); 6 * 7',
      wait: 20,
    });
    assert.equal(res.statusCode, 201);
    const task = res.json();
    assert.equal(task.status, 'succeeded');
    assert.equal(task.result.value, 42);
    assert.equal(task.result.stdout, 'quick\n');
    assert.equal(typeof task.finishedAt, 'string');
  });

  test('a task longer than the wait is returned not yet terminal; a later poll sees it finish', async () => {
    // Busy for 2.5 s against a 1 s wait.
    const res = await submit({
      runtime: 'javascript',
      code: 'const t = Date.now(); while (Date.now() - t < 2500) {}; "late"',
      wait: 1,
    });
    assert.equal(res.statusCode, 201);
    const task = res.json();
    assert.ok(['queued', 'running'].includes(task.status), task.status);
    assert.equal(task.finishedAt, undefined);
    assert.equal(task.result, undefined);
    const done = await pollTask(stack, task.id, (t) => TERMINAL.has(t.status));
    assert.equal(done.status, 'succeeded');
    assert.equal((done['result'] as { value: unknown }).value, 'late');
  });

  test('wait: 0 returns at once with the task as created', async () => {
    const res = await submit({ runtime: 'javascript', code: '1', wait: 0 });
    assert.equal(res.statusCode, 201);
    const task = res.json();
    assert.equal(task.status, 'queued');
    assert.equal(task.startedAt, undefined);
    assert.equal(res.headers.location, `/v1/tasks/${task.id}`);
    const done = await pollTask(stack, task.id, (t) => TERMINAL.has(t.status));
    assert.equal(done.status, 'succeeded');
  });
});
