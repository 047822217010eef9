/**
 * The runner's capability socket (runner/backends/call-socket.ts) over real Unix sockets: the
 * client protocol v1 as the in-sandbox clients speak it, the order calls reach the run, and what
 * an untrusted program can throw at it (garbage, oversized lines, too many connections or calls,
 * answers it never reads). The end-to-end runs from real containers, for both the runner's
 * socket and the supervisor's relay, are in test/integration/container-caps.test.ts.
 */
import assert from 'node:assert/strict';
import { existsSync, statSync } from 'node:fs';
import { mkdtemp, readdir, rm, writeFile, mkdir } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CallSockets, MAX_CONNECTIONS, MAX_LINE, MAX_PENDING, type CallSocket } from '../../runner/backends/call-socket.ts';
import type { CallResult } from '../../runner/backends/types.ts';

let root: string;
let sockets: CallSockets;

/** A client connection that collects answer lines. */
async function connect(socket: CallSocket): Promise<{ conn: net.Socket; answers: () => Promise<unknown[]>; send: (s: string | Buffer) => void; lines: unknown[] }> {
  const conn = net.connect(path.join(socket.dir, 'caps.sock'));
  await new Promise<void>((resolve, reject) => conn.once('connect', resolve).once('error', reject));
  const lines: unknown[] = [];
  let buf = '';
  conn.on('data', (d: Buffer) => {
    buf += d.toString('utf8');
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      lines.push(JSON.parse(buf.slice(0, nl)));
      buf = buf.slice(nl + 1);
    }
  });
  conn.on('error', () => undefined);
  const ended = new Promise<void>((resolve) => conn.once('close', () => resolve()));
  return {
    conn,
    lines,
    send: (s) => conn.write(s),
    answers: async () => {
      conn.end();
      await ended;
      return lines;
    },
  };
}

const until = async (cond: () => boolean) => {
  for (let i = 0; i < 500 && !cond(); i++) await new Promise((r) => setTimeout(r, 5));
  assert.ok(cond(), 'condition reached');
};

