/**
 * Output limits and bytes, end to end through the real harness (listening, read with node:http)
 * and a real runner with both backends on real Redis and the real Docker engine: truncation never
 * splits a UTF-8 character nor passes the limit (isolates and containers), characters split
 * across chunks arrive whole in live events, and output that is not UTF-8 reaches the client
 * byte for byte (result and SSE: `*Encoding: "base64"`).
 *
 * With CI=true a missing Docker engine fails the container part; locally AIRLOCK_SKIP_DOCKER=1
 * skips it.
 */
import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { decodeOutput } from '../../protocol/utf8.ts';
import { dockerGate, removeContainersOf } from '../helpers/docker.ts';
import { openSse } from '../helpers/sse.ts';
import { startStack, type Stack } from '../helpers/stack.ts';

const LIMIT = 4096;
const skipDocker = await dockerGate();

interface OutputEvent {
  type: string;
  stream?: 'stdout' | 'stderr';
  data?: string;
  encoding?: 'base64';
  status?: string;
}

interface Task {
  id: string;
  status: string;
  error?: { code: string };
  result: {
    stdout: string;
    stderr: string;
    stdoutEncoding?: 'base64';
    stderrEncoding?: 'base64';
    stdoutTruncated: boolean;
    stderrTruncated: boolean;
  };
}

