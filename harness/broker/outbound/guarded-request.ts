/**
 * One outbound HTTP exchange of a capability call, SSRF-guarded: each hop's target is resolved
 * once and checked (resolve-target.ts), the socket connects to that very address (a `lookup`
 * that answers with it), redirects are followed by hand so every hop is checked again (and by
 * the caller's rule: allowed hosts, same origin), and both the request body and the answer are
 * capped in bytes. Aborts with `signal` (the call's timeout, or the runner giving up).
 */
import http from 'node:http';
import https from 'node:https';
import type { LookupFunction } from 'node:net';
import { resolveTarget, TargetRefusedError, type Resolver } from './resolve-target.ts';
import type { PrivateTarget } from './private-targets.ts';
import type { ConnectionPool } from './connection-pool.ts';

export interface OutboundRequest {
  url: URL;
  method: string;
  headers: Record<string, string>;
  body?: Buffer;
}

export interface OutboundAnswer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  /** The URL that answered (after redirects). */
  url: URL;
}

export interface GuardOptions {
  resolver: Resolver;
  opened: readonly PrivateTarget[];
  maxRequestBytes: number;
  maxResponseBytes: number;
  signal: AbortSignal;
  /** Redirects followed at most. @defaultValue 5 */
  maxRedirects?: number;
  /** Why a hop (the first URL and every redirect target) may not be requested, or null. */
  hopRefused(url: URL, first: boolean): string | null;
  /** Headers dropped when a redirect leaves the first URL's origin (credentials). */
  sensitiveHeaders?: readonly string[];
  /** Keep-alive agents per checked address; without it, a new connection per request. */
  pool?: ConnectionPool;
}

/** Refused before or during the exchange by a guard (not a fault of the target). */
export class OutboundRefusedError extends Error {
  override readonly name = 'OutboundRefusedError';
}
/** The answer is larger than maxResponseBytes. */
export class ResponseTooLargeError extends Error {
  override readonly name = 'ResponseTooLargeError';
}

const HOP_BY_HOP = new Set(['host', 'connection', 'content-length', 'transfer-encoding', 'keep-alive', 'upgrade', 'te', 'trailer', 'proxy-connection']);

export async function guardedRequest(request: OutboundRequest, options: GuardOptions): Promise<OutboundAnswer> {
  if (request.body && request.body.length > options.maxRequestBytes) {
    throw new OutboundRefusedError(`the request body is larger than ${options.maxRequestBytes} bytes`);
  }
  const origin = request.url.origin;
  let current = { ...request, headers: { ...request.headers } };
  for (let hop = 0; ; hop++) {
    const answer = await oneHop(current, options, hop === 0);
    const location = answer.headers.location;
    if (![301, 302, 303, 307, 308].includes(answer.status) || !location) return answer;
    if (hop >= (options.maxRedirects ?? 5)) throw new OutboundRefusedError(`more than ${options.maxRedirects ?? 5} redirects`);
    let next: URL;
    try {
      next = new URL(location, current.url);
    } catch {
      throw new OutboundRefusedError('a redirect to an invalid URL');
    }
    const toGet = answer.status === 303 || ((answer.status === 301 || answer.status === 302) && current.method === 'POST');
    const headers = { ...current.headers };
    if (toGet) for (const h of Object.keys(headers)) if (h.toLowerCase().startsWith('content-')) delete headers[h];
    if (next.origin !== origin) {
      const drop = new Set((options.sensitiveHeaders ?? []).map((h) => h.toLowerCase()));
      for (const h of Object.keys(headers)) if (drop.has(h.toLowerCase())) delete headers[h];
    }
    current = toGet
      ? { url: next, method: current.method === 'HEAD' ? 'HEAD' : 'GET', headers }
      : { ...current, url: next, headers };
  }
}

async function oneHop(request: OutboundRequest, options: GuardOptions, first: boolean): Promise<OutboundAnswer> {
  const { url } = request;
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new OutboundRefusedError(`${url.protocol} URLs are not allowed`);
  if (url.username || url.password) throw new OutboundRefusedError('URLs with user or password are not allowed');
  const hopWhy = options.hopRefused(url, first);
  if (hopWhy) throw new OutboundRefusedError(first ? hopWhy : `a redirect to ${url.host}: ${hopWhy}`);
  const port = url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80;
  let target: { address: string; family: 4 | 6 };
  try {
    target = await resolveTarget(url.hostname, port, options.resolver, options.opened);
  } catch (err) {
    if (err instanceof TargetRefusedError) throw new OutboundRefusedError(first ? err.message : `a redirect to ${url.host}: ${err.message}`);
    throw err;
  }
  // Connect to the address checked above, whatever the name would resolve to now.
  const lookup = ((_host: string, opts: { all?: boolean }, cb: (...args: unknown[]) => void) => {
    if (opts?.all) cb(null, [{ address: target.address, family: target.family }]);
    else cb(null, target.address, target.family);
  }) as unknown as LookupFunction;
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(request.headers)) if (!HOP_BY_HOP.has(k.toLowerCase())) headers[k] = v;
  if (request.body) headers['content-length'] = String(request.body.length);
  return new Promise<OutboundAnswer>((resolve, reject) => {
    let req: http.ClientRequest;
    try {
      req = (url.protocol === 'https:' ? https : http).request(url, {
        method: request.method,
        headers,
        lookup,
        signal: options.signal,
        agent: options.pool?.agentFor(url.protocol as 'http:' | 'https:', target.address, port, url.hostname.replace(/^\[|\]$/g, '')) ?? false,
        // TLS is verified against the name (SNI and certificate), not the address.
        ...(url.protocol === 'https:' ? { servername: url.hostname.replace(/^\[|\]$/g, '') } : {}),
      });
    } catch (err) {
      // A header value Node refuses (characters outside Latin-1, say): the request is not valid.
      reject(new OutboundRefusedError(`the request cannot be sent: ${(err as Error).message}`));
      return;
    }
    req.on('error', reject);
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      let bytes = 0;
      res.on('data', (chunk: Buffer) => {
        bytes += chunk.length;
        if (bytes > options.maxResponseBytes) {
          res.destroy();
          reject(new ResponseTooLargeError(`the answer is larger than ${options.maxResponseBytes} bytes`));
          return;
        }
        chunks.push(chunk);
      });
      res.on('error', reject);
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks), url }));
    });
    req.end(request.body);
  });
}
