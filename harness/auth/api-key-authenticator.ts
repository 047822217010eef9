import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import type { Authenticator, Principal } from './principal.ts';

/** One agent in the agents file. Keys are stored only as SHA-256 hex digests. */
const AgentsFileSchema = z.strictObject({
  agents: z.array(
    z.strictObject({
      tenantId: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/),
      agentId: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/),
      keySha256: z.array(z.string().regex(/^[0-9a-f]{64}$/)).min(1),
      roles: z.array(z.enum(['admin'])).default([]),
    }),
  ),
});

export function hashApiKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

/** Key ids of config keys: `cfg_` + a prefix of the key's hash (names the key, reveals nothing). */
export const CONFIG_KEY_ID_PREFIX = 'cfg_';

function configPrincipal(
  kind: 'agent' | 'user',
  tenantId: string,
  id: string,
  roles: readonly string[],
  keySha256: string,
): Principal {
  return { tenantId, agentId: id, id, kind, roles, keyId: `${CONFIG_KEY_ID_PREFIX}${keySha256.slice(0, 16)}` };
}

/**
 * Authenticates `Authorization: Bearer <api key>` against hashed keys. API keys are long random
 * secrets, so an unsalted SHA-256 is enough to keep them unrecoverable at rest, and looking the
 * digest up in a map compares no secret bytes, so timing reveals nothing about valid keys.
 */
export class ApiKeyAuthenticator implements Authenticator {
  readonly #byHash: ReadonlyMap<string, Principal>;

  constructor(entries: readonly { principal: Principal; keySha256: string }[]) {
    this.#byHash = new Map(entries.map((e) => [e.keySha256, e.principal]));
  }

  static async fromConfig(options: {
    agentsFile?: string;
    devApiKey?: string;
    adminApiKey?: string;
    adminTenant?: string;
  }): Promise<ApiKeyAuthenticator> {
    const entries: { principal: Principal; keySha256: string }[] = [];
    if (options.agentsFile) {
      const parsed = AgentsFileSchema.safeParse(JSON.parse(await readFile(options.agentsFile, 'utf8')));
      if (!parsed.success) {
        throw new Error(`AIRLOCK_AGENTS_FILE ${options.agentsFile} is invalid: ${parsed.error.message}`);
      }
      for (const agent of parsed.data.agents) {
        for (const keySha256 of agent.keySha256) {
          entries.push({
            principal: configPrincipal('agent', agent.tenantId, agent.agentId, agent.roles, keySha256),
            keySha256,
          });
        }
      }
    }
    if (options.devApiKey) {
      const keySha256 = hashApiKey(options.devApiKey);
      entries.push({ principal: configPrincipal('agent', 'dev', 'dev-agent', [], keySha256), keySha256 });
    }
    if (options.adminApiKey) {
      // The bootstrap admin: admin of its tenant, and the only principal that may create tenants.
      const keySha256 = hashApiKey(options.adminApiKey);
      entries.push({
        principal: configPrincipal('user', options.adminTenant ?? 'dev', 'bootstrap-admin', ['admin', 'bootstrap'], keySha256),
        keySha256,
      });
    }
    return new ApiKeyAuthenticator(entries);
  }

  async authenticate(authorization: string | undefined): Promise<Principal | null> {
    const credential = bearerCredential(authorization);
    return credential === null ? null : this.lookup(credential);
  }

  /** The principal of a raw config key, or null. */
  lookup(key: string): Principal | null {
    return this.#byHash.get(hashApiKey(key)) ?? null;
  }

  /** Whether a config key id (`cfg_...`) still names a principal; config keys are never revoked at run time. */
  hasPrincipal(tenantId: string, kind: 'agent' | 'user', id: string): boolean {
    for (const p of this.#byHash.values()) {
      if (p.tenantId === tenantId && p.kind === kind && p.id === id) return true;
    }
    return false;
  }
}

/** The credential of `Authorization: Bearer <credential>`, or null when absent or malformed. */
export function bearerCredential(authorization: string | undefined): string | null {
  // The auth scheme is case-insensitive (RFC 9110 §11.1): "bearer" is as good as "Bearer".
  const match = /^Bearer ([A-Za-z0-9._~+/=-]{16,4096})$/i.exec(authorization ?? '');
  return match?.[1] ?? null;
}
