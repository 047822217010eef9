/**
 * The runner's broker client (runner/broker/broker-client.ts) against REAL HTTP servers on
 * loopback that misbehave on purpose: connections reset before an answer, 503s, a refused
 * token, an answer that never comes, garbage, a port nobody listens on. Nothing is mocked; no
 * Redis is needed (the token check is the broker's: test/integration/isolate-caps.test.ts).
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, describe, test } from 'node:test';
import type { BrokerCallRequest } from '../../protocol/capability.ts';
import { BrokerClient } from '../../runner/broker/broker-client.ts';
import { WallDeadline } from '../../runner/run-session.ts';

const TOKEN = `bt_${'A'.repeat(43)}`;
const REQUEST: BrokerCallRequest = {
  version: 'v1',
  taskId: '00000000-0000-4000-8000-000000000001',
  attempt: 1,
  seq: 3,
  name: 'tickets.create',
  input: { title: 'x' },
};

interface Seen {
  body: string;
  headers: http.IncomingHttpHeaders;
}

const servers: http.Server[] = [];
const clients: BrokerClient[] = [];
after(async () => {
  for (const c of clients) c.dispose();
  for (const s of servers) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
});

/** A server whose n-th request (0-based) is handled by `handle(n, req, res)`. */
async function server(handle: (n: number, req: http.IncomingMessage, res: http.ServerResponse) => void): Promise<{ url: string; seen: Seen[] }> {
  const seen: Seen[] = [];
  const s = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      seen.push({ body: Buffer.concat(chunks).toString('utf8'), headers: req.headers });
      handle(seen.length - 1, req, res);
    });
  });
  servers.push(s);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(s.address() as AddressInfo).port}`, seen };
}

function client(url: string, extra: Partial<ConstructorParameters<typeof BrokerClient>[0]> = {}): BrokerClient {
  const c = new BrokerClient({ url, retryDelayMs: 10, ...extra });
  clients.push(c);
  return c;
}

const ok = (res: http.ServerResponse, body: unknown = { ok: true, output: { id: 1 } }) => {
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
};
const never = new AbortController().signal;

describe('broker client', () => {
  test('sends the call as JSON with the bearer token, and returns the answer', async () => {
    const s = await server((_n, _req, res) => ok(res));
    const r = await client(s.url).call(REQUEST, TOKEN, never, 5000);
    assert.deepEqual(r, { ok: true, output: { id: 1 } });
    assert.equal(s.seen.length, 1);
    // approvalWaitMs 0: "if this call waits for a human, say so at once" (see the next tests).
    assert.deepEqual(JSON.parse(s.seen[0]!.body), { ...REQUEST, approvalWaitMs: 0 });
    assert.equal(s.seen[0]!.headers.authorization, `Bearer ${TOKEN}`);
    assert.equal(s.seen[0]!.headers['content-type'], 'application/json');
  });

  test('a connection reset before the answer is resent, with the same seq (the broker makes that safe)', async () => {
    const s = await server((n, req, res) => (n === 0 ? req.socket.destroy() : ok(res)));
    const r = await client(s.url).call(REQUEST, TOKEN, never, 5000);
    assert.deepEqual(r, { ok: true, output: { id: 1 } });
    assert.equal(s.seen.length, 2);
    assert.equal(s.seen[0]!.body, s.seen[1]!.body, 'the same call, seq included');
  });

  test('502/503/504 are resent a bounded number of times, then capability_unavailable', async () => {
    const recovering = await server((n, _req, res) => (n < 2 ? res.writeHead(503).end() : ok(res)));
    assert.deepEqual(await client(recovering.url).call(REQUEST, TOKEN, never, 5000), { ok: true, output: { id: 1 } });
    assert.equal(recovering.seen.length, 3);
    const down = await server((_n, _req, res) => res.writeHead(502).end());
    const r = await client(down.url, { retries: 2 }).call(REQUEST, TOKEN, never, 5000);
    assert.equal(r.ok, false);
    assert.equal(!r.ok && r.error.code, 'capability_unavailable');
    assert.equal(down.seen.length, 3, '1 + 2 resends');
  });

  test('a refused token (401) is not resent: capability_unavailable', async () => {
    const s = await server((_n, _req, res) => res.writeHead(401).end('{}'));
    const r = await client(s.url).call(REQUEST, TOKEN, never, 5000);
    assert.equal(!r.ok && r.error.code, 'capability_unavailable');
    assert.match(!r.ok ? r.error.message : '', /HTTP 401/);
    assert.equal(s.seen.length, 1);
  });

  test('an input over the body limit of the broker (413) is capability_invalid_input, not resent', async () => {
    const s = await server((_n, _req, res) => res.writeHead(413).end('{}'));
    const r = await client(s.url).call(REQUEST, TOKEN, never, 5000);
    assert.equal(!r.ok && r.error.code, 'capability_invalid_input');
    assert.equal(s.seen.length, 1);
  });

  test('no broker listening: capability_unavailable after the resends', async () => {
    const s = await server(() => undefined);
    const url = s.url;
    const closed = servers.pop()!;
    await new Promise((r) => closed.close(r));
    const r = await client(url).call(REQUEST, TOKEN, never, 5000);
    assert.equal(!r.ok && r.error.code, 'capability_unavailable');
    assert.match(!r.ok ? r.error.message : '', /ECONNREFUSED/);
  });

  test('no answer within the budget: capability_timeout, and the call is not resent (it may be running)', async () => {
    const s = await server(() => undefined); // never answers
    const r = await client(s.url).call(REQUEST, TOKEN, never, 300);
    assert.equal(!r.ok && r.error.code, 'capability_timeout');
    assert.equal(s.seen.length, 1);
    const capped = await client(s.url, { callTimeoutMs: 200 }).call(REQUEST, TOKEN, never, 60_000);
    assert.equal(!capped.ok && capped.error.code, 'capability_timeout', 'callTimeoutMs caps a generous budget');
  });

  test('an abort ends the call at once and closes its request', async () => {
    let closed = false;
    const s = await server((_n, req) => req.socket.on('close', () => (closed = true)));
    const ac = new AbortController();
    const pending = client(s.url).call(REQUEST, TOKEN, ac.signal, 60_000);
    while (s.seen.length === 0) await new Promise((r) => setTimeout(r, 5));
    ac.abort();
    const r = await pending;
    assert.equal(!r.ok && r.error.code, 'capability_unavailable');
    while (!closed) await new Promise((r) => setTimeout(r, 5));
    assert.equal(s.seen.length, 1);
  });

  test('a call waiting for approval holds the task clock: resent asking to be held; the decision dates the release back', async () => {
    const deadline = new WallDeadline(10_000);
    deadline.start();
    const heldWhileServed: boolean[] = [];
    const s = await server((n, _req, res) => {
      heldWhileServed.push(deadline.held);
      if (n === 0) return ok(res, { ok: false, error: { code: 'approval_pending', message: 'waiting' } });
      // Held 300 ms here, of which 200 ms waiting for the decision, then the call ran.
      setTimeout(() => ok(res, { ok: true, output: { id: 2 }, approvalWaitMs: 200 }), 300);
    });
    const t0 = performance.now();
    const r = await client(s.url).call(REQUEST, TOKEN, never, deadline);
    const elapsed = performance.now() - t0;
    assert.deepEqual(r, { ok: true, output: { id: 2 } }, 'approvalWaitMs is the runner’s, not the code’s');
    assert.deepEqual(s.seen.map((x) => (JSON.parse(x.body) as { approvalWaitMs: number }).approvalWaitMs), [0, 30_000], 'held up to half of callTimeoutMs');
    assert.deepEqual(heldWhileServed, [false, true], 'the clock stood still from the first "pending" on');
    assert.equal(deadline.held, false, 'released with the answer');
    const counted = 10_000 - deadline.remainingMs();
    // Counted: the first exchange, and the ~100 ms after the decision; not the 200 ms waited.
    assert.ok(counted >= 95, `after the decision counts (${counted.toFixed(0)} ms)`);
    assert.ok(counted <= elapsed - 195, `the wait does not (${counted.toFixed(0)} of ${elapsed.toFixed(0)} ms)`);
  });

  test('an answer that is not the protocol is capability_unavailable; a too large one capability_failed', async () => {
    const garbage = await server((n, _req, res) => (n === 0 ? ok(res, { output: 1 }) : res.writeHead(200).end('not json')));
    const c = client(garbage.url);
    for (let i = 0; i < 2; i++) {
      const r = await c.call(REQUEST, TOKEN, never, 5000);
      assert.equal(!r.ok && r.error.code, 'capability_unavailable');
    }
    const big = await server((_n, _req, res) => ok(res, { ok: true, output: 'x'.repeat(2048) }));
    const r = await client(big.url, { maxResponseBytes: 1024 }).call(REQUEST, TOKEN, never, 5000);
    assert.equal(!r.ok && r.error.code, 'capability_failed');
  });
});
