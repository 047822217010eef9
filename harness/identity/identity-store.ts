import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Principal } from '../auth/principal.ts';
import {
  ApiKeyRecordSchema,
  PrincipalRecordSchema,
  TenantSchema,
  TokenRecordSchema,
  type ApiKeyRecord,
  type PrincipalRecord,
  type Tenant,
  type TokenRecord,
  type UserRole,
} from './records.ts';

/**
 * Redis keys of the identity model (harness only: the runner never reads them). Principal and
 * index keys include the tenant, so a lookup with the caller's tenant cannot reach another's.
 */
export const identityKeys = {
  tenant: (tenantId: string) => `airlock:identity:tenant:${tenantId}`,
  principal: (tenantId: string, kind: 'agent' | 'user', id: string) =>
    `airlock:identity:principal:${tenantId}:${kind}:${id}`,
  /** Sorted set (score = creation time) of a tenant's agents or users. */
  principals: (tenantId: string, kind: 'agent' | 'user') =>
    `airlock:identity:principals:${tenantId}:${kind}`,
  apiKey: (keyId: string) => `airlock:identity:key:${keyId}`,
  /** Set of the key ids of one agent or user. */
  ownerKeys: (tenantId: string, kind: 'agent' | 'user', id: string) =>
    `airlock:identity:keys:${tenantId}:${kind}:${id}`,
  token: (jti: string) => `airlock:identity:token:${jti}`,
  /** Present while a revoked token would otherwise still be valid (TTL = its `exp`). */
  revokedToken: (jti: string) => `airlock:identity:revoked-jti:${jti}`,
} as const;

/** `ak_<24 hex key id>_<43 base64url chars = 256 random bits>`. */
const API_KEY_FORMAT = /^ak_([0-9a-f]{24})_([A-Za-z0-9_-]{43})$/;
export const API_KEY_PREFIX = 'ak_';

/**
 * API keys are 256-bit random secrets, so a plain SHA-256 of the key keeps them unrecoverable
 * at rest: there is nothing to brute-force (2^256 guesses), which is what slow password hashes
 * (bcrypt, argon2) defend against for low-entropy passwords — at the price of milliseconds of
 * CPU per request. A fast hash also lets every request be checked without becoming a DoS vector.
 */
