/**
 * A loopback proxy for the SDK tests that puts real failures between a client and a listening
 * harness: it answers 429 (or 503, or a 409 `idempotency_request_in_flight`) once, drops a connection after the harness answered (the work is done,
 * the client never hears it), or cuts an event stream after its first event. Each fault is armed
 * for the next matching request only; everything else is forwarded untouched.
 *
 * Tests in this process arm faults directly (`proxy.faults.push`); a client in another process
 * (the Python SDK's pytest suite) arms them through a small HTTP control endpoint on a port of
 * its own, so the proxied API never sees control paths:
 *   POST   /faults {kind, method?, path}   arm a fault for the next request with that path
 *   GET    /faults                         {pending}: faults not yet triggered
 *   GET    /keys                           {keys}: Idempotency-Key of each POST /v1/tasks seen
 *   DELETE /keys                           forget them
 *   GET    /streams                        {streams}: each event-stream request seen, {url, lastEventId}
 *   GET    /requests                       {requests}: "<METHOD> <url>" of every request seen, in order
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export type FaultKind = '429' | '503' | '409-in-flight' | 'drop-after-answer' | 'cut-stream-after-first-event';
export const FAULT_KINDS: readonly FaultKind[] = ['429', '503', '409-in-flight', 'drop-after-answer', 'cut-stream-after-first-event'];

/** What the proxy does with the next request that matches; then it forwards as usual. */
export interface Fault {
  match: (req: http.IncomingMessage) => boolean;
  kind: FaultKind;
}

export interface FaultProxy {
  url: string;
  /** The control endpoint's base URL. */
  controlUrl: string;
  faults: Fault[];
  /** Idempotency-Key of each POST /v1/tasks that reached the proxy, in order. */
  keys: string[];
  /** Each GET …/events that reached the proxy, with its Last-Event-ID (null: none), in order. */
  streams: { url: string; lastEventId: string | null }[];
  /** `<METHOD> <url>` of every request that reached the proxy, in order. */
  requests: string[];
  close(): Promise<void>;
}

function listen(server: http.Server): Promise<string> {
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`)),
  );
}

function closeServer(server: http.Server): Promise<void> {
  return new Promise((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  });
}

export async function startFaultProxy(target: string): Promise<FaultProxy> {
  const faults: Fault[] = [];
  const keys: string[] = [];
  const streams: FaultProxy['streams'] = [];
  const requests: string[] = [];
  const server = http.createServer((req, res) => {
    requests.push(`${req.method} ${req.url}`);
    if (req.method === 'POST' && req.url === '/v1/tasks') keys.push(String(req.headers['idempotency-key']));
    if (req.method === 'GET' && req.url?.endsWith('/events')) {
      const lastEventId = req.headers['last-event-id'];
      streams.push({ url: req.url, lastEventId: typeof lastEventId === 'string' ? lastEventId : null });
    }
    const i = faults.findIndex((f) => f.match(req));
    const fault = i >= 0 ? faults.splice(i, 1)[0] : undefined;
    if (fault?.kind === '429' || fault?.kind === '503' || fault?.kind === '409-in-flight') {
      // Answered here, never forwarded: the harness does nothing.
      req.resume();
      const [status, title, code] = fault.kind === '429'
        ? [429, 'Too Many Requests', 'quota_exceeded']
        : fault.kind === '503'
          ? [503, 'Service Unavailable', 'temporarily_unavailable']
          : [409, 'A request with this Idempotency-Key is in progress', 'idempotency_request_in_flight'];
      res.writeHead(status, { 'content-type': 'application/problem+json', 'retry-after': '1' });
      res.end(JSON.stringify({ type: 'about:blank', title, status, code }));
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
          let cut = false;
          up.on('data', (chunk: Buffer) => {
            // Chunks already parsed from the same read still arrive after destroy(): ignore them.
            if (cut) return;
            seen += chunk.toString();
            const end = seen.indexOf('\n\n');
            if (end >= 0) {
              cut = true;
              up.destroy();
              // Cut once the event is handed to the kernel: destroying the socket at once could
              // drop it unsent, and a stream cut before any event tests no resume.
              res.write(seen.slice(0, end + 2), () => req.socket.destroy());
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

  const control = http.createServer((req, res) => {
    const reply = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    let raw = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (raw += chunk));
    req.on('end', () => {
      if (req.method === 'POST' && req.url === '/faults') {
        let spec: { kind?: unknown; method?: unknown; path?: unknown };
        try {
          spec = JSON.parse(raw) as typeof spec;
        } catch {
          return reply(400, { error: 'body is not JSON' });
        }
        const { kind, method, path } = spec;
        if (!FAULT_KINDS.includes(kind as FaultKind) || typeof path !== 'string' || (method !== undefined && typeof method !== 'string')) {
          return reply(400, { error: `want {kind: ${FAULT_KINDS.join('|')}, method?, path}` });
        }
        faults.push({ kind: kind as FaultKind, match: (r) => r.url === path && (method === undefined || r.method === method) });
        return reply(201, { pending: faults.length });
      }
      if (req.method === 'GET' && req.url === '/faults') return reply(200, { pending: faults.length });
      if (req.method === 'GET' && req.url === '/keys') return reply(200, { keys });
      if (req.method === 'GET' && req.url === '/streams') return reply(200, { streams });
      if (req.method === 'GET' && req.url === '/requests') return reply(200, { requests });
      if (req.method === 'DELETE' && req.url === '/keys') {
        keys.length = 0;
        return reply(200, { keys });
      }
      reply(404, { error: 'no such control route' });
    });
  });

  const [url, controlUrl] = await Promise.all([listen(server), listen(control)]);
  return {
    url,
    controlUrl,
    faults,
    keys,
    streams,
    requests,
    close: async () => {
      await Promise.all([closeServer(server), closeServer(control)]);
    },
  };
}
