/**
 * Each tenant's policy sets in Redis (`airlock:policies:{tenant}`): the active set (the shipped
 * default until an admin activates another) and an optional shadow set, with a version that
 * every change bumps and who made the last change, when. Sets are validated
 * before they are stored, compiled once per text hash, and read through a per-tenant cache of
 * CACHE_MS, so a change made on one harness is in force on every other within that time (at
 * once on the harness that made it).
 */
import type { Redis } from 'ioredis';
import { DEFAULT_POLICIES_TEXT, compilePolicySet, hashPolicies, type PolicySet } from './policy-set.ts';

const CACHE_MS = 1000;
/** Compiled policy sets kept in memory at once (see #compile). */
const MAX_COMPILED_SETS = 256;
const key = (tenantId: string) => `airlock:policies:{${tenantId}}`;

export interface TenantPolicies {
  active: PolicySet;
  shadow: PolicySet | null;
  /** True while the tenant uses the shipped default set. */
  isDefault: boolean;
  /** Bumped by every change of the active or shadow set; 0 = never changed. */
  version: number;
  /** The last change: when (ISO 8601) and by whom (`<kind>:<id>`). */
  changedAt?: string;
  changedBy?: string;
}

/** Who changes a tenant's policies (recorded with the version). */
export interface PolicyChanger {
  kind: string;
  id: string;
}

export class PolicyStore {
  readonly #redis: Redis;
  readonly #compiled = new Map<string, PolicySet>();
  readonly #cache = new Map<string, { at: number; value: TenantPolicies }>();
  readonly #default: PolicySet;

  constructor(redis: Redis) {
    this.#redis = redis;
    this.#default = compilePolicySet(DEFAULT_POLICIES_TEXT);
    this.#compiled.set(this.#default.hash, this.#default);
  }

  get defaultSet(): PolicySet {
    return this.#default;
  }

  async forTenant(tenantId: string): Promise<TenantPolicies> {
    const hit = this.#cache.get(tenantId);
    if (hit && Date.now() - hit.at < CACHE_MS) return hit.value;
    const [active, shadow, version, changedAt, changedBy] = await this.#redis.hmget(
      key(tenantId), 'active', 'shadow', 'version', 'changedAt', 'changedBy');
    const value: TenantPolicies = {
      active: active ? this.#compile(active) : this.#default,
      shadow: shadow ? this.#compile(shadow) : null,
      isDefault: !active,
      version: Number(version ?? 0),
      ...(changedAt ? { changedAt } : {}),
      ...(changedBy ? { changedBy } : {}),
    };
    this.#cache.set(tenantId, { at: Date.now(), value });
    return value;
  }

  /** Validates and activates `text` (throws PolicySetError, changing nothing, if it is invalid). */
  async activate(tenantId: string, text: string, by: PolicyChanger): Promise<PolicySet> {
    const set = this.#compile(text);
    await this.#change(tenantId, 'active', text, by);
    return set;
  }

  /** Back to the shipped default set. */
  async resetToDefault(tenantId: string, by: PolicyChanger): Promise<void> {
    await this.#change(tenantId, 'active', null, by);
  }

  async setShadow(tenantId: string, text: string | null, by: PolicyChanger): Promise<PolicySet | null> {
    const set = text === null ? null : this.#compile(text);
    await this.#change(tenantId, 'shadow', text, by);
    return set;
  }

  /** Sets (or deletes) one set and bumps the version, atomically. */
  async #change(tenantId: string, field: 'active' | 'shadow', text: string | null, by: PolicyChanger): Promise<void> {
    const k = key(tenantId);
    const tx = this.#redis.multi();
    if (text === null) tx.hdel(k, field);
    else tx.hset(k, field, text);
    tx.hincrby(k, 'version', 1);
    tx.hset(k, 'changedAt', new Date().toISOString(), 'changedBy', `${by.kind}:${by.id}`);
    const results = await tx.exec();
    const failed = results?.find(([err]) => err);
    if (!results || failed) throw failed?.[0] ?? new Error('policy change transaction aborted');
    this.#cache.delete(tenantId);
  }

  /**
   * Compiled sets by hash, the least recently used dropped past MAX_COMPILED_SETS (a tenant
   * admin can store any number of distinct texts; compiling again is only slower).
   */
  #compile(text: string): PolicySet {
    const hash = hashPolicies(text);
    let set = this.#compiled.get(hash);
    if (set) {
      this.#compiled.delete(hash);
    } else {
      set = compilePolicySet(text);
      if (this.#compiled.size >= MAX_COMPILED_SETS) {
        const oldest = this.#compiled.keys().next().value as string;
        this.#compiled.delete(oldest);
      }
    }
    this.#compiled.set(hash, set);
    return set;
  }
}
