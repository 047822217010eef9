/**
 * How a console page reads and writes: through the /v1 routes, in process (`inject`), with the
 * browser's own session cookie and client address, so the API's security path (rate limits,
 * Cedar policies, scopes, audit) decides exactly as it would for the API — nothing is decided
 * twice. A write carries the CSRF token the form carried; the /v1 path checks it.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { CSRF_HEADER, SESSION_COOKIE, cookieOf } from './session-auth.ts';

export interface ApiAnswer {
  status: number;
  /** The parsed JSON body (a problem for 4xx/5xx), or null when it is not JSON. */
  body: Record<string, unknown> | null;
  /** `title: detail` of a problem answer. */
  problem: string | null;
  headers: Record<string, unknown>;
}

export interface ConsoleApi {
  get(url: string): Promise<ApiAnswer>;
  /** A write; `idempotencyKey` (the form's own, so a resubmitted form is a replay) is sent quoted. */
  send(method: 'POST' | 'PUT' | 'DELETE', url: string, csrf: string | undefined, payload?: unknown, idempotencyKey?: string): Promise<ApiAnswer>;
}

/** The /v1 API as the browser of `request` would see it. */
export function consoleApi(root: FastifyInstance, request: FastifyRequest): ConsoleApi {
  const cookie = `${SESSION_COOKIE}=${cookieOf(request, SESSION_COOKIE) ?? ''}`;
  const site = request.headers['sec-fetch-site'];
  const call = async (method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, extra: Record<string, string>, payload?: unknown) => {
    const res = await root.inject({
      method,
      url,
      remoteAddress: request.ip,
      headers: { cookie, ...(typeof site === 'string' ? { 'sec-fetch-site': site } : {}), ...extra },
      ...(payload === undefined ? {} : { payload: JSON.stringify(payload) }),
    });
    let body: Record<string, unknown> | null = null;
    try {
      body = res.json();
    } catch {
      body = null;
    }
    const problem =
      res.statusCode >= 400 && body ? `${String(body['title'] ?? 'Error')}: ${String(body['detail'] ?? '')}` : null;
    return { status: res.statusCode, body, problem, headers: res.headers };
  };
  return {
    get: (url) => call('GET', url, {}),
    send: (method, url, csrf, payload, idempotencyKey) =>
      call(
        method,
        url,
        {
          [CSRF_HEADER]: csrf ?? '',
          ...(payload === undefined ? {} : { 'content-type': 'application/json' }),
          ...(idempotencyKey && /^[A-Za-z0-9-]{1,100}$/.test(idempotencyKey) ? { 'idempotency-key': `"${idempotencyKey}"` } : {}),
        },
        payload,
      ),
  };
}
