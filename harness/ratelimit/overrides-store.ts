import type { Redis } from 'ioredis';
import { z } from 'zod';
import { QuotaOverrideSchema, type QuotaOverride } from './policies.ts';

/** Agent, user and API key ids as they appear in principals. */
const IdSchema = z.string().regex(/^[A-Za-z0-9_-]{1,128}$/, 'ids are 1-128 characters of A-Z a-z 0-9 _ -');
/** Most overrides one tenant may hold per level (the document is read and written whole). */
export const MAX_OVERRIDE_ENTRIES = 10_000;

/** A tenant's quota overrides: one for the whole tenant, per agent (or user) id, per API key id. */
export const QuotaOverridesSchema = z.strictObject({
  tenant: QuotaOverrideSchema.optional(),
  agents: z
    .record(IdSchema, QuotaOverrideSchema)
    .refine((r) => Object.keys(r).length <= MAX_OVERRIDE_ENTRIES, `at most ${MAX_OVERRIDE_ENTRIES} agents`)
    .optional(),
  keys: z
    .record(IdSchema, QuotaOverrideSchema)
    .refine((r) => Object.keys(r).length <= MAX_OVERRIDE_ENTRIES, `at most ${MAX_OVERRIDE_ENTRIES} keys`)
    .optional(),
});
export type QuotaOverrides = z.infer<typeof QuotaOverridesSchema>;

/** The overrides that apply to one request. */
export interface ApplicableOverrides {
  tenant: QuotaOverride | null;
  agent: QuotaOverride | null;
  key: QuotaOverride | null;
}

const TENANT_FIELD = 'tenant';
const agentField = (id: string) => `agent:${id}`;
const keyField = (id: string) => `key:${id}`;

/**
 * Quota overrides in Redis: one hash per tenant, one JSON field per override. A request reads
 * its three fields with one HMGET, so a change applies to the next request on every replica.
 */
export class QuotaOverridesStore {
  readonly #redis: Redis;

  constructor(redis: Redis) {
    this.#redis = redis;
  }

  static key(tenantId: string): string {
    return `airlock:ratelimit:overrides:${tenantId}`;
  }

  async forRequest(tenantId: string, agentId: string, keyId: string | undefined): Promise<ApplicableOverrides> {
    const fields = [TENANT_FIELD, agentField(agentId), ...(keyId ? [keyField(keyId)] : [])];
    const [tenant, agent, key] = await this.#redis.hmget(QuotaOverridesStore.key(tenantId), ...fields);
    return { tenant: parse(tenant), agent: parse(agent), key: parse(key) };
  }

  async get(tenantId: string): Promise<QuotaOverrides> {
    const hash = await this.#redis.hgetall(QuotaOverridesStore.key(tenantId));
    const out: Required<QuotaOverrides> = { tenant: {}, agents: {}, keys: {} };
    let hasTenant = false;
    for (const [field, raw] of Object.entries(hash)) {
      const value = parse(raw);
      if (!value) continue;
      if (field === TENANT_FIELD) {
        out.tenant = value;
        hasTenant = true;
      } else if (field.startsWith('agent:')) out.agents[field.slice('agent:'.length)] = value;
      else if (field.startsWith('key:')) out.keys[field.slice('key:'.length)] = value;
    }
    return { ...(hasTenant ? { tenant: out.tenant } : {}), agents: out.agents, keys: out.keys };
  }

  /** Replaces all of a tenant's overrides atomically (what is not in `doc` is removed). */
  async replace(tenantId: string, doc: QuotaOverrides): Promise<void> {
    const key = QuotaOverridesStore.key(tenantId);
    const fields: string[] = [];
    if (doc.tenant) fields.push(TENANT_FIELD, JSON.stringify(doc.tenant));
    for (const [id, o] of Object.entries(doc.agents ?? {})) fields.push(agentField(id), JSON.stringify(o));
    for (const [id, o] of Object.entries(doc.keys ?? {})) fields.push(keyField(id), JSON.stringify(o));
    const tx = this.#redis.multi().del(key);
    if (fields.length > 0) tx.hset(key, ...fields);
    await tx.exec();
  }
}

function parse(raw: string | null | undefined): QuotaOverride | null {
  if (!raw) return null;
  const parsed = QuotaOverrideSchema.safeParse(JSON.parse(raw));
  return parsed.success ? parsed.data : null;
}
