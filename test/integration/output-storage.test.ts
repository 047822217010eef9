/**
 * What a task leaves in Redis, measured on a real Redis with MEMORY USAGE: each output byte is
 * stored once (raw, not escaped, not twice), /out files are not in Redis at all; and the one
 * copy still serves every reader: the task view, live SSE and a resumed SSE stream. Real harness,
 * real runner (isolate hosts; containers when Docker is there), nothing faked.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { CHUNK_BYTES } from '../../protocol/task-output.ts';
import { OutputOffsetError } from '../../protocol/task-store.ts';
import { dockerGate, removeContainersOf } from '../helpers/docker.ts';
import { openSse } from '../helpers/sse.ts';
import { REDIS_URL, startStack, type Stack } from '../helpers/stack.ts';
import { queuedTaskRecord } from '../helpers/task-record.ts';

const MiB = 1024 * 1024;
const skipDocker = await dockerGate();
const redis = new Redis(REDIS_URL);

/** Bytes Redis holds for one task: every key tagged with its id, by MEMORY USAGE (exact). */
async function redisBytesOf(taskId: string): Promise<{ bytes: number; keys: string[] }> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, found] = await redis.scan(cursor, 'MATCH', `*{${taskId}}*`, 'COUNT', 1000);
    cursor = next;
    keys.push(...found);
  } while (cursor !== '0');
  let bytes = 0;
  for (const key of keys) bytes += Number(await redis.memory('USAGE', key, 'SAMPLES', 0));
  return { bytes, keys };
}

let stack: Stack;
let port: number;
before(async () => {
  stack = await startStack({
    runnerEnv: skipDocker
      ? {}
      : {
          RUNNER_BACKENDS: 'isolate,docker',
          REQUIRE_DOCKER: '1',
          WARM_POOL_SIZE: '1',
          GRANT_STAGING_DIR: await mkdtemp(path.join(tmpdir(), 'airlock-staging-')),
        },
  });
  await stack.app.listen({ port: 0, host: '127.0.0.1' });
  port = (stack.app.server.address() as AddressInfo).port;
});
after(async () => {
  const id = stack?.runner?.id;
  await stack?.close();
  if (id && !skipDocker) await removeContainersOf(id);
  redis.disconnect();
});

interface TaskView {
  id: string;
  status: string;
  error?: unknown;
  result: { stdout: string; stderr: string; stdoutTruncated: boolean; files?: unknown };
}

async function run(body: Record<string, unknown>): Promise<TaskView> {
  const res = await stack.app.inject({ method: 'POST', url: '/v1/tasks', headers: stack.headers(), payload: { wait: 60, ...body } });
  assert.equal(res.statusCode, 201, res.body);
  return res.json() as TaskView;
}

describe('Redis bytes per task', () => {
  test('1 MiB of stdout + 1 MiB of stderr of bytes JSON escapes 6× cost at most 1.1× their size in Redis', async () => {
    // U+0001 is one byte of output and six in JSON ("\u0001"): the worst case of text output.
    const task = await run({
      runtime: 'javascript',
      code: `const s = '\\x01'.repeat(${MiB - 1}); console.log(s); console.error(s); 1`,
    });
    assert.equal(task.status, 'succeeded', JSON.stringify(task.error));
    assert.equal(Buffer.byteLength(task.result.stdout), MiB);
    assert.equal(Buffer.byteLength(task.result.stderr), MiB);
    assert.equal(task.result.stdoutTruncated, false);
    const { bytes, keys } = await redisBytesOf(task.id);
    const produced = 2 * MiB;
    assert.ok(
      bytes <= 1.1 * produced + 64 * 1024,
      `Redis holds ${bytes} bytes (${(bytes / produced).toFixed(3)}×) for ${produced} bytes of output in ${keys.join(', ')}`,
    );
    // And it is the task's own bytes, readable in full.
    const view = (await stack.app.inject({ method: 'GET', url: `/v1/tasks/${task.id}`, headers: stack.headers('alice', null) })).json();
    assert.equal(view.result.stdout, '\x01'.repeat(MiB - 1) + '\n');
  });

  test('an /out file stays out of Redis and is served whole from the blob store', { skip: skipDocker }, async () => {
    const task = await run({
      runtime: 'python',
      code: 'import os\nopen("/out/r.bin", "wb").write(bytes((i * 31 + 7) % 256 for i in range(4 * 1024 * 1024)))\nprint("ok")',
    });
    assert.equal(task.status, 'succeeded', JSON.stringify(task).slice(0, 500));
    const expected = Buffer.from(Array.from({ length: 4 * MiB }, (_, i) => (i * 31 + 7) % 256));
    const sha256 = createHash('sha256').update(expected).digest('hex');
    assert.deepEqual(task.result.files, [{ path: 'r.bin', size: 4 * MiB, sha256 }]);
    const { bytes, keys } = await redisBytesOf(task.id);
    assert.ok(bytes < 64 * 1024, `Redis holds ${bytes} bytes for a task with a 4 MiB file (${keys.join(', ')})`);
    const file = await stack.app.inject({ method: 'GET', url: `/v1/tasks/${task.id}/files/r.bin`, headers: stack.headers('alice', null) });
    assert.equal(file.statusCode, 200);
    assert.equal(createHash('sha256').update(file.rawPayload).digest('hex'), sha256);
  });
});

