/**
 * The TypeScript SDK (clients/typescript), BUILT with tsc and imported from its output, against
 * a real listening harness with a real runner and Redis. Between them sits a loopback proxy of
 * this test's own that can answer 429 once, drop a connection after the harness answered, or
 * cut an event stream, so the SDK's retries are tested against real failures:
 * - the committed OpenAPI document and generated types are what the app produces now;
 * - run() returns the finished task; typed errors carry the problem's code;
 * - a 429 is honoured (Retry-After waited) and retried with the same Idempotency-Key;
 * - a connection dropped after the task was created is retried with the same key: one task;
 * - an event stream cut mid-task resumes with Last-Event-ID: every event once, in order.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { generate } from '../../scripts/sdk-generate.ts';
import type * as SdkModule from '../../clients/typescript/src/index.ts';
import { AGENTS, startStack, type Stack } from '../helpers/stack.ts';

type Sdk = typeof SdkModule;
const SDK_DIR = fileURLToPath(new URL('../../clients/typescript/', import.meta.url));

/** What the proxy does with the next request that matches; then it forwards as usual. */
type Fault = { match: (req: http.IncomingMessage) => boolean; kind: '429' | 'drop-after-answer' | 'cut-stream-after-first-event' };

interface Proxy {
  url: string;
  faults: Fault[];
  /** Idempotency-Key of each POST /v1/tasks that reached the proxy, in order. */
  keys: string[];
  close(): Promise<void>;
}

