import { z } from 'zod';
import type { Redis } from 'ioredis';

export const GrantNameSchema = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'letters, digits, _ and -, at most 64');

/** A filesystem grant: a host directory an admin lets some agents mount. */
export const GrantSchema = z.strictObject({
  name: GrantNameSchema,
  hostPath: z.string().startsWith('/'),
  mode: z.enum(['ro', 'rw']),
  /** Largest total size of the grant's files a task may leave behind (rw) or read (ro). */
  maxBytes: z.number().int().positive(),
  /** Agent ids of this tenant that may mount it; `*` = every agent of the tenant. */
  allowedAgents: z.array(z.string().regex(/^(\*|[A-Za-z0-9_-]{1,64})$/)).max(1000),
  createdAt: z.string(),
  updatedAt: z.string(),
});
export type Grant = z.infer<typeof GrantSchema>;

const key = (tenantId: string) => `airlock:grants:${tenantId}`;

/** Grants per tenant, in one Redis hash per tenant (name → JSON). */
export class GrantStore {
  readonly #redis: Redis;

  constructor(redis: Redis) {
    this.#redis = redis;
  }

  async put(tenantId: string, grant: Grant): Promise<void> {
    await this.#redis.hset(key(tenantId), grant.name, JSON.stringify(grant));
  }

  async get(tenantId: string, name: string): Promise<Grant | null> {
    const raw = await this.#redis.hget(key(tenantId), name);
    return raw === null ? null : GrantSchema.parse(JSON.parse(raw));
  }

  async list(tenantId: string): Promise<Grant[]> {
    const all = await this.#redis.hvals(key(tenantId));
    return all.map((raw) => GrantSchema.parse(JSON.parse(raw))).sort((a, b) => a.name.localeCompare(b.name));
  }

  async delete(tenantId: string, name: string): Promise<boolean> {
    return (await this.#redis.hdel(key(tenantId), name)) === 1;
  }
}
