/**
 * Each tenant's policy sets in Redis (`airlock:policies:{tenant}`): the active set (the shipped
 * default until an admin activates another) and an optional shadow set. Sets are validated
 * before they are stored, compiled once per text hash, and read through a per-tenant cache of
 * CACHE_MS, so a change made on one harness is in force on every other within that time (at
 * once on the harness that made it).
 */
import type { Redis } from 'ioredis';
import { DEFAULT_POLICIES_TEXT, compilePolicySet, hashPolicies, type PolicySet } from './policy-set.ts';

const CACHE_MS = 1000;
const key = (tenantId: string) => `airlock:policies:{${tenantId}}`;

export interface TenantPolicies {
  active: PolicySet;
  shadow: PolicySet | null;
  /** True while the tenant uses the shipped default set. */
  isDefault: boolean;
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
    const [active, shadow] = await this.#redis.hmget(key(tenantId), 'active', 'shadow');
    const value: TenantPolicies = {
      active: active ? this.#compile(active) : this.#default,
      shadow: shadow ? this.#compile(shadow) : null,
      isDefault: !active,
    };
    this.#cache.set(tenantId, { at: Date.now(), value });
    return value;
  }

  /** Validates and activates `text` (throws PolicySetError, changing nothing, if it is invalid). */
  async activate(tenantId: string, text: string): Promise<PolicySet> {
    const set = this.#compile(text);
    await this.#redis.hset(key(tenantId), 'active', text);
    this.#cache.delete(tenantId);
    return set;
  }

  /** Back to the shipped default set. */
  async resetToDefault(tenantId: string): Promise<void> {
    await this.#redis.hdel(key(tenantId), 'active');
    this.#cache.delete(tenantId);
  }

  async setShadow(tenantId: string, text: string | null): Promise<PolicySet | null> {
    if (text === null) {
      await this.#redis.hdel(key(tenantId), 'shadow');
      this.#cache.delete(tenantId);
      return null;
    }
    const set = this.#compile(text);
    await this.#redis.hset(key(tenantId), 'shadow', text);
    this.#cache.delete(tenantId);
    return set;
  }

  #compile(text: string): PolicySet {
    const hash = hashPolicies(text);
    let set = this.#compiled.get(hash);
    if (!set) {
      set = compilePolicySet(text);
      this.#compiled.set(hash, set);
    }
    return set;
  }
}
