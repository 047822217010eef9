/**
 * Console sessions (issue 13): a user's API key is exchanged once, at sign-in, for a random
 * session id that lives in an HttpOnly cookie. Redis holds only the SHA-256 of the id (whoever
 * reads Redis cannot ride a session), the principal it names and the session's CSRF token.
 *
 * A session is never more than its key: every use rebuilds the principal from the current
 * identity records, so a revoked key or a disabled user ends the session at once, and a changed
 * role takes effect on the next request. Config keys (the bootstrap admin) are never revoked at
 * run time, so their principal is kept as it was at sign-in.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Redis } from 'ioredis';
import { z } from 'zod';
import { CONFIG_KEY_ID_PREFIX } from '../auth/api-key-authenticator.ts';
import type { Principal } from '../auth/principal.ts';
import type { IdentityStore } from '../identity/identity-store.ts';

/** Session ids and CSRF tokens: 32 random bytes, base64url (43 characters). */
const TOKEN_SHAPE = /^[A-Za-z0-9_-]{43}$/;

const StoredSessionSchema = z.strictObject({
  principal: z.strictObject({
    tenantId: z.string(),
    agentId: z.string(),
    roles: z.array(z.string()),
    kind: z.enum(['agent', 'user']),
    id: z.string(),
    keyId: z.string().optional(),
    scopes: z.array(z.string()).optional(),
  }),
  csrf: z.string().regex(TOKEN_SHAPE),
  createdAt: z.string(),
  /** Short id of the session for audit entries and logs (never the cookie value). */
  ref: z.string(),
});
type StoredSession = z.infer<typeof StoredSessionSchema>;

export interface ConsoleSession {
  /** The principal as the identity records say now. */
  principal: Principal;
  /** The token every state-changing request of this session must carry. */
  csrf: string;
  /** Short, non-secret id of the session (audit entries). */
  ref: string;
}

export interface ConsoleSessionsOptions {
  identity: IdentityStore;
  /** Lifetime of a session from sign-in, in ms (CONSOLE_SESSION_TTL_MS). */
  ttlMs: number;
}

export const consoleSessionKey = (sessionId: string) =>
  `airlock:console:session:${createHash('sha256').update(sessionId, 'utf8').digest('hex')}`;

const newToken = () => randomBytes(32).toString('base64url');

/** Constant-time comparison of two tokens (false when either is missing or not token-shaped). */
export function sameToken(a: string | undefined, b: string | undefined): boolean {
  if (a === undefined || b === undefined || !TOKEN_SHAPE.test(a) || !TOKEN_SHAPE.test(b)) return false;
  return timingSafeEqual(Buffer.from(a), Buffer.from(b));
}

export class ConsoleSessions {
  readonly #redis: Redis;
  readonly #identity: IdentityStore;
  readonly #ttlMs: number;

  constructor(redis: Redis, options: ConsoleSessionsOptions) {
    this.#redis = redis;
    this.#identity = options.identity;
    this.#ttlMs = options.ttlMs;
  }

  get ttlMs(): number {
    return this.#ttlMs;
  }

  /** Starts a session for an authenticated principal; the id is returned once, never stored. */
  async create(principal: Principal): Promise<{ id: string; session: ConsoleSession }> {
    const id = newToken();
    const stored: StoredSession = {
      principal: {
        tenantId: principal.tenantId,
        agentId: principal.agentId,
        roles: [...principal.roles],
        kind: principal.kind,
        id: principal.id,
        ...(principal.keyId ? { keyId: principal.keyId } : {}),
        ...(principal.scopes ? { scopes: [...principal.scopes] } : {}),
      },
      csrf: newToken(),
      createdAt: new Date().toISOString(),
      ref: `cs_${consoleSessionKey(id).slice(-16)}`,
    };
    await this.#redis.set(consoleSessionKey(id), JSON.stringify(stored), 'PX', this.#ttlMs);
    return { id, session: { principal: stored.principal, csrf: stored.csrf, ref: stored.ref } };
  }

  /**
   * The session of a cookie value, with its principal as the identity records say now; null
   * when the id is malformed, unknown, expired or revoked, or its key or user is no longer valid.
   */
  async get(sessionId: string | undefined): Promise<ConsoleSession | null> {
    if (sessionId === undefined || !TOKEN_SHAPE.test(sessionId)) return null;
    const raw = await this.#redis.get(consoleSessionKey(sessionId));
    if (raw === null) return null;
    const parsed = StoredSessionSchema.safeParse(JSON.parse(raw));
    if (!parsed.success) return null;
    const stored = parsed.data;
    const principal = await this.#current(stored.principal);
    return principal ? { principal, csrf: stored.csrf, ref: stored.ref } : null;
  }

  /** Ends a session (sign-out). Idempotent. */
  async revoke(sessionId: string | undefined): Promise<void> {
    if (sessionId === undefined || !TOKEN_SHAPE.test(sessionId)) return;
    await this.#redis.del(consoleSessionKey(sessionId));
  }

  /** The principal of the key the session came from, as it is now, or null. */
  async #current(p: StoredSession['principal']): Promise<Principal | null> {
    if (!p.keyId || p.keyId.startsWith(CONFIG_KEY_ID_PREFIX)) return p;
    const key = await this.#identity.getKey(p.tenantId, p.keyId);
    if (!key || key.revokedAt || key.ownerId !== p.id || key.ownerKind !== p.kind) return null;
    const owner = await this.#identity.getPrincipal(p.tenantId, key.ownerKind, key.ownerId);
    if (!owner || owner.disabled) return null;
    const scopes = key.scopes ?? owner.scopes;
    return {
      tenantId: owner.tenantId,
      agentId: owner.id,
      id: owner.id,
      kind: owner.kind,
      roles: owner.roles,
      keyId: key.id,
      ...(scopes ? { scopes } : {}),
    };
  }
}
