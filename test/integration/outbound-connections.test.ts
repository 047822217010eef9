/**
 * The outbound connections of capability calls (harness/broker/outbound/): TLS is verified
 * against the name the request names (SNI and certificate), never skipped because the connection
 * goes to a checked address; and a pooled connection is only reused for the very address it was
 * checked and opened for. Real servers on loopback; the name `target.test` resolves through a
 * stubbed resolver (no query leaves the machine). And the first hop checked ahead of the exchange
 * (while the broker claims the call) looks nothing up for a hop its checks refuse.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { after, before, describe, test } from 'node:test';
import { ConnectionPool } from '../../harness/broker/outbound/connection-pool.ts';
import { guardedRequest, OutboundRefusedError, startFirstHop, type GuardOptions } from '../../harness/broker/outbound/guarded-request.ts';
import { parsePrivateTargets } from '../../harness/broker/outbound/private-targets.ts';
import type { Resolver } from '../../harness/broker/outbound/resolve-target.ts';

function options(port: number, resolver: Resolver, extra: Partial<GuardOptions> = {}): GuardOptions {
  return {
    resolver,
    opened: parsePrivateTargets([`target.test:${port}`, `127.0.0.1:${port}`, `127.0.0.2:${port}`]),
    maxRequestBytes: 1024,
    maxResponseBytes: 1024,
    signal: new AbortController().signal,
    hopRefused: () => null,
    ...extra,
  };
}

describe('TLS to a target', () => {
  let dir: string;
  let server: tls.Server;
  let port: number;
  /** The names clients asked for in their TLS ClientHello (SNI). */
  const snis: string[] = [];
  /** HTTP requests that reached the server over a finished handshake. */
  let requests = 0;

  before(async () => {
    // A self-signed certificate for target.test: no CA this process trusts signed it.
    dir = mkdtempSync(path.join(os.tmpdir(), 'airlock-tls-'));
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=target.test',
      '-addext', 'subjectAltName=DNS:target.test', '-keyout', path.join(dir, 'key.pem'), '-out', path.join(dir, 'cert.pem'),
    ], { stdio: 'ignore' });
    const context = { key: readFileSync(path.join(dir, 'key.pem')), cert: readFileSync(path.join(dir, 'cert.pem')) };
    server = tls.createServer({
      ...context,
      SNICallback: (name, cb) => {
        snis.push(name);
        cb(null, tls.createSecureContext(context));
      },
    }, (socket) => {
      socket.on('data', () => {
        requests++;
        socket.end('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok');
      });
      socket.on('error', () => {});
    });
    server.on('tlsClientError', () => {});
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
  });
  after(() => {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('a certificate no trusted CA signed is refused, and the name is sent as SNI', async () => {
    const resolver: Resolver = async (name) => (name === 'target.test' ? [{ address: '127.0.0.1', family: 4 }] : []);
    const pool = new ConnectionPool();
    try {
      await assert.rejects(
        guardedRequest({ url: new URL(`https://target.test:${port}/x`), method: 'GET', headers: {} }, { ...options(port, resolver), pool }),
        (err: Error) => {
          assert.ok(!(err instanceof OutboundRefusedError), 'a TLS failure is the target failing, not a guard refusal');
          assert.match(`${err.message} ${(err as { code?: string }).code ?? ''}`, /self[- ]signed|certificate/i);
          return true;
        },
      );
    } finally {
      pool.destroy();
    }
    // The handshake reached the server with the request's name (not the address it connected
    // to), and nothing was sent over the connection whose certificate failed.
    assert.deepEqual(snis, ['target.test']);
    assert.equal(requests, 0);
  });
});

