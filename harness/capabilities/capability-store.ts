/** The capability registry: per tenant, one Redis hash (`airlock:capabilities:{<tenant>}`, name → JSON). */
import type { Redis } from 'ioredis';
import { LruMap } from '../../protocol/lru-map.ts';
import { CapabilitySchema, type Capability } from './definition.ts';

const key = (tenantId: string) => `airlock:capabilities:{${tenantId}}`;

export class CapabilityStore {
  readonly #redis: Redis;
  /** Definitions parsed lately, by their stored JSON (with `parsedCacheSize`); see #parse. */
  readonly #parsed: LruMap<string, Capability> | null;

  /**
   * `parsedCacheSize`: keep that many parsed definitions by their stored JSON, for a reader that
   * reads the same few definitions all the time and never changes what it gets (the broker).
   * The stored JSON is still read every time: a changed definition is a different key.
   */
  constructor(redis: Redis, options: { parsedCacheSize?: number } = {}) {
    this.#redis = redis;
    const size = options.parsedCacheSize ?? 0;
    this.#parsed = size > 0 ? new LruMap(size) : null;
  }

  /** Parsing the same JSON gives the same definition: a cached one is returned (shared: read-only). */
  #parse(raw: string): Capability {
    if (!this.#parsed) return CapabilitySchema.parse(JSON.parse(raw));
    let c = this.#parsed.get(raw);
    if (!c) {
      c = CapabilitySchema.parse(JSON.parse(raw));
      this.#parsed.set(raw, c);
    }
    return c;
  }

  async put(tenantId: string, capability: Capability): Promise<void> {
    await this.#redis.hset(key(tenantId), capability.name, JSON.stringify(capability));
  }

  /** Where a definition is stored (a field of the tenant's hash), for a reader that reads it raw (the broker). */
  at(tenantId: string, name: string): { key: string; field: string } {
    return { key: key(tenantId), field: name };
  }

  /** A definition from its stored JSON (as {@link get} parses it; cached the same way). */
  fromStored(raw: string): Capability {
    return this.#parse(raw);
  }

  async get(tenantId: string, name: string): Promise<Capability | null> {
    const raw = await this.#redis.hget(key(tenantId), name);
    return raw === null ? null : this.#parse(raw);
  }

  /** Several at once (one round trip); null for names the tenant does not have. */
  async getMany(tenantId: string, names: readonly string[]): Promise<(Capability | null)[]> {
    if (names.length === 0) return [];
    const raws = await this.#redis.hmget(key(tenantId), ...names);
    return raws.map((raw) => (raw === null ? null : this.#parse(raw)));
  }

  async list(tenantId: string): Promise<Capability[]> {
    const all = await this.#redis.hvals(key(tenantId));
    return all.map((raw) => CapabilitySchema.parse(JSON.parse(raw))).sort((a, b) => a.name.localeCompare(b.name));
  }

  async delete(tenantId: string, name: string): Promise<boolean> {
    return (await this.#redis.hdel(key(tenantId), name)) === 1;
  }
}
