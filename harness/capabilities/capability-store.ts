/** The capability registry: per tenant, one Redis hash (`airlock:capabilities:{<tenant>}`, name → JSON). */
import type { Redis } from 'ioredis';
import { CapabilitySchema, type Capability } from './definition.ts';

const key = (tenantId: string) => `airlock:capabilities:{${tenantId}}`;

export class CapabilityStore {
  readonly #redis: Redis;

  constructor(redis: Redis) {
    this.#redis = redis;
  }

  async put(tenantId: string, capability: Capability): Promise<void> {
    await this.#redis.hset(key(tenantId), capability.name, JSON.stringify(capability));
  }

  async get(tenantId: string, name: string): Promise<Capability | null> {
    const raw = await this.#redis.hget(key(tenantId), name);
    return raw === null ? null : CapabilitySchema.parse(JSON.parse(raw));
  }

  /** Several at once (one round trip); null for names the tenant does not have. */
  async getMany(tenantId: string, names: readonly string[]): Promise<(Capability | null)[]> {
    if (names.length === 0) return [];
    const raws = await this.#redis.hmget(key(tenantId), ...names);
    return raws.map((raw) => (raw === null ? null : CapabilitySchema.parse(JSON.parse(raw))));
  }

  async list(tenantId: string): Promise<Capability[]> {
    const all = await this.#redis.hvals(key(tenantId));
    return all.map((raw) => CapabilitySchema.parse(JSON.parse(raw))).sort((a, b) => a.name.localeCompare(b.name));
  }

  async delete(tenantId: string, name: string): Promise<boolean> {
    return (await this.#redis.hdel(key(tenantId), name)) === 1;
  }
}
