/**
 * The web console at /console (issue 13): sign-in with a user's API key exchanged for a session,
 * sign-out, the static scripts, and the pages (approvals-pages.ts, tasks-pages.ts,
 * admin-pages.ts). Every response carries a strict Content-Security-Policy: scripts only from
 * /console/static (no inline script, no eval), no framing, forms only to this origin.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AuditProducer } from '../../protocol/audit/producer.ts';
import type { Authenticator } from '../auth/principal.ts';
import { principalFields } from '../audit/request-audit.ts';
import { NotReadyError } from '../problems.ts';
import { adminPages } from './admin-pages.ts';
import { approvalPages } from './approvals-pages.ts';
import { consoleApi } from './console-api.ts';
import { field, type AddPage } from './page-kit.ts';
import { html, page, type SafeHtml } from './html.ts';
import { SESSION_COOKIE, SIGNIN_COOKIE, cookieOf, csrfRefusal, setCookie } from './session-auth.ts';
import type { ConsoleSessions } from './session-store.ts';
import { taskPages } from './tasks-pages.ts';

export interface ConsoleRoutesOptions {
  /** The app's root instance: pages call the /v1 routes on it (inject). */
  root: FastifyInstance;
  sessions: ConsoleSessions;
  authenticator: Authenticator;
  audit: AuditProducer;
}

export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join('; ');

const STATIC_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'static');
const STATIC_TYPES: Record<string, string> = { '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8' };
/** Console pages are not part of the API document (/openapi.json). */
const HIDDEN = { schema: { hide: true } };
/** The same shape as a bearer credential (harness/auth/api-key-authenticator.ts). */
const KEY_SHAPE = /^[A-Za-z0-9._~+/=-]{16,4096}$/;

const formParser = (_req: FastifyRequest, body: string, done: (err: Error | null, body?: unknown) => void) => {
  const out: Record<string, string> = {};
  for (const [k, v] of new URLSearchParams(body)) out[k] = v;
  done(null, out);
};

