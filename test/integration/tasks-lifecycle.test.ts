/**
 * Task lifecycle through the real HTTP app (inject), real Redis, real BullMQ and a real runner
 * with isolate host processes. Nothing is faked.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { pollTask, startStack, TERMINAL, type Stack } from '../helpers/stack.ts';

let stack: Stack;
before(async () => {
  stack = await startStack();
});
after(async () => {
  await stack.close();
});

async function submit(body: Record<string, unknown>, agent: 'alice' | 'bob' | 'eve' = 'alice') {
  return stack.app.inject({ method: 'POST', url: '/v1/tasks', headers: stack.headers(agent), payload: body });
}

describe('lifecycle', () => {
  test('POST with wait returns the finished task with Location, value, stdout and usage', async () => {
    const res = await submit({ runtime: 'javascript', code: 'console.log("hi"); console.error("oops"); 1+1', wait: 10 });
    assert.equal(res.statusCode, 201);
    const task = res.json();
    assert.equal(res.headers.location, `/v1/tasks/${task.id}`);
    assert.equal(task.status, 'succeeded');
    assert.equal(task.runtime, 'javascript');
    assert.deepEqual(task.result, {
      value: 2,
      stdout: 'hi\n',
      stderr: 'oops\n',
      stdoutTruncated: false,
      stderrTruncated: false,
    });
    assert.equal(task.error, undefined);
    assert.ok(task.usage.wallMs >= 0 && task.usage.cpuMs >= 0);
    assert.ok(Date.parse(task.createdAt) <= Date.parse(task.startedAt));
    assert.ok(Date.parse(task.startedAt) <= Date.parse(task.finishedAt));
    assert.deepEqual(task.limits, { timeoutMs: 30000, cpuMs: 30000, memoryMb: 64, outputBytes: 1048576 });
  });

  test('POST without wait returns 201 queued at once, and polling reaches succeeded', async () => {
    const res = await submit({ runtime: 'javascript', code: '({ answer: 42 })', metadata: { userId: 'u1', sessionId: 's1', promptSnippet: 'compute' } });
    assert.equal(res.statusCode, 201);
    const created = res.json();
    assert.ok(['queued', 'running', 'succeeded'].includes(created.status));
    assert.deepEqual(created.metadata, { userId: 'u1', sessionId: 's1', promptSnippet: 'compute' });
    const task = await pollTask(stack, created.id, (t) => TERMINAL.has(t.status));
    assert.equal(task.status, 'succeeded');
    assert.deepEqual((task['result'] as { value: unknown }).value, { answer: 42 });
  });

  test('top-level await and top-level return give the resolved value', async () => {
    const awaited = (await submit({ runtime: 'javascript', code: 'const x = await Promise.resolve(20);\nx + 1', wait: 10 })).json();
    assert.equal(awaited.status, 'succeeded');
    assert.equal(awaited.result.value, 21);
    const returned = (await submit({ runtime: 'javascript', code: 'if (true) return [1, "two"];', wait: 10 })).json();
    assert.deepEqual(returned.result.value, [1, 'two']);
    const resolved = (await submit({ runtime: 'javascript', code: 'Promise.resolve({ ok: true })', wait: 10 })).json();
    assert.deepEqual(resolved.result.value, { ok: true });
  });

  test('TypeScript is type-stripped and runs', async () => {
    const res = await submit({
      runtime: 'typescript',
      code: 'interface P { x: number }\nconst p: P = { x: 2 };\nfunction sq(n: number): number { return n * n }\nenum E { A = 3 }\nsq(p.x) + E.A',
      wait: 10,
    });
    const task = res.json();
    assert.equal(task.status, 'succeeded');
    assert.equal(task.result.value, 7);
  });

  test('a value that is not JSON-representable: undefined → null, BigInt → runtime_error', async () => {
    const undef = (await submit({ runtime: 'javascript', code: 'let a = 1;', wait: 10 })).json();
    assert.equal(undef.status, 'succeeded');
    assert.equal(undef.result.value, null);
    const big = (await submit({ runtime: 'javascript', code: '10n', wait: 10 })).json();
    assert.equal(big.status, 'failed');
    assert.equal(big.error.code, 'runtime_error');
    assert.match(big.error.message, /not JSON-serializable/);
  });

  test('every error code of the isolate backend', async () => {
    const cases: { code: string; body: Record<string, unknown>; status: string; message: RegExp }[] = [
      { code: 'syntax_error', body: { runtime: 'javascript', code: 'let = ;' }, status: 'failed', message: /^SyntaxError/ },
      { code: 'syntax_error', body: { runtime: 'typescript', code: 'let x: = 1' }, status: 'failed', message: /^SyntaxError/ },
      { code: 'runtime_error', body: { runtime: 'javascript', code: 'console.log("before");\nthrow new TypeError("boom")' }, status: 'failed', message: /^TypeError: boom\n\s+at .*task\.js:2/ },
      { code: 'runtime_error', body: { runtime: 'javascript', code: 'await Promise.reject(new Error("nope"))' }, status: 'failed', message: /^Error: nope/ },
      { code: 'timeout', body: { runtime: 'javascript', code: 'while (true) {}', timeoutMs: 300 }, status: 'timed_out', message: /time exceeded/ },
      { code: 'memory_limit', body: { runtime: 'javascript', code: 'const a = []; while (true) a.push(new Array(1e5).fill(1.5));', memoryMb: 16 }, status: 'failed', message: /Memory limit of 16 MiB/ },
      { code: 'output_limit', body: { runtime: 'javascript', code: 'while (true) console.log("flood".repeat(100));' }, status: 'failed', message: /stdout exceeded 1048576 bytes/ },
    ];
    for (const c of cases) {
      const task = (await submit({ ...c.body, wait: 20 })).json();
      assert.equal(task.status, c.status, `${c.code}: ${JSON.stringify(task.error)}`);
      assert.equal(task.error.code, c.code);
      assert.match(task.error.message, c.message);
    }
    const cancelled = (await submit({ runtime: 'javascript', code: 'while (true) {}' })).json();
    await pollTask(stack, cancelled.id, (t) => t.status === 'running');
    const del = await stack.app.inject({ method: 'DELETE', url: `/v1/tasks/${cancelled.id}`, headers: stack.headers() });
    assert.equal(del.json().error.code, 'cancelled');
  });

  test('output past the limit is truncated at exactly the limit and flagged', async () => {
    const task = (await submit({ runtime: 'javascript', code: 'for (;;) console.error("é".repeat(1000))', wait: 20 })).json();
    assert.equal(task.error.code, 'output_limit');
    assert.equal(task.result.stderrTruncated, true);
    assert.equal(task.result.stdoutTruncated, false);
    const bytes = Buffer.byteLength(task.result.stderr);
    assert.ok(bytes <= 1048576 && bytes > 1048576 - 4, `kept ${bytes} bytes`);
    assert.ok(!task.result.stderr.includes('\uFFFD'), 'no broken character at the cut');
  });

  test('terminal states never change: cancelling a finished task returns it unchanged', async () => {
    const done = (await submit({ runtime: 'javascript', code: '5', wait: 10 })).json();
    assert.equal(done.status, 'succeeded');
    const del = await stack.app.inject({ method: 'DELETE', url: `/v1/tasks/${done.id}`, headers: stack.headers() });
    assert.equal(del.statusCode, 200);
    assert.deepEqual(del.json(), done);
  });
});

describe('cancel', () => {
  test('a queued task never starts', async () => {
    // A stack without a runner keeps the task queued for as long as we like.
    const idle = await startStack({ runner: false });
    try {
      const created = (
        await idle.app.inject({ method: 'POST', url: '/v1/tasks', headers: idle.headers(), payload: { runtime: 'javascript', code: '1' } })
      ).json();
      assert.equal(created.status, 'queued');
      const del = await idle.app.inject({ method: 'DELETE', url: `/v1/tasks/${created.id}`, headers: idle.headers() });
      assert.equal(del.statusCode, 200);
      assert.equal(del.json().status, 'cancelled');
      assert.equal(await idle.deps.queue.getJob(created.id), undefined, 'the job is gone from the queue');
      const after = (await idle.app.inject({ method: 'GET', url: `/v1/tasks/${created.id}`, headers: idle.headers() })).json();
      assert.equal(after.status, 'cancelled');
      assert.equal(after.startedAt, undefined);
    } finally {
      await idle.close();
    }
  });

  test('a running task is stopped: its run ends long before its own time limit', async () => {
    const created = (await submit({ runtime: 'javascript', code: 'let i = 0; for (;;) { if (++i % 5e6 === 0) console.log(i) }', timeoutMs: 60000 })).json();
    const running = await pollTask(stack, created.id, (t) => t.status === 'running');
    assert.equal(running.status, 'running');
    const del = await stack.app.inject({ method: 'DELETE', url: `/v1/tasks/${created.id}`, headers: stack.headers() });
    assert.equal(del.json().status, 'cancelled');
    // The runner records how long the run really lasted once the sandbox is gone.
    const stopped = await pollTask(stack, created.id, (t) => t['usage'] !== undefined);
    const usage = stopped['usage'] as { wallMs: number };
    assert.ok(usage.wallMs < 60000, `stopped after ${usage.wallMs} ms`);
    assert.equal(stopped.status, 'cancelled');
    assert.equal((stopped['error'] as { code: string }).code, 'cancelled');
  });
});

describe('result size', () => {
  test('a result value larger than the output limit ends output_limit instead of flooding Redis', async () => {
    const task = (await submit({ runtime: 'javascript', code: '"x".repeat(2 * 1024 * 1024)', wait: 20 })).json();
    assert.equal(task.status, 'failed');
    assert.equal(task.error.code, 'output_limit');
    assert.match(task.error.message, /result value exceeded 1048576 bytes/);
    assert.equal(task.result.value, null);
  });
});
