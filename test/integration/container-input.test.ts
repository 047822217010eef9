/**
 * What a container program gets as input, end to end: the real harness app (`inject`), a real
 * in-process runner with the Docker backend on real Redis, the real Docker engine and sandbox
 * images. The program reports what it read (length and SHA-256 of its stdin bytes, its input
 * files), so the bytes are checked where they arrive. Nothing is mocked.
 *
 * With CI=true a missing engine fails; locally too, unless AIRLOCK_SKIP_DOCKER=1.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { dockerGate, removeContainersOf } from '../helpers/docker.ts';
import { pollTask, startStack, TERMINAL, type Stack } from '../helpers/stack.ts';

const skip = await dockerGate();

const REPORT = [
  'import sys, os, hashlib, json',
  'data = sys.stdin.buffer.read()',
  'files = {}',
  'for d, _, names in os.walk("."):',
  '    for n in names:',
  '        p = os.path.relpath(os.path.join(d, n))',
  '        if p != "main.py": files[p] = os.path.getsize(p)',
  'print(json.dumps({"stdin": [len(data), hashlib.sha256(data).hexdigest()], "files": files}))',
].join('\n');

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('container input: stdin bytes and the input limits', { skip }, () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack({
      runnerEnv: {
        RUNNER_BACKENDS: 'docker',
        REQUIRE_DOCKER: '1',
        WARM_POOL_SIZE: '0',
        GRANT_STAGING_DIR: '/tmp/airlock-test-staging-input',
      },
    });
  });
  after(async () => {
    const id = stack?.runner?.id;
    await stack?.close();
    if (id) await removeContainersOf(id);
  });

  async function run(body: Record<string, unknown>): Promise<{ stdin: [number, string]; files: Record<string, number> }> {
    const res = await stack.app.inject({
      method: 'POST',
      url: '/v1/tasks',
      headers: stack.headers(),
      payload: { runtime: 'python', code: REPORT, ...body },
    });
    assert.equal(res.statusCode, 201, res.body.slice(0, 500));
    const task = await pollTask(stack, res.json().id, (t) => TERMINAL.has(t.status), 'alice', 60_000);
    assert.equal(task.status, 'succeeded', JSON.stringify(task.error));
    return JSON.parse((task['result'] as { stdout: string }).stdout);
  }

  test('stdinBase64 reaches the program byte for byte (all 256 byte values); stdin text as its UTF-8 bytes', async () => {
    const bytes = Buffer.from([...Array(512).keys()].map((i) => (i * 7) % 256));
    assert.deepEqual((await run({ stdinBase64: bytes.toString('base64') })).stdin, [512, sha256(bytes)]);
    const text = 'héllo\n\u{1F600}\u0000end';
    assert.deepEqual((await run({ stdin: text })).stdin, [Buffer.byteLength(text), sha256(Buffer.from(text, 'utf8'))]);
  });

  test('stdin and files of exactly TASK_MAX_INPUT_BYTES together, a 255-byte name: all of it arrives', async () => {
    const max = stack.deps.config.TASK_MAX_INPUT_BYTES;
    const stdin = Buffer.alloc(Math.floor(max / 2), 0xfe);
    const name = `d/${'é'.repeat(127)}x`;
    const file = Buffer.alloc(max - stdin.length, 0x41);
    const seen = await run({
      stdinBase64: stdin.toString('base64'),
      files: [{ path: name, contentBase64: file.toString('base64') }],
    });
    assert.deepEqual(seen, { stdin: [stdin.length, sha256(stdin)], files: { [name]: file.length } });
  });
});