let stack: Stack;
let port: number;
before(async () => {
  stack = await startStack({
    harnessEnv: { TASK_OUTPUT_BYTES: String(LIMIT) },
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
});

async function run(runtime: string, code: string): Promise<{ task: Task; events: OutputEvent[] }> {
  const res = await stack.app.inject({
    method: 'POST',
    url: '/v1/tasks',
    headers: stack.headers(),
    payload: { runtime, code, wait: 30 },
  });
  assert.equal(res.statusCode, 201, res.body);
  const task = res.json() as Task;
  assert.ok(['succeeded', 'failed'].includes(task.status), JSON.stringify(task).slice(0, 500));
  const sse = await openSse<OutputEvent>(port, `/v1/tasks/${task.id}/events`, stack.headers('alice', null));
  const events = (await sse.rest()).map((e) => e.data).filter((e) => e.type === 'output');
  return { task, events };
}

/** The bytes of one stream as the result gives them. */
function resultBytes(task: Task, stream: 'stdout' | 'stderr'): Buffer {
  return decodeOutput(task.result[stream], task.result[`${stream}Encoding`]);
}

/** The bytes of one stream as the live events gave them, joined. */
function eventBytes(events: OutputEvent[], stream: 'stdout' | 'stderr'): Buffer {
  return Buffer.concat(events.filter((e) => e.stream === stream).map((e) => decodeOutput(e.data ?? '', e.encoding)));
}

/** A cut at the limit: flagged, `output_limit`, at most LIMIT bytes, and no U+FFFD anywhere. */
function assertCleanCut(task: Task, events: OutputEvent[], expected: string): void {
  assert.equal(task.status, 'failed');
  assert.equal(task.error?.code, 'output_limit');
  assert.equal(task.result.stdoutTruncated, true);
  assert.equal(task.result.stdoutEncoding, undefined, 'still text: no character was split');
  assert.ok(Buffer.byteLength(task.result.stdout) <= LIMIT, `${Buffer.byteLength(task.result.stdout)} bytes`);
  assert.ok(!task.result.stdout.includes('\ufffd'), 'no replacement character');
  assert.equal(task.result.stdout, expected);
  assert.equal(eventBytes(events, 'stdout').toString('utf8'), expected, 'the live events say the same');
}

describe('isolates: truncation at a character boundary', () => {
  test('a 3-byte character across the limit is dropped whole', async () => {
    const { task, events } = await run('javascript', `console.log('a'.repeat(${LIMIT - 2}) + '€')`);
    assertCleanCut(task, events, 'a'.repeat(LIMIT - 2));
  });

  test('a 4-byte character (a surrogate pair in JavaScript) across the limit is dropped whole', async () => {
    const { task, events } = await run('javascript', `console.log('a'.repeat(${LIMIT - 3}) + '😀')`);
    assertCleanCut(task, events, 'a'.repeat(LIMIT - 3));
  });

  test('multi-byte output under the limit arrives as text, event by event', async () => {
    const { task, events } = await run(
      'javascript',
      `for (let i = 0; i < 150; i++) { console.log('€😀é'); const t = Date.now(); if (i % 50 === 0) while (Date.now() - t < 30) {} }`,
    );
    assert.equal(task.status, 'succeeded');
    assert.equal(task.result.stdout, '€😀é\n'.repeat(150));
    assert.ok(events.length > 1, 'several live events');
    for (const e of events) assert.equal(e.encoding, undefined);
  });
});

describe('containers: bytes through the API', { skip: skipDocker }, () => {
  test('a 3-byte character across the limit is dropped whole (was: U+FFFD and limit + 2 bytes)', async () => {
    const { task, events } = await run(
      'python',
      `import sys\nsys.stdout.buffer.write(b"a" * ${LIMIT - 1} + "€".encode())`,
    );
    assertCleanCut(task, events, 'a'.repeat(LIMIT - 1));
  });

  test('characters split across chunks arrive whole: result and every live event are text', async () => {
    const { task, events } = await run(
      'python',
      [
        'import sys, time',
        'for b in "€😀é".encode() * 3:',
        '    sys.stdout.buffer.write(bytes([b])); sys.stdout.flush(); time.sleep(0.01)',
      ].join('\n'),
    );
    assert.equal(task.status, 'succeeded', JSON.stringify(task));
    assert.equal(task.result.stdout, '€😀é'.repeat(3));
    assert.equal(task.result.stdoutEncoding, undefined);
    assert.ok(events.length > 1, `several live events (${events.length})`);
    for (const e of events) {
      assert.equal(e.encoding, undefined, 'no event holds part of a character');
      assert.ok(!e.data?.includes('\ufffd'));
    }
    assert.equal(eventBytes(events, 'stdout').toString('utf8'), '€😀é'.repeat(3));
  });

  test('output that is not UTF-8 reaches the client byte for byte (result and events, base64)', async () => {
    const { task, events } = await run(
      'python',
      'import sys\nsys.stdout.buffer.write(bytes(range(256)) * 3)\nsys.stderr.buffer.write(b"ok \\xff\\xfe \\xe2\\x82")',
    );
    assert.equal(task.status, 'succeeded', JSON.stringify(task));
    const stdout = Buffer.from([...Array(256).keys()]);
    assert.equal(task.result.stdoutEncoding, 'base64');
    assert.deepEqual(resultBytes(task, 'stdout'), Buffer.concat([stdout, stdout, stdout]));
    assert.equal(task.result.stderrEncoding, 'base64');
    assert.deepEqual(resultBytes(task, 'stderr'), Buffer.from([0x6f, 0x6b, 0x20, 0xff, 0xfe, 0x20, 0xe2, 0x82]));
    assert.deepEqual(eventBytes(events, 'stdout'), resultBytes(task, 'stdout'));
    assert.deepEqual(eventBytes(events, 'stderr'), resultBytes(task, 'stderr'));
  });

  test('binary output past the limit: a prefix of what was written, never more than the limit', async () => {
    const { task } = await run(
      'python',
      `import sys\nsys.stdout.buffer.write(bytes((i * 7 + 3) % 256 for i in range(${LIMIT * 3})))`,
    );
    assert.equal(task.error?.code, 'output_limit');
    const written = Buffer.from(Array.from({ length: LIMIT * 3 }, (_, i) => (i * 7 + 3) % 256));
    const got = resultBytes(task, 'stdout');
    assert.ok(got.length <= LIMIT && got.length >= LIMIT - 3, `${got.length} bytes`);
    assert.deepEqual(got, written.subarray(0, got.length));
  });
});