describe('pooled connections', () => {
  let server: http.Server;
  let port: number;
  const connectionsFrom: string[] = [];
  const seen: { host: string | undefined; local: string | undefined }[] = [];

  before(async () => {
    server = http.createServer((req, res) => {
      seen.push({ host: req.headers.host, local: req.socket.localAddress });
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"ok":true}');
    });
    server.keepAliveTimeout = 10_000;
    server.on('connection', (socket) => connectionsFrom.push(socket.localAddress ?? '?'));
    // Listening on every loopback address: 127.0.0.1 and 127.0.0.2 both reach it.
    await new Promise<void>((r) => server.listen(0, '0.0.0.0', r));
    port = (server.address() as AddressInfo).port;
  });
  after(() => {
    server.closeAllConnections();
    server.close();
  });

  test('a connection is reused only for the address it was checked and opened for', async () => {
    let answer = '127.0.0.1';
    // The name's address changes between calls (a rebinding): the second call must not ride the
    // first one's connection.
    const resolver: Resolver = async () => [{ address: answer, family: 4 }];
    const pool = new ConnectionPool();
    try {
      const get = () => guardedRequest({ url: new URL(`http://target.test:${port}/x`), method: 'GET', headers: {} }, { ...options(port, resolver), pool });
      for (let i = 0; i < 4; i++) assert.equal((await get()).status, 200);
      // Keep-alive: four calls in a row do not open four connections (the pool may open a second
      // one while the first is being released), and all go to the checked address.
      assert.ok(connectionsFrom.length < 4, `connections: ${connectionsFrom.join(', ')}`);
      assert.ok(connectionsFrom.every((a) => a === '127.0.0.1'));
      const before = connectionsFrom.length;
      answer = '127.0.0.2';
      const moved = await get();
      assert.equal(moved.status, 200);
      assert.deepEqual(connectionsFrom.slice(before), ['127.0.0.2'], 'a new address gets a connection of its own');
      assert.equal(seen.at(-1)?.local, '127.0.0.2');
      // The request names the target as its URL does, whatever address it went to.
      assert.ok(seen.every((s) => s.host === `target.test:${port}`));
    } finally {
      pool.destroy();
    }
  });

  test('without a pool, each request has a connection of its own, closed after the answer', async () => {
    connectionsFrom.length = 0;
    const resolver: Resolver = async () => [{ address: '127.0.0.1', family: 4 }];
    for (let i = 0; i < 2; i++) {
      const a = await guardedRequest({ url: new URL(`http://target.test:${port}/x`), method: 'POST', headers: { 'content-type': 'application/json' }, body: Buffer.from('{}') }, options(port, resolver));
      assert.equal(a.status, 200);
      assert.deepEqual(JSON.parse(a.body.toString('utf8')), { ok: true });
    }
    assert.equal(connectionsFrom.length, 2);
  });

  test('an answer larger than the cap is refused, and an aborted call stops at once', async () => {
    const big = http.createServer((_req, res) => res.end('x'.repeat(4096)));
    const slow = http.createServer(() => {});
    await Promise.all([big, slow].map((s) => new Promise<void>((r) => s.listen(0, '127.0.0.1', r))));
    const bigPort = (big.address() as AddressInfo).port;
    const slowPort = (slow.address() as AddressInfo).port;
    const resolver: Resolver = async () => [{ address: '127.0.0.1', family: 4 }];
    const pool = new ConnectionPool();
    try {
      await assert.rejects(
        guardedRequest({ url: new URL(`http://target.test:${bigPort}/`), method: 'GET', headers: {} }, { ...options(bigPort, resolver), pool }),
        /larger than 1024 bytes/,
      );
      const abort = new AbortController();
      const started = performance.now();
      setTimeout(() => abort.abort(), 50);
      await assert.rejects(
        guardedRequest({ url: new URL(`http://target.test:${slowPort}/`), method: 'GET', headers: {} }, { ...options(slowPort, resolver), pool, signal: abort.signal }),
        (err: Error) => err.name === 'AbortError',
      );
      assert.ok(performance.now() - started < 5000);
    } finally {
      pool.destroy();
      big.closeAllConnections();
      slow.closeAllConnections();
      big.close();
      slow.close();
    }
  });
});

describe('the first hop, checked ahead of the exchange', () => {
  test('a name the caller may not reach is never looked up, nor one of an oversized request', async () => {
    const asked: string[] = [];
    const resolver: Resolver = async (name) => {
      asked.push(name);
      return [{ address: '127.0.0.1', family: 4 }];
    };
    const refused = startFirstHop(
      { url: new URL('http://exfil.example.net/x'), method: 'GET', headers: {} },
      { resolver, opened: [], maxRequestBytes: 16, hopRefused: (url) => (url.hostname === 'exfil.example.net' ? 'not among the allowedHosts' : null) },
    );
    await assert.rejects(refused.checked(), (err: Error) => err instanceof OutboundRefusedError && /allowedHosts/.test(err.message));
    const oversized = startFirstHop(
      { url: new URL('http://target.test/x'), method: 'POST', headers: {}, body: Buffer.alloc(17) },
      { resolver, opened: [], maxRequestBytes: 16, hopRefused: () => null },
    );
    await assert.rejects(oversized.checked(), /larger than 16 bytes/);
    assert.deepEqual(asked, [], 'no lookup for a refused hop');
  });

  test('the exchange uses the first hop checked ahead: the name is resolved once', async () => {
    const server = http.createServer((_req, res) => res.end('ok'));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    let lookups = 0;
    const resolver: Resolver = async () => {
      lookups++;
      return [{ address: '127.0.0.1', family: 4 }];
    };
    try {
      const request = { url: new URL(`http://target.test:${port}/x`), method: 'GET', headers: {} };
      const opts = options(port, resolver);
      const firstHop = startFirstHop(request, opts);
      const answer = await guardedRequest(request, { ...opts, firstHop });
      assert.equal(answer.status, 200);
      assert.equal(lookups, 1);
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });
});