async function startProxy(target: string): Promise<Proxy> {
  const faults: Fault[] = [];
  const keys: string[] = [];
  const server = http.createServer((req, res) => {
    if (req.method === 'POST' && req.url === '/v1/tasks') keys.push(String(req.headers['idempotency-key']));
    const i = faults.findIndex((f) => f.match(req));
    const fault = i >= 0 ? faults.splice(i, 1)[0] : undefined;
    if (fault?.kind === '429') {
      req.resume();
      res.writeHead(429, { 'content-type': 'application/problem+json', 'retry-after': '1' });
      res.end(JSON.stringify({ type: 'about:blank', title: 'Too Many Requests', status: 429, code: 'quota_exceeded' }));
      return;
    }
    const upstream = http.request(
      new URL(req.url ?? '/', target),
      { method: req.method, headers: { ...req.headers, host: new URL(target).host } },
      (up) => {
        if (fault?.kind === 'drop-after-answer') {
          // The harness did the work and answered; the client never hears it.
          up.resume();
          up.on('end', () => req.socket.destroy());
          return;
        }
        res.writeHead(up.statusCode ?? 502, up.headers);
        if (fault?.kind === 'cut-stream-after-first-event') {
          let seen = '';
          up.on('data', (chunk: Buffer) => {
            seen += chunk.toString();
            const end = seen.indexOf('\n\n');
            if (end >= 0) {
              res.write(seen.slice(0, end + 2));
              up.destroy();
              req.socket.destroy();
            }
          });
          return;
        }
        up.pipe(res);
      },
    );
    upstream.on('error', () => req.socket.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    faults,
    keys,
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}

describe('TypeScript SDK against a real Airlock', () => {
  let stack: Stack;
  let proxy: Proxy;
  let sdk: Sdk;
  let buildDir: string;
  before(async () => {
    // Build the package as a user would (tsc), and test what that build produced.
    buildDir = await mkdtemp(path.join(tmpdir(), 'airlock-sdk-'));
    execFileSync(process.execPath, [
      path.join(SDK_DIR, '../../node_modules/typescript/bin/tsc'), '-p', path.join(SDK_DIR, 'tsconfig.json'), '--outDir', buildDir,
    ], { stdio: 'inherit' });
    sdk = (await import(path.join(buildDir, 'index.js'))) as Sdk;
    stack = await startStack();
    await stack.app.listen({ port: 0, host: '127.0.0.1' });
    proxy = await startProxy(`http://127.0.0.1:${(stack.app.server.address() as AddressInfo).port}`);
  });
  after(async () => {
    await proxy?.close();
    await stack?.close();
    if (buildDir) await rm(buildDir, { recursive: true, force: true });
  });

  const client = (options: Partial<ConstructorParameters<Sdk['Airlock']>[0]> = {}) =>
    new sdk.Airlock({ apiKey: AGENTS.alice.key, baseUrl: proxy.url, ...options });

  test('the committed openapi.json and src/schema.ts are what the app generates now (npm run sdk:generate)', async () => {
    const { document, schema } = await generate();
    assert.equal(await readFile(path.join(SDK_DIR, 'openapi.json'), 'utf8'), document, 'openapi.json is stale');
    assert.equal(await readFile(path.join(SDK_DIR, 'src/schema.ts'), 'utf8'), schema, 'src/schema.ts is stale');
  });

  test('run() returns the finished task; get, list, runtimes', async () => {
    const airlock = client();
    const task = await airlock.run('console.log("hi from the sdk"); 6 * 7', { runtime: 'javascript' });
    assert.equal(task.status, 'succeeded');
    assert.match(JSON.stringify(task.result), /hi from the sdk/);
    assert.equal((await airlock.tasks.get(task.id)).id, task.id);
    assert.ok((await airlock.tasks.list({ limit: 5 })).items.some((t) => t.id === task.id));
    const runtimes = await airlock.runtimes();
    assert.ok(runtimes.runtimes.some((r) => r.name === 'javascript' && r.available));
  });

  test('problems become typed errors carrying the code', async () => {
    await assert.rejects(client().tasks.get(randomUUID()), (err: unknown) => {
      assert.ok(err instanceof sdk.NotFoundError);
      assert.equal(err.code, 'not_found');
      assert.equal(err.status, 404);
      return true;
    });
    await assert.rejects(new sdk.Airlock({ apiKey: 'not-a-key', baseUrl: proxy.url }).tasks.list(), sdk.UnauthorizedError);
    await assert.rejects(
      client().tasks.create({ runtime: 'javascript', code: '1', timeoutMs: 10 ** 9 }),
      (err: unknown) => err instanceof sdk.BadRequestError && err.code === 'invalid_request',
    );
    assert.throws(() => new sdk.Airlock({ apiKey: '' }), /AIRLOCK_API_KEY/);
  });

  test('a 429 is honoured: Retry-After waited, then retried with the same Idempotency-Key', async () => {
    proxy.keys.length = 0;
    proxy.faults.push({ match: (r) => r.method === 'POST' && r.url === '/v1/tasks', kind: '429' });
    const started = performance.now();
    const task = await client().tasks.create({ runtime: 'javascript', code: '1+1' });
    assert.ok(performance.now() - started >= 950, 'waited for Retry-After: 1');
    assert.equal(proxy.keys.length, 2);
    assert.equal(proxy.keys[0], proxy.keys[1]);
    assert.ok(task.id);
    // With no retries left the error says how long to wait.
    proxy.faults.push({ match: (r) => r.method === 'POST' && r.url === '/v1/tasks', kind: '429' });
    await assert.rejects(client({ maxRetries: 0 }).tasks.create({ runtime: 'javascript', code: '1' }), (err: unknown) => {
      assert.ok(err instanceof sdk.RateLimitedError);
      assert.equal(err.retryAfterMs, 1000);
      return true;
    });
  });

  test('a connection dropped after the harness created the task: the retry answers that task, none is created twice', async () => {
    proxy.keys.length = 0;
    const ids = async () => new Set((await client().tasks.list({ limit: 100 })).items.map((t) => t.id));
    const before = await ids();
    proxy.faults.push({ match: (r) => r.method === 'POST' && r.url === '/v1/tasks', kind: 'drop-after-answer' });
    const task = await client().tasks.create({ runtime: 'javascript', code: '1+1' });
    assert.equal(proxy.faults.length, 0, 'the first answer was dropped');
    assert.equal(proxy.keys.length, 2, 'the SDK retried');
    assert.equal(proxy.keys[0], proxy.keys[1], 'with the same key');
    const created = [...(await ids())].filter((id) => !before.has(id));
    assert.deepEqual(created, [task.id], 'exactly one task, the one answered');
  });

  test('an event stream cut mid-task resumes with Last-Event-ID: every event once, in order', async () => {
    const airlock = client();
    const created = await airlock.tasks.create({
      runtime: 'javascript',
      code: 'for (let i = 0; i < 5; i++) { console.log("line " + i); const t = Date.now(); while (Date.now() - t < 60) {} }',
    });
    proxy.faults.push({ match: (r) => r.url === `/v1/tasks/${created.id}/events`, kind: 'cut-stream-after-first-event' });
    const ids: string[] = [];
    let output = '';
    let last = '';
    for await (const event of airlock.tasks.events(created.id)) {
      if (event.id) ids.push(event.id);
      if (event.event === 'output') output += (JSON.parse(event.data) as { data: string }).data;
      if (event.event === 'status') last = (JSON.parse(event.data) as { status: string }).status;
    }
    assert.equal(last, 'succeeded');
    assert.equal(proxy.faults.length, 0, 'the stream was cut once');
    assert.equal(new Set(ids).size, ids.length, 'no event twice');
    assert.deepEqual(ids, [...ids].sort((a, b) => {
      const [am, as] = a.split('-').map(Number) as [number, number];
      const [bm, bs] = b.split('-').map(Number) as [number, number];
      return am - bm || as - bs;
    }), 'in order');
    for (let i = 0; i < 5; i++) assert.ok(output.includes(`line ${i}`), `line ${i} arrived`);
  });
});
