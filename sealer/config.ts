import { z } from 'zod';
import { BoolEnv, describeEnvError } from '../protocol/env.ts';
import { ClusterNodesSchema } from '../protocol/redis-connection.ts';

export const ConfigSchema = z
  .object({
    /** Redis with the audit streams. The sealer only reads them (and trims what it sealed). */
    REDIS_URL: z.string().url().default('redis://127.0.0.1:6379'),
    /** Seed nodes of a Redis Cluster (`host:port,…`), as the harness's; empty = REDIS_URL's server. */
    REDIS_CLUSTER_NODES: ClusterNodesSchema,
    /** Where the sealed logs are written (the record; Redis is only transport). */
    AUDIT_DIR: z.string().min(1).default('/var/lib/airlock/audit'),
    /**
     * Ed25519 checkpoint signing key: base64 or base64url of the 32-byte private key (seed), or a
     * PKCS8 PEM. The sealer is its only holder. Unset: AUDIT_SIGNING_KEY_FILE.
     */
    AUDIT_SIGNING_KEY: z.string().min(1).optional(),
    /**
     * File holding the key (base64 seed); generated once (mode 0600, with a warning) when it does
     * not exist. Keep it outside AUDIT_DIR: the harness may read AUDIT_DIR. One of the two is required.
     */
    AUDIT_SIGNING_KEY_FILE: z.string().min(1).optional(),
    /** Checkpoint origins (and key names) are `<prefix>/tenants/<id>` and `<prefix>/system`. */
    AUDIT_ORIGIN_PREFIX: z.string().regex(/^[^\s+]+$/, 'no spaces or +').default('airlock.local/audit'),
    /** How often the streams are polled when idle. */
    AUDIT_POLL_MS: z.coerce.number().int().min(5).default(100),
    /** Longest time an entry stays written but not fsynced (admin changes: at once). */
    AUDIT_FSYNC_MS: z.coerce.number().int().min(10).max(1000).default(1000),
    /** Checkpoint interval while entries arrive (the issue: at least every 10 s). */
    AUDIT_CHECKPOINT_MS: z.coerce.number().int().min(50).max(10_000).default(10_000),
    /** Entries per segment file. */
    AUDIT_SEGMENT_ENTRIES: z.coerce.number().int().min(1).default(10_000),
    /** Entries read per shard per poll. */
    AUDIT_READ_BATCH: z.coerce.number().int().min(1).max(10_000).default(1000),
    /** How long a missing producer counter may still turn up (out-of-order XADDs) before it is a gap. */
    AUDIT_GAP_GRACE_MS: z.coerce.number().int().min(0).default(5000),
    /** Task index files are fsynced (and the startup re-index point moved) this often. */
    AUDIT_INDEX_SYNC_MS: z.coerce.number().int().min(100).default(60_000),
    /** XTRIM each stream up to what is durably sealed (needs +xtrim in the sealer's ACL). */
    AUDIT_TRIM: BoolEnv.default(true),
    LOG_LEVEL: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
    /** Port of the sealer's Prometheus `GET /metrics` listener (no credential). Unset = none; 0 = any free port. */
    AUDIT_METRICS_PORT: z.coerce.number().int().min(0).max(65535).optional(),
    /** Address of that listener (loopback by default). */
    AUDIT_METRICS_HOST: z.string().min(1).default('127.0.0.1'),
  })
  .superRefine((c, ctx) => {
    if (!c.AUDIT_SIGNING_KEY && !c.AUDIT_SIGNING_KEY_FILE) {
      ctx.addIssue({
        code: 'custom',
        path: ['AUDIT_SIGNING_KEY'],
        message: 'set AUDIT_SIGNING_KEY (production) or AUDIT_SIGNING_KEY_FILE (a key is generated there once)',
      });
    }
  });
export type Config = Readonly<z.infer<typeof ConfigSchema>>;

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = ConfigSchema.safeParse(env);
  if (!parsed.success) throw new Error(`Invalid sealer configuration: ${describeEnvError(parsed.error)}`);
  return Object.freeze(parsed.data);
}
