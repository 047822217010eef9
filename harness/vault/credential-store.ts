/**
 * The credentials vault: per tenant, one Redis hash (`airlock:vault:{<tenant>}`, name → JSON of
 * the sealed value and how it is injected). Values are sealed before they reach Redis and opened
 * only by `reveal`, which only the broker calls, for one call it is about to make. Nothing here
 * returns a value to a route: `describe` and `list` give names, types and timestamps.
 */
import type { Redis } from 'ioredis';
import { z } from 'zod';
import { open, seal, type SealedValue } from './vault-cipher.ts';
import type { VaultKeyring } from './vault-keys.ts';

export const CredentialNameSchema = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, 'letters, digits, _ . and -, starting with a letter or digit, at most 64');

/** An HTTP header name (RFC 9110 token) that is not one the broker sets itself. */
const HeaderNameSchema = z
  .string()
  .regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,100}$/, 'must be an HTTP header name')
  .refine((h) => !['host', 'content-length', 'transfer-encoding', 'connection'].includes(h.toLowerCase()), 'the broker sets this header itself');

/**
 * How a credential is injected into a request: `bearer` (`Authorization: Bearer <value>`),
 * `basic` (`Authorization: Basic base64(<value>)`, the value being `user:password`), `header`
 * (`<header>: <value>`), `query` (`?<param>=<value>`).
 */
export const CredentialInjectionSchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('bearer') }),
  z.strictObject({ type: z.literal('basic') }),
  z.strictObject({ type: z.literal('header'), header: HeaderNameSchema }),
  z.strictObject({ type: z.literal('query'), param: z.string().regex(/^[A-Za-z0-9_.~-]{1,100}$/, 'must be a query parameter name') }),
]);
export type CredentialInjection = z.infer<typeof CredentialInjectionSchema>;

/** What anyone may see of a credential: never its value. */
export const CredentialViewSchema = z.intersection(
  CredentialInjectionSchema,
  z.object({
    name: CredentialNameSchema,
    /** Id of the vault key that sealed it (for rotation). */
    keyId: z.string(),
    createdAt: z.string(),
    updatedAt: z.string(),
  }),
);
export type CredentialView = z.infer<typeof CredentialViewSchema>;

const StoredSchema = z.object({ view: CredentialViewSchema, sealed: z.object({ keyId: z.string(), iv: z.string(), tag: z.string(), ct: z.string() }) });

const vaultKey = (tenantId: string) => `airlock:vault:{${tenantId}}`;

/** A stored credential parsed, its value still sealed. */
export interface SealedCredential {
  injection: CredentialInjection;
  sealed: SealedValue;
}

/** A credential opened for one call: how to inject it, and the value. */
export interface RevealedCredential {
  injection: CredentialInjection;
  value: string;
}

export class CredentialStore {
  readonly #redis: Redis;
  readonly #keys: VaultKeyring;

  constructor(redis: Redis, keys: VaultKeyring) {
    this.#redis = redis;
    this.#keys = keys;
  }

  /** Seals and stores `value`; returns the view and whether the name was new. */
  async put(
    tenantId: string,
    name: string,
    injection: CredentialInjection,
    value: string,
  ): Promise<{ view: CredentialView; created: boolean }> {
    const existing = await this.describe(tenantId, name);
    const now = new Date().toISOString();
    const sealed: SealedValue = seal(this.#keys, tenantId, name, value);
    const view: CredentialView = { ...injection, name, keyId: sealed.keyId, createdAt: existing?.createdAt ?? now, updatedAt: now };
    await this.#redis.hset(vaultKey(tenantId), name, JSON.stringify({ view, sealed }));
    return { view, created: existing === null };
  }

  async describe(tenantId: string, name: string): Promise<CredentialView | null> {
    const raw = await this.#redis.hget(vaultKey(tenantId), name);
    return raw === null ? null : StoredSchema.parse(JSON.parse(raw)).view;
  }

  async list(tenantId: string): Promise<CredentialView[]> {
    const all = await this.#redis.hvals(vaultKey(tenantId));
    return all.map((raw) => StoredSchema.parse(JSON.parse(raw)).view).sort((a, b) => a.name.localeCompare(b.name));
  }

  async delete(tenantId: string, name: string): Promise<boolean> {
    return (await this.#redis.hdel(vaultKey(tenantId), name)) === 1;
  }

  /**
   * The value, opened: for the broker only, for the one call it is about to make (null when
   * there is no such credential). Throws VaultOpenError when it cannot be opened.
   */
  async reveal(tenantId: string, name: string): Promise<RevealedCredential | null> {
    const raw = await this.#redis.hget(vaultKey(tenantId), name);
    return raw === null ? null : this.openStored(tenantId, name, raw);
  }

  /** Where a credential is stored (a field of the tenant's vault hash): the broker reads it raw. */
  at(tenantId: string, name: string): { key: string; field: string } {
    return { key: vaultKey(tenantId), field: name };
  }

  /**
   * Opens a credential from its stored (sealed) form as read from {@link at}: for the broker
   * only, as {@link reveal}. Throws VaultOpenError when it cannot be opened.
   */
  openStored(tenantId: string, name: string, raw: string): RevealedCredential {
    return this.openSealed(tenantId, name, this.parseStored(raw));
  }

  /** A credential's stored form parsed, still sealed (what the broker may keep between calls). */
  parseStored(raw: string): SealedCredential {
    const stored = StoredSchema.parse(JSON.parse(raw));
    const { name: _n, keyId: _k, createdAt: _c, updatedAt: _u, ...injection } = stored.view;
    return { injection: CredentialInjectionSchema.parse(injection), sealed: stored.sealed };
  }

  /** Opens a parsed credential ({@link parseStored}) for one call: for the broker only. Throws VaultOpenError when it cannot be opened. */
  openSealed(tenantId: string, name: string, credential: SealedCredential): RevealedCredential {
    return { injection: credential.injection, value: open(this.#keys, tenantId, name, credential.sealed) };
  }
}