export async function consoleRoutes(app: FastifyInstance, options: ConsoleRoutesOptions): Promise<void> {
  const { root, sessions, authenticator, audit } = options;
  const statics = new Map<string, Buffer>();
  for (const name of ['console.css', 'approvals.js', 'task.js', 'trace.js', 'verify.js', 'countdown.js']) {
    statics.set(name, readFileSync(path.join(STATIC_DIR, name)));
  }

  await app.register(async (scope) => {
    scope.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, formParser);
    scope.addHook('onSend', async (_request, reply, payload) => {
      reply.header('content-security-policy', CONTENT_SECURITY_POLICY);
      reply.header('x-content-type-options', 'nosniff');
      reply.header('x-frame-options', 'DENY');
      reply.header('referrer-policy', 'no-referrer');
      reply.header('cross-origin-opener-policy', 'same-origin');
      if (!reply.getHeader('cache-control')) reply.header('cache-control', 'no-store');
      return payload;
    });

    scope.get('/console/static/:file', HIDDEN, async (request, reply) => {
      const name = (request.params as { file: string }).file;
      const content = statics.get(name);
      if (!content) return reply.code(404).type('text/plain; charset=utf-8').send('Not found');
      return reply.type(STATIC_TYPES[path.extname(name)] as string).header('cache-control', 'no-cache').send(content);
    });

    const signInPage = (reply: FastifyReply, request: FastifyRequest, error?: string, status = 200) => {
      const token = randomBytes(32).toString('base64url');
      setCookie(request, reply, SIGNIN_COOKIE, token, { path: '/console/sign-in', maxAgeSeconds: 600 });
      const body = html`${error ? html`<p class="error" role="alert">${error}</p>` : ''}
        <p>Sign in with your own API key (a user's key; agent keys cannot sign in). The key is
        exchanged for a session and is not kept in the browser.</p>
        <form method="post" action="/console/sign-in">
          <input type="hidden" name="csrf" value="${token}">
          <label>API key <input type="password" name="key" id="key" autocomplete="off" required></label>
          <button type="submit" id="sign-in">Sign in</button>
        </form>`;
      return reply.code(status).type('text/html; charset=utf-8').send(page({ title: 'Sign in', body }));
    };

    scope.get('/console', HIDDEN, async (request, reply) => {
      const session = await sessions.get(cookieOf(request, SESSION_COOKIE));
      return reply.redirect(session ? '/console/approvals' : '/console/sign-in', 303);
    });
    scope.get('/console/sign-in', HIDDEN, async (request, reply) => signInPage(reply, request));

    scope.post('/console/sign-in', HIDDEN, async (request, reply) => {
      // The sign-in form's double-submit token: the cookie set with the form, echoed by the form.
      const refusal = csrfRefusal(request, cookieOf(request, SIGNIN_COOKIE) ?? '', field(request, 'csrf'));
      if (refusal) return signInPage(reply, request, `Refused: ${refusal}. Try again.`, 403);
      const key = field(request, 'key') ?? '';
      // Through the API's security path: failed attempts are rate limited per client address and
      // recorded (auth.failed) exactly as for any API request.
      const authorization = KEY_SHAPE.test(key) ? `Bearer ${key}` : undefined;
      const probe = await root.inject({
        method: 'GET',
        url: '/v1/runtimes',
        remoteAddress: request.ip,
        headers: authorization ? { authorization } : {},
      });
      if (probe.statusCode === 429) {
        const retry = probe.headers['retry-after'];
        if (retry !== undefined) reply.header('retry-after', String(retry));
        return signInPage(reply, request, 'Too many failed sign-ins from this address; wait and try again.', 429);
      }
      if (probe.statusCode >= 500) {
        return signInPage(reply, request, 'The service cannot check keys right now (it may be unable to write its audit log); try again later.', 503);
      }
      const principal = probe.statusCode === 401 ? null : await authenticator.authenticate(authorization);
      if (!principal) return signInPage(reply, request, 'That key is not valid.', 401);
      if (principal.kind !== 'user' || principal.tokenId !== undefined || principal.actingFor !== undefined) {
        await audit.append({ ...principalFields(principal), action: 'console.signin', outcome: 'denied', requestId: request.id, details: { ip: request.ip, reason: 'not a user key' } });
        return signInPage(reply, request, 'Only a user’s API key signs in to the console; agent keys and task tokens cannot.', 403);
      }
      // A new id at every sign-in (no session fixation); a session this browser had is ended.
      await sessions.revoke(cookieOf(request, SESSION_COOKIE));
      const { id, session } = await sessions.create(principal);
      // Fail closed: a sign-in that cannot be recorded does not happen.
      try {
        await audit.append({ ...principalFields(principal), action: 'console.signin', outcome: 'success', requestId: request.id, details: { ip: request.ip, consoleSession: session.ref } });
      } catch (err) {
        await sessions.revoke(id);
        request.log.error({ err }, 'audit entry of a console sign-in could not be written');
        throw new NotReadyError('The audit log cannot be written right now; not signed in');
      }
      setCookie(request, reply, SIGNIN_COOKIE, '', { path: '/console/sign-in', maxAgeSeconds: 0 });
      setCookie(request, reply, SESSION_COOKIE, id, { path: '/', maxAgeSeconds: Math.floor(sessions.ttlMs / 1000) });
      return reply.redirect('/console/approvals', 303);
    });

    scope.post('/console/sign-out', HIDDEN, async (request, reply) => {
      const id = cookieOf(request, SESSION_COOKIE);
      const session = await sessions.get(id);
      if (session) {
        const refusal = csrfRefusal(request, session.csrf, field(request, 'csrf'));
        if (refusal) return reply.code(403).type('text/plain; charset=utf-8').send(`Refused: ${refusal}`);
        // Signed out whatever happens next: the entry is written after, and its failure logged.
        await sessions.revoke(id);
        await audit
          .append({ ...principalFields(session.principal), action: 'console.signout', outcome: 'success', requestId: request.id, details: { consoleSession: session.ref } })
          .catch((err: unknown) => request.log.error({ err }, 'audit entry of a console sign-out could not be written'));
      }
      setCookie(request, reply, SESSION_COOKIE, '', { path: '/', maxAgeSeconds: 0 });
      return reply.redirect('/console/sign-in', 303);
    });

    const addPage: AddPage = (method, url, handler) => {
      scope.route({
        method,
        url,
        ...HIDDEN,
        handler: async (request, reply) => {
          const session = await sessions.get(cookieOf(request, SESSION_COOKIE));
          if (!session) return reply.redirect('/console/sign-in', 303);
          const { principal } = session;
          const user = { id: principal.id, tenantId: principal.tenantId, roles: principal.roles };
          const render = (title: string, body: SafeHtml, scripts: readonly string[] = [], status = 200) =>
            reply.code(status).type('text/html; charset=utf-8').send(page({ title, user, csrf: session.csrf, scripts, body }));
          return handler(request, reply, { session, api: consoleApi(root, request), render });
        },
      });
    };
    approvalPages(addPage);
    taskPages(addPage);
    adminPages(addPage);
  });
}