describe('the runner\'s capability socket', () => {
  before(async () => {
    root = await mkdtemp(path.join(tmpdir(), 'airlock-call-sockets-'));
    sockets = await CallSockets.create(root, 'installation', 'runner-under-test');
  });
  after(async () => {
    await sockets.dispose();
    await rm(root, { recursive: true, force: true });
  });

  test('one directory per container (0755) with a 0666 socket; close removes it', async () => {
    const a = await sockets.open();
    const b = await sockets.open();
    assert.notEqual(a.dir, b.dir);
    assert.equal(path.dirname(a.dir), path.dirname(b.dir), 'siblings in the runner\'s directory');
    assert.equal(statSync(a.dir).mode & 0o777, 0o755);
    assert.equal(statSync(path.join(a.dir, 'caps.sock')).mode & 0o777, 0o666);
    assert.ok(statSync(path.join(a.dir, 'caps.sock')).isSocket());
    assert.equal(statSync(path.dirname(a.dir)).mode & 0o777, 0o700, 'the runner\'s directory is its own');
    await a.close();
    await a.close(); // idempotent
    assert.equal(existsSync(a.dir), false);
    await b.close();
  });

  test('calls reach the run in the order they came; answers carry the client\'s id', async () => {
    const s = await sockets.open();
    const seen: string[] = [];
    s.serve(async (name, input) => {
      seen.push(`${name}:${JSON.stringify(input)}`);
      // Answered out of order: the slower first.
      await new Promise((r) => setTimeout(r, name === 'slow.one' ? 30 : 0));
      return { ok: true, output: { name, input } } satisfies CallResult;
    });
    const c = await connect(s);
    c.send('{"v":1,"id":7,"name":"slow.one","input":{"a":1}}\n{"v":1,"id":8,"name":"fast.two"}\n');
    const answers = await c.answers();
    assert.deepEqual(seen, ['slow.one:{"a":1}', 'fast.two:null']);
    assert.deepEqual(answers, [
      { v: 1, id: 8, ok: true, output: { name: 'fast.two', input: null } },
      { v: 1, id: 7, ok: true, output: { name: 'slow.one', input: { a: 1 } } },
    ]);
    await s.close();
  });

  test('garbage gets an error answer, never reaches the run, and the connection still works', async () => {
    const s = await sockets.open();
    const seen: string[] = [];
    s.serve(async (name) => {
      seen.push(name);
      return { ok: false, error: { code: 'capability_denied', message: 'no' } };
    });
    const c = await connect(s);
    // A line split across writes is one line.
    c.send('not json\n{"v":1,"id":1,"name":"t.x","input":NaN}\n{"v":9,"id":2,"name":"t.x"}\n[1,2]\n{"v":1,"id":-1,"name":"t.x"}\n');
    c.send('{"v":1,"id":true,"name":"t.x"}\n{"v":1,"id":3,"name":""}\n{"v":1,"id":4,"name":"' + 'n'.repeat(129) + '"}\n\n   \n{"v":1,"id":5,');
    await new Promise((r) => setTimeout(r, 10));
    c.send('"name":"t.ok"}\n');
    const answers = (await c.answers()) as { id: number | null; ok: boolean; error: { code: string } }[];
    assert.deepEqual(
      answers.map((a) => [a.id, a.ok, a.error.code]),
      [
        [null, false, 'capability_invalid_input'],
        [null, false, 'capability_invalid_input'], // NaN is not JSON: no readable id
        [2, false, 'capability_invalid_input'], // another protocol version
        [null, false, 'capability_invalid_input'],
        [null, false, 'capability_invalid_input'],
        [null, false, 'capability_invalid_input'], // a boolean is no id
        [3, false, 'capability_invalid_input'],
        [4, false, 'capability_invalid_input'],
        [5, false, 'capability_denied'], // the one well-formed call, answered by the run
      ],
    );
    assert.deepEqual(seen, ['t.ok']);
    await s.close();
  });

  test('a line over the cap is refused and the connection closed, without buffering it', async () => {
    const s = await sockets.open();
    let calls = 0;
    s.serve(async () => {
      calls++;
      return { ok: true, output: null };
    });
    const c = await connect(s);
    c.send(`{"v":1,"id":1,"name":"t.x","input":"${'x'.repeat(MAX_LINE)}"}\n`);
    const answers = (await c.answers()) as { id: null; error: { code: string; message: string } }[];
    assert.equal(answers.length, 1);
    assert.equal(answers[0]?.error.code, 'capability_invalid_input');
    assert.match(answers[0]?.error.message ?? '', /limited to/);
    assert.equal(calls, 0);
    await s.close();
  });

  test('before a run serves it, calls are answered capability_unavailable', async () => {
    const s = await sockets.open();
    const c = await connect(s);
    c.send('{"v":1,"id":1,"name":"t.x"}\n');
    const answers = (await c.answers()) as { id: number; error: { code: string } }[];
    assert.deepEqual(answers.map((a) => [a.id, a.error.code]), [[1, 'capability_unavailable']]);
    await s.close();
  });

  test(`at most ${MAX_CONNECTIONS} connections; more are closed at once`, async () => {
    const s = await sockets.open();
    s.serve(async () => ({ ok: true, output: 1 }));
    const conns = await Promise.all(Array.from({ length: MAX_CONNECTIONS }, () => connect(s)));
    const extra = await connect(s);
    extra.send('{"v":1,"id":1,"name":"t.x"}\n');
    assert.deepEqual(await extra.answers(), [], 'the extra connection gets nothing');
    // The others still work.
    const first = conns[0]!;
    first.send('{"v":1,"id":2,"name":"t.x"}\n');
    assert.deepEqual(await first.answers(), [{ v: 1, id: 2, ok: true, output: 1 }]);
    for (const c of conns) c.conn.destroy();
    await s.close();
  });

  test(`at most ${MAX_PENDING} calls in flight; more are refused capability_rate_limited`, async () => {
    const s = await sockets.open();
    const release: (() => void)[] = [];
    s.serve(() => new Promise<CallResult>((resolve) => release.push(() => resolve({ ok: true, output: 'late' }))));
    const c = await connect(s);
    c.send(Array.from({ length: MAX_PENDING + 2 }, (_, i) => `{"v":1,"id":${i},"name":"t.x"}\n`).join(''));
    await until(() => c.lines.length === 2 && release.length === MAX_PENDING);
    assert.deepEqual(
      (c.lines as { id: number; error: { code: string } }[]).map((a) => [a.id, a.error.code]),
      [[MAX_PENDING, 'capability_rate_limited'], [MAX_PENDING + 1, 'capability_rate_limited']],
    );
    for (const r of release) r();
    await until(() => c.lines.length === MAX_PENDING + 2);
    await s.close();
  });

  test('answers still due when the run ends go nowhere; the connections are dropped', async () => {
    const s = await sockets.open();
    let release: (() => void) | undefined;
    s.serve(() => new Promise<CallResult>((resolve) => (release = () => resolve({ ok: true, output: 'late' }))));
    const c = await connect(s);
    c.send('{"v":1,"id":1,"name":"t.x"}\n');
    await until(() => release !== undefined);
    await s.close();
    release?.();
    assert.deepEqual(await c.answers(), []);
  });

  test('a new life of the runner starts with an empty directory; a root too long for a socket path is refused', async () => {
    const again = await CallSockets.create(root, 'installation', 'runner-under-test');
    const s = await again.open();
    const runnerDir = path.dirname(s.dir);
    await mkdir(path.join(runnerDir, 'left-behind'));
    await writeFile(path.join(runnerDir, 'left-behind', 'caps.sock'), '');
    await CallSockets.create(root, 'installation', 'runner-under-test');
    assert.deepEqual(await readdir(runnerDir), []);
    await s.close();
    await assert.rejects(CallSockets.create(`/${'d'.repeat(80)}`, 'i', 'r'), /too long for a Unix socket path/);
  });
});