function sha256(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

const now = () => new Date().toISOString();

export interface NewPrincipal {
  name: string;
  roles?: readonly UserRole[];
  scopes?: readonly string[];
}

/** Tenants, agents, users, API keys and token revocations in Redis. Holds no state of its own. */
export class IdentityStore {
  readonly #redis: Redis;

  constructor(redis: Redis) {
    this.#redis = redis;
  }

  /** Creates a tenant; false when the id is taken. */
  async createTenant(tenant: Tenant): Promise<boolean> {
    const ok = await this.#redis.set(identityKeys.tenant(tenant.id), JSON.stringify(tenant), 'NX');
    return ok === 'OK';
  }

  async getTenant(tenantId: string): Promise<Tenant | null> {
    const raw = await this.#redis.get(identityKeys.tenant(tenantId));
    return raw === null ? null : TenantSchema.parse(JSON.parse(raw));
  }

  async createPrincipal(
    tenantId: string,
    kind: 'agent' | 'user',
    input: NewPrincipal,
  ): Promise<PrincipalRecord> {
    const record: PrincipalRecord = {
      kind,
      id: `${kind === 'agent' ? 'agt' : 'usr'}_${randomBytes(10).toString('hex')}`,
      tenantId,
      name: input.name,
      roles: kind === 'user' ? [...(input.roles ?? ['member'])] : [],
      ...(input.scopes ? { scopes: [...input.scopes] } : {}),
      disabled: false,
      createdAt: now(),
    };
    await this.#redis
      .multi()
      .set(identityKeys.principal(tenantId, kind, record.id), JSON.stringify(record))
      .zadd(identityKeys.principals(tenantId, kind), Date.parse(record.createdAt), record.id)
      .exec();
    return record;
  }

  /** The tenant's agent or user, or null — also for another tenant's id. */
  async getPrincipal(
    tenantId: string,
    kind: 'agent' | 'user',
    id: string,
  ): Promise<PrincipalRecord | null> {
    const raw = await this.#redis.get(identityKeys.principal(tenantId, kind, id));
    return raw === null ? null : PrincipalRecordSchema.parse(JSON.parse(raw));
  }

  /** Where a principal's record is stored (a string key), for a reader that reads it raw (the broker). */
  principalAt(tenantId: string, kind: 'agent' | 'user', id: string): { key: string; field: null } {
    return { key: identityKeys.principal(tenantId, kind, id), field: null };
  }

  /** A principal's record from its stored JSON (as {@link getPrincipal} parses it). */
  parsePrincipal(raw: string): PrincipalRecord {
    return PrincipalRecordSchema.parse(JSON.parse(raw));
  }

  /** A page of the tenant's agents or users, oldest first; `cursor` is the offset to start at. */
  async listPrincipals(
    tenantId: string,
    kind: 'agent' | 'user',
    limit: number,
    offset: number,
  ): Promise<{ items: PrincipalRecord[]; nextOffset: number | null }> {
    const ids = await this.#redis.zrange(
      identityKeys.principals(tenantId, kind),
      offset,
      offset + limit - 1,
    );
    if (ids.length === 0) return { items: [], nextOffset: null };
    const raws = await this.#getMany(ids.map((id) => identityKeys.principal(tenantId, kind, id)));
    const items = raws.flatMap((raw) =>
      raw === null ? [] : [PrincipalRecordSchema.parse(JSON.parse(raw))],
    );
    return { items, nextOffset: ids.length === limit ? offset + limit : null };
  }

  /**
   * Disables an agent or user: from the next request on, its keys and tokens are refused.
   * Idempotent (a second call keeps the first `disabledAt`). Null when there is no such principal.
   */
  async disablePrincipal(
    tenantId: string,
    kind: 'agent' | 'user',
    id: string,
  ): Promise<PrincipalRecord | null> {
    const record = await this.getPrincipal(tenantId, kind, id);
    if (!record) return null;
    if (record.disabled) return record;
    const disabled: PrincipalRecord = { ...record, disabled: true, disabledAt: now() };
    // Nothing else rewrites a principal record, so a plain SET cannot lose a concurrent change.
    await this.#redis.set(
      identityKeys.principal(tenantId, kind, id),
      JSON.stringify(disabled),
      'XX',
    );
    return disabled;
  }

  /** Issues an API key. The returned `secret` (the whole key) exists only in this answer. */
  async issueKey(
    owner: PrincipalRecord,
    input: { name?: string | undefined; scopes?: readonly string[] | undefined },
  ): Promise<{ record: ApiKeyRecord; secret: string }> {
    const id = randomBytes(12).toString('hex');
    const secret = `${API_KEY_PREFIX}${id}_${randomBytes(32).toString('base64url')}`;
    const record: ApiKeyRecord = {
      id,
      tenantId: owner.tenantId,
      ownerKind: owner.kind,
      ownerId: owner.id,
      ...(input.name ? { name: input.name } : {}),
      ...(input.scopes ? { scopes: [...input.scopes] } : {}),
      sha256: sha256(secret).toString('hex'),
      createdAt: now(),
    };
    await this.#redis
      .multi()
      .set(identityKeys.apiKey(id), JSON.stringify(record), 'NX')
      .sadd(identityKeys.ownerKeys(owner.tenantId, owner.kind, owner.id), id)
      .exec();
    return { record, secret };
  }

  async listKeys(owner: PrincipalRecord): Promise<ApiKeyRecord[]> {
    const ids = await this.#redis.smembers(
      identityKeys.ownerKeys(owner.tenantId, owner.kind, owner.id),
    );
    if (ids.length === 0) return [];
    const raws = await this.#getMany(ids.map((id) => identityKeys.apiKey(id)));
    return raws
      .flatMap((raw) => (raw === null ? [] : [ApiKeyRecordSchema.parse(JSON.parse(raw))]))
      .sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  }

  /** The tenant's key, or null — also for another tenant's key id. */
  async getKey(tenantId: string, keyId: string): Promise<ApiKeyRecord | null> {
    const raw = await this.#redis.get(identityKeys.apiKey(keyId));
    const record = raw === null ? null : ApiKeyRecordSchema.parse(JSON.parse(raw));
    return record && record.tenantId === tenantId ? record : null;
  }

  /** Revokes a key of the tenant (idempotent). Null when the tenant has no such key. */
  async revokeKey(tenantId: string, keyId: string): Promise<ApiKeyRecord | null> {
    const record = await this.getKey(tenantId, keyId);
    if (!record) return null;
    if (record.revokedAt) return record;
    const revoked: ApiKeyRecord = { ...record, revokedAt: now() };
    await this.#redis.set(identityKeys.apiKey(keyId), JSON.stringify(revoked), 'XX');
    return revoked;
  }

  /**
   * The principal of a presented `ak_...` key, or null when it is malformed, unknown, revoked,
   * or its owner is disabled. The key id only finds the record; the secret is checked by
   * comparing SHA-256 digests with `timingSafeEqual` (fixed length, so constant time).
   */
  async authenticateKey(presented: string): Promise<Principal | null> {
    const match = API_KEY_FORMAT.exec(presented);
    if (!match?.[1]) return null;
    const raw = await this.#redis.get(identityKeys.apiKey(match[1]));
    if (raw === null) return null;
    const key = ApiKeyRecordSchema.parse(JSON.parse(raw));
    if (!timingSafeEqual(sha256(presented), Buffer.from(key.sha256, 'hex')) || key.revokedAt)
      return null;
    const owner = await this.getPrincipal(key.tenantId, key.ownerKind, key.ownerId);
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

  /** Remembers a minted token's owner until it expires, for revocation by `jti`. */
  async recordToken(jti: string, record: TokenRecord): Promise<void> {
    await this.#redis.set(identityKeys.token(jti), JSON.stringify(record), 'EXAT', record.exp);
  }

  /** The tenant's unexpired token, or null — also for another tenant's `jti`. */
  async getToken(tenantId: string, jti: string): Promise<TokenRecord | null> {
    const raw = await this.#redis.get(identityKeys.token(jti));
    const record = raw === null ? null : TokenRecordSchema.parse(JSON.parse(raw));
    return record && record.tenantId === tenantId ? record : null;
  }

  /** Revokes a token until it would have expired anyway (`exp`, seconds since the epoch). */
  async revokeToken(jti: string, exp: number): Promise<void> {
    if (exp * 1000 <= Date.now()) return;
    await this.#redis.set(identityKeys.revokedToken(jti), '1', 'EXAT', exp);
  }

  /**
   * Whether a token is still good on this request: its `jti` not revoked, and (for store
   * principals) its agent or user enabled, the key it was minted from not revoked, and the user
   * it acts for enabled. One round trip.
   */
  async tokenStillValid(check: {
    jti: string;
    tenantId: string;
    subject: { kind: 'agent' | 'user'; id: string; fromStore: boolean };
    keyId?: string | undefined;
    actingFor?: string | undefined;
  }): Promise<boolean> {
    const keys = [identityKeys.revokedToken(check.jti)];
    if (check.subject.fromStore)
      keys.push(identityKeys.principal(check.tenantId, check.subject.kind, check.subject.id));
    if (check.keyId && check.subject.fromStore) keys.push(identityKeys.apiKey(check.keyId));
    if (check.actingFor) keys.push(identityKeys.principal(check.tenantId, 'user', check.actingFor));
    const [revoked, ...rest] = await this.#getMany(keys);
    if (revoked !== null) return false;
    let i = 0;
    if (check.subject.fromStore) {
      const raw = rest[i++];
      if (!raw || PrincipalRecordSchema.parse(JSON.parse(raw)).disabled) return false;
    }
    if (check.keyId && check.subject.fromStore) {
      const raw = rest[i++];
      if (!raw || ApiKeyRecordSchema.parse(JSON.parse(raw)).revokedAt) return false;
    }
    if (check.actingFor) {
      const raw = rest[i++];
      if (!raw || PrincipalRecordSchema.parse(JSON.parse(raw)).disabled) return false;
    }
    return true;
  }

  /** GETs in one pipeline (one round trip; unlike MGET it also works across cluster slots). */
  async #getMany(keys: readonly string[]): Promise<(string | null)[]> {
    const pipeline = this.#redis.pipeline();
    for (const k of keys) pipeline.get(k);
    const results = (await pipeline.exec()) ?? [];
    return results.map(([err, value]) => {
      if (err) throw err;
      return typeof value === 'string' ? value : null;
    });
  }
}
