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
            principal: { tenantId: agent.tenantId, agentId: agent.agentId, roles: agent.roles },
            keySha256,
          });
        }
      }
    }
    if (options.devApiKey) {
      entries.push({
        principal: { tenantId: 'dev', agentId: 'dev-agent', roles: [] },
        keySha256: hashApiKey(options.devApiKey),
      });
    }
    if (options.adminApiKey) {
      entries.push({
        principal: { tenantId: options.adminTenant ?? 'dev', agentId: 'bootstrap-admin', roles: ['admin'] },
        keySha256: hashApiKey(options.adminApiKey),
      });
    }
    return new ApiKeyAuthenticator(entries);
  }

  async authenticate(authorization: string | undefined): Promise<Principal | null> {
    // The auth scheme is case-insensitive (RFC 9110 §11.1): "bearer" is as good as "Bearer".
    const match = /^Bearer ([A-Za-z0-9._~+/=-]{16,512})$/i.exec(authorization ?? '');
    if (!match?.[1]) return null;
    return this.#byHash.get(hashApiKey(match[1])) ?? null;
  }
}