describe('one copy, every reader', () => {
  test('live and resumed SSE read the same bytes from the output key as the task view', async () => {
    const code = `for (let i = 0; i < 6; i++) { console.log('line ' + i + ' €'); console.error('err ' + i); const t = Date.now(); while (Date.now() - t < 40) {} } 1`;
    const created = (await stack.app.inject({ method: 'POST', url: '/v1/tasks', headers: stack.headers(), payload: { runtime: 'javascript', code } })).json();
    const live = await openSse<{ type: string; stream?: string; data?: string }>(port, `/v1/tasks/${created.id}/events`, stack.headers('alice', null));
    const events = await live.rest();
    const output = events.filter((e) => e.data.type === 'output');
    assert.ok(output.length >= 4, `several output events (${output.length})`);
    const joined = (stream: string, list: typeof events) =>
      list.filter((e) => e.data.stream === stream).map((e) => e.data.data).join('');
    const view = (await stack.app.inject({ method: 'GET', url: `/v1/tasks/${created.id}`, headers: stack.headers('alice', null) })).json();
    assert.equal(joined('stdout', output), view.result.stdout);
    assert.equal(joined('stderr', output), view.result.stderr);
    assert.equal(view.result.stdout, Array.from({ length: 6 }, (_, i) => `line ${i} €\n`).join(''));
    // Resume after the second output event: exactly the events after it, with the same data.
    const cut = events.indexOf(output[1]!);
    const resumed = await openSse<{ type: string; stream?: string; data?: string }>(port, `/v1/tasks/${created.id}/events`, {
      ...stack.headers('alice', null),
      'last-event-id': output[1]!.id,
    });
    assert.deepEqual(await resumed.rest(), events.slice(cut + 1));
  });

  test('an append resent after a lost reply is stored once; one at a wrong offset is refused', async () => {
    const { store } = stack.deps;
    const task = queuedTaskRecord();
    await store.create(task);
    await store.start(task.id, task);
    assert.ok(await store.appendOutput(task.id, 'stdout', 'abc', 0));
    assert.ok(await store.appendOutput(task.id, 'stdout', 'abc', 0), 'the same append again: already there');
    await assert.rejects(store.appendOutput(task.id, 'stdout', 'zz', 1), OutputOffsetError);
    assert.ok(await store.appendOutput(task.id, 'stdout', 'def', 3));
    assert.ok(await store.transition(task.id, 'succeeded', ['running'], { result: { value: null, stdoutTruncated: false, stderrTruncated: false } }));
    assert.equal((await store.get(task.id))?.result?.stdout, 'abcdef');
    const output = (await store.readEvents(task.id)).filter((e) => e.event.type === 'output');
    assert.equal(output.length, 2);
    assert.equal(await store.appendOutput(task.id, 'stdout', 'late', 6), false, 'never after the terminal state');
    assert.equal((await store.get(task.id))?.result?.stdout, 'abcdef');
  });

  test('appends across chunk boundaries read back exactly; a resent one spanning chunks is stored once', async () => {
    const { store } = stack.deps;
    const task = queuedTaskRecord();
    await store.create(task);
    await store.start(task.id, task);
    const a = Buffer.from(Array.from({ length: CHUNK_BYTES - 5 }, (_, i) => i % 251));
    const b = Buffer.from(Array.from({ length: CHUNK_BYTES + 17 }, (_, i) => (i * 3) % 256));
    assert.ok(await store.appendOutput(task.id, 'stderr', a, 0));
    assert.ok(await store.appendOutput(task.id, 'stderr', b, a.length));
    assert.ok(await store.appendOutput(task.id, 'stderr', b, a.length), 'resent: already there');
    const other = Buffer.from(b);
    other[100] = (other[100] ?? 0) ^ 1;
    await assert.rejects(store.appendOutput(task.id, 'stderr', other, a.length), OutputOffsetError, 'same length, other bytes');
    assert.ok(await store.transition(task.id, 'failed', ['running'], { result: { value: null, stdoutTruncated: false, stderrTruncated: false } }));
    const view = await store.get(task.id);
    assert.equal(view?.result?.stderrEncoding, 'base64');
    assert.deepEqual(Buffer.from(view?.result?.stderr ?? '', 'base64'), Buffer.concat([a, b]));
    const events = (await store.readEvents(task.id)).flatMap((e) => (e.event.type === 'output' ? [e.event] : []));
    assert.deepEqual(
      events.map((e) => Buffer.from(e.data, e.encoding === 'base64' ? 'base64' : 'utf8')),
      [a, b],
    );
  });
});
