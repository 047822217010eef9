/**
 * The console session as a credential of the /v1 API: a request without an `Authorization`
 * header but with the session cookie is the session's user, through the same security path as
 * an API key (rate limits, scopes, Cedar policies, audit). The console's pages read and write
 * only through the /v1 routes, so nothing about who may do what is decided twice.
 *
 * Cookies are ambient, so a cookie-authenticated request that changes anything (any method but
 * GET, HEAD and OPTIONS) must also carry the session's CSRF token in `X-CSRF-Token`, and must
 * not be a cross-site request by the browser's own account (`Sec-Fetch-Site`). The cookie is
 * SameSite=Strict besides: a cross-site page gets neither the cookie sent nor the token read.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Principal } from '../auth/principal.ts';
import { samePrincipal, type CredentialCheck } from '../auth/credential-watch.ts';
import { ForbiddenError } from '../problems.ts';
import { sameToken, type ConsoleSession, type ConsoleSessions } from './session-store.ts';

/** The session cookie (sent to /v1 too: the console's scripts call the API with it). */
export const SESSION_COOKIE = 'airlock_session';
/** The sign-in form's double-submit token (before there is a session to hold one). */
export const SIGNIN_COOKIE = 'airlock_signin';
export const CSRF_HEADER = 'x-csrf-token';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** One cookie's value from the Cookie header, or undefined. */
export function cookieOf(request: FastifyRequest, name: string): string | undefined {
  const header = request.headers.cookie;
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/** Whether the request came over TLS (directly, or from a trusted proxy that says so). */
export const overTls = (request: FastifyRequest) => request.protocol === 'https';

/** Sets a cookie: HttpOnly, SameSite=Strict, Secure when the request came over TLS. */
export function setCookie(
  request: FastifyRequest,
  reply: FastifyReply,
  name: string,
  value: string,
  options: { path: string; maxAgeSeconds: number },
): void {
  const attrs = [`${name}=${value}`, `Path=${options.path}`, `Max-Age=${options.maxAgeSeconds}`, 'HttpOnly', 'SameSite=Strict'];
  if (overTls(request)) attrs.push('Secure');
  const previous = reply.getHeader('set-cookie');
  const list = previous === undefined ? [] : Array.isArray(previous) ? previous.map(String) : [String(previous)];
  reply.header('set-cookie', [...list, attrs.join('; ')]);
}

/** The checks of a state-changing request authenticated by cookie: `Sec-Fetch-Site`, then the token. */
export function csrfRefusal(request: FastifyRequest, expected: string, presented: string | undefined): string | null {
  if (SAFE_METHODS.has(request.method)) return null;
  const site = request.headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin' && site !== 'none') return `a ${String(site)} request cannot change anything`;
  if (!sameToken(presented, expected)) return 'the CSRF token is missing or wrong';
  return null;
}

export interface SessionCredential {
  principal: Principal;
  session: ConsoleSession;
  /** Re-checks the session (signed out, key revoked, user disabled → false). */
  stillAuthenticated: CredentialCheck;
}

/**
 * The session credential of a /v1 request, or null when it has no valid session cookie. Throws
 * 403 for a state-changing request that fails the CSRF checks (after `onRefused` recorded it).
 */
export async function sessionCredential(
  request: FastifyRequest,
  sessions: ConsoleSessions,
  onRefused: (request: FastifyRequest, session: ConsoleSession, reason: string) => Promise<void>,
): Promise<SessionCredential | null> {
  const id = cookieOf(request, SESSION_COOKIE);
  if (id === undefined) return null;
  const session = await sessions.get(id);
  if (!session) return null;
  const header = request.headers[CSRF_HEADER];
  const refusal = csrfRefusal(request, session.csrf, typeof header === 'string' ? header : undefined);
  if (refusal) {
    await onRefused(request, session, refusal);
    throw new ForbiddenError(`Console session: ${refusal}`);
  }
  const principal = session.principal;
  return {
    principal,
    session,
    stillAuthenticated: async () => samePrincipal(principal, (await sessions.get(id))?.principal ?? null),
  };
}
