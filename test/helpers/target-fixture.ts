/**
 * The outside world of capability tests: a REAL HTTP server on loopback playing a ticketing API
 * and a payments API, each checking the credential it receives (401 otherwise), plus routes
 * that echo what they got (so tests see the credential come back and be redacted), redirect,
 * hang, fail and answer oversize. The payments API honours `Idempotency-Key` as Stripe does: a
 * key seen before gets the first answer again, and each refund is counted once per key.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface SeenRequest {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export interface TargetFixture {
  readonly port: number;
  readonly base: string;
  readonly seen: SeenRequest[];
  /** Refunds executed (not answered from the idempotency store), per order. */
  readonly refunds: { order: string; amount: number; key: string | undefined }[];
  /** Ids of `/hang?id=` requests whose caller closed the connection. */
  readonly hangsClosed: string[];
  /** Steps done (`POST /steps/:name` → `{ id }`), in arrival order. */
  readonly steps: { id: string; name: string }[];
  /** Every `POST /undo/:id` that arrived (tries included), in arrival order, with its Idempotency-Key. */
  readonly undoTries: { id: string; key: string | undefined; why: unknown }[];
  /** Steps undone (answered 200), in arrival order; a key seen before is answered again, not counted. */
  readonly undone: string[];
  /**
   * How `/undo/:id` answers, per step id: a number of 503 answers before it succeeds (Infinity:
   * never), or `'hang'` to hold the first request unanswered (the next one succeeds).
   */
  readonly undoBehaviour: Map<string, number | 'hang'>;
  close(): Promise<void>;
}

export interface TargetSecrets {
  tickets: string;
  payments: string;
  basic: string;
}

export async function startTargetFixture(secrets: TargetSecrets, host = '127.0.0.1'): Promise<TargetFixture> {
  const seen: SeenRequest[] = [];
  const refunds: TargetFixture['refunds'] = [];
  const answersByKey = new Map<string, { status: number; body: unknown }>();
  let nextTicket = 1;
  const hungOnce = new Set<string>();
  const hangsClosed: string[] = [];
  const steps: TargetFixture['steps'] = [];
  const undoTries: TargetFixture['undoTries'] = [];
  const undone: string[] = [];
  const undoBehaviour = new Map<string, number | 'hang'>();
  const undoneKeys = new Set<string>();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      const url = new URL(req.url ?? '/', `http://${host}`);
      const json = (status: number, value: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(value));
      };
      const parsed = (() => {
        try {
          return body ? (JSON.parse(body) as Record<string, unknown>) : {};
        } catch {
          return {};
        }
      })();
      if (url.pathname === '/tickets' && req.method === 'POST') {
        if (req.headers.authorization !== `Bearer ${secrets.tickets}`) return json(401, { error: 'bad credential' });
        // Echoes the credential back, as a careless API might.
        return json(201, { id: nextTicket++, title: parsed['title'], seenAuthorization: req.headers.authorization });
      }
      const refund = /^\/refunds\/([^/]+)$/.exec(url.pathname);
      if (refund && req.method === 'POST') {
        if (req.headers['x-api-key'] !== secrets.payments) return json(401, { error: 'bad credential' });
        const key = req.headers['idempotency-key'] as string | undefined;
        const known = key ? answersByKey.get(key) : undefined;
        if (known) return json(known.status, known.body);
        const order = decodeURIComponent(refund[1] as string);
        const amount = Number(parsed['amount']);
        refunds.push({ order, amount, key });
        const answer = { status: 200, body: { refunded: amount, order, refundId: `re_${refunds.length}` } };
        if (key) answersByKey.set(key, answer);
        return json(answer.status, answer.body);
      }
      const step = /^\/steps\/([^/]+)$/.exec(url.pathname);
      if (step && req.method === 'POST') {
        const name = decodeURIComponent(step[1] as string);
        const done = { id: `st_${name}`, name };
        steps.push(done);
        return json(200, done);
      }
      const undo = /^\/undo\/([^/]+)$/.exec(url.pathname);
      if (undo && req.method === 'POST') {
        const id = decodeURIComponent(undo[1] as string);
        const key = req.headers['idempotency-key'] as string | undefined;
        undoTries.push({ id, key, why: parsed['why'] });
        const behaviour = undoBehaviour.get(id) ?? 0;
        if (behaviour === 'hang') {
          undoBehaviour.set(id, 0);
          return;
        }
        if (behaviour > 0) {
          undoBehaviour.set(id, behaviour - 1);
          return json(503, { error: 'undo is down' });
        }
        if (!key || !undoneKeys.has(key)) undone.push(id);
        if (key) undoneKeys.add(key);
        return json(200, { undone: id });
      }
      if (url.pathname === '/basic') {
        const expected = `Basic ${Buffer.from(secrets.basic).toString('base64')}`;
        if (req.headers.authorization !== expected) return json(401, { error: 'bad credential' });
        return json(200, { raw: req.headers.authorization, query: url.search });
      }
      if (url.pathname === '/echo') {
        return json(200, { method: req.method, headers: req.headers, query: url.search, body });
      }
      if (url.pathname === '/redirect') {
        res.writeHead(Number(url.searchParams.get('status') ?? 302), { location: url.searchParams.get('to') ?? '/echo' });
        return res.end();
      }
      if (url.pathname === '/hang') {
        // Never answers; notes when the caller gives up (closes the connection).
        res.on('close', () => hangsClosed.push(url.searchParams.get('id') ?? ''));
        return;
      }
      if (url.pathname === '/hang-once') {
        // The first request of an id never gets an answer; later ones do (a crashed caller's retry).
        const id = url.searchParams.get('id') ?? '';
        if (!hungOnce.has(id)) {
          hungOnce.add(id);
          return;
        }
        return json(200, { released: id });
      }
      if (url.pathname === '/fail') return json(503, { error: 'down' });
      if (url.pathname === '/big') {
        res.writeHead(200, { 'content-type': 'text/plain' });
        return res.end('x'.repeat(Number(url.searchParams.get('bytes') ?? 1000)));
      }
      if (url.pathname === '/text') {
        res.writeHead(200, { 'content-type': 'text/plain' });
        return res.end(`hello ${url.searchParams.get('name') ?? ''}`);
      }
      return json(404, { error: 'no such route' });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const { port } = server.address() as AddressInfo;
  return {
    port,
    base: `http://${host}:${port}`,
    seen,
    refunds,
    hangsClosed,
    steps,
    undoTries,
    undone,
    undoBehaviour,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
