/**
 * Requests that are not valid HTTP/1.1 — refused by Node's parser before Fastify has a request,
 * or by Node itself (no Host) — are answered with problem+json like every other error, and the
 * connection is closed. Real app on a real loopback listener, raw bytes over a real socket
 * (what `inject` cannot send); real Redis; no runner. Found by the raw-HTTP fuzz
 * (api-fuzz.test.ts): these were Fastify's plain JSON, or Node's empty 400.
 */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, test } from 'node:test';
import { AGENTS, startStack, type Stack } from '../helpers/stack.ts';

let stack: Stack;
let port: number;
before(async () => {
  stack = await startStack({ runner: false });
  await stack.app.listen({ port: 0, host: '127.0.0.1' });
  port = (stack.app.server.address() as { port: number }).port;
});
after(async () => {
  await stack.close();
});

function send(raw: string): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1', () => socket.end(raw, 'latin1'));
    let data = '';
    socket.on('data', (c: Buffer) => (data += c.toString('latin1')));
    socket.on('error', () => {});
    socket.on('close', () => resolve(data));
  });
}

function problemOf(answer: string): { status: number; headers: string; body: Record<string, unknown> } {
  const m = /^HTTP\/1\.1 (\d{3})[^\r\n]*\r\n((?:[^\r\n]+\r\n)*)\r\n([\s\S]*)$/.exec(answer);
  assert.ok(m, `not an HTTP response: ${JSON.stringify(answer)}`);
  assert.match(m[2]!, /^content-type: application\/problem\+json/im, answer);
  const body = m[3]!;
  const json = /^[0-9a-f]+\r\n/i.test(body) ? body.slice(body.indexOf('\r\n') + 2, body.lastIndexOf('}') + 1) : body;
  return { status: Number(m[1]), headers: m[2]!, body: JSON.parse(json) as Record<string, unknown> };
}

const auth = `Authorization: Bearer ${AGENTS.alice.key}\r\n`;

test('a request Node cannot parse → 400 invalid_request problem+json, connection closed', async () => {
  for (const raw of [
    `GET /v1/tasks HTTP/1.1\r\nHost: x\r\n${auth}Content-Length: abc\r\n\r\n`,
    'GARBAGE\r\n\r\n',
    `GET /v1/tasks HTTP/1.1\r\nHost: x\r\n${auth}Transfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n`,
    `POST /v1/tasks HTTP/1.1\r\nHost: x\r\n${auth}Transfer-Encoding: chunked\r\n\r\nzz\r\n`,
    'GET /v1/tasks HTTP/1.1\r\nHost: x\r\nBad Name: x\r\n\r\n',
  ]) {
    const p = problemOf(await send(raw));
    assert.equal(p.status, 400, JSON.stringify(raw));
    assert.equal(p.body['code'], 'invalid_request');
    assert.equal(p.body['status'], 400);
    assert.match(p.headers, /^connection: close/im);
  }
});

test('headers over the size limit → 431 headers_too_large problem+json', async () => {
  const p = problemOf(await send(`GET /v1/tasks HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`));
  assert.equal(p.status, 431);
  assert.equal(p.body['code'], 'headers_too_large');
});

test('an HTTP/1.1 request without Host → 400 invalid_request problem+json (RFC 9112 §3.2); HTTP/1.0 needs none', async () => {
  const p = problemOf(await send(`GET /v1/tasks HTTP/1.1\r\n${auth}\r\n`));
  assert.equal(p.status, 400);
  assert.equal(p.body['code'], 'invalid_request');
  assert.match(String(p.body['detail']), /Host/);
  const old = await send(`GET /healthz HTTP/1.0\r\n\r\n`);
  assert.match(old, /^HTTP\/1\.1 200 /);
});
