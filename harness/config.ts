import { z } from 'zod';
import { BoolEnv, describeEnvError } from '../protocol/env.ts';
import { checkQueuePrefix, ClusterNodesSchema, queuePrefixFor } from '../protocol/redis-connection.ts';
import { TASK_QUEUE } from '../protocol/redis-keys.ts';

export const ConfigSchema = z
  .object({
    /** Port the HTTP API listens on. */
    PORT: z.coerce.number().int().min(0).max(65535).default(8080),
    /** Address to bind. Loopback by default: expose it deliberately, behind TLS. */
    HOST: z.string().default('127.0.0.1'),
    /**
     * Reverse proxies whose `X-Forwarded-For` is believed (comma-separated addresses or CIDRs,
     * or `loopback`, `linklocal`, `uniquelocal`). The client IP (failed-auth throttling, logs) is
     * then the address the nearest untrusted hop forwarded. Empty = none: the socket address is
     * the client, and a forwarded header from anyone is ignored (it could be forged).
     */
    TRUST_PROXY: z
      .string()
      .default('')
      .transform((v) => v.split(',').map((p) => p.trim()).filter(Boolean)),
    /** Redis: system of record for tasks, queues and idempotency keys. */
    REDIS_URL: z.string().url().default('redis://127.0.0.1:6379'),
    /**
     * Seed nodes of a Redis Cluster (`host:port,…`; a managed cluster's configuration endpoint
     * will do). Set = Airlock talks to the cluster (REDIS_URL then only lends its user name and
     * password); empty = the standalone Redis at REDIS_URL. See docs/scaling.md.
     */
    REDIS_CLUSTER_NODES: ClusterNodesSchema,
    /**
     * BullMQ queue of isolate tasks (container tasks go to `<queue>-containers`). Must match the
     * runners' AIRLOCK_TASK_QUEUE; only tests and side-by-side deployments change it.
     */
    AIRLOCK_TASK_QUEUE: z
      .string()
      .regex(/^[A-Za-z0-9_.-]{1,200}$/, 'must be 1-200 characters of A-Z a-z 0-9 _ . -')
      .default(TASK_QUEUE),
    /**
     * Prefix of every BullMQ key (`<prefix>:<queue>:…`). Must match the runners'. Default
     * `bull` (BullMQ's own, what existing installations have); on a Redis Cluster `{airlock}`,
     * and there it must hold a hash tag so each queue's keys share a slot (docs/scaling.md).
     * Changing it on a live installation orphans the jobs queued under the old one.
     */
    AIRLOCK_QUEUE_PREFIX: z
      .string()
      .regex(/^[A-Za-z0-9_.{}-]{1,100}$/, 'must be 1-100 characters of A-Z a-z 0-9 _ . - { }')
      .optional(),
    /** JSON file of agents and the SHA-256 of their API keys (see README). Optional. */
    AIRLOCK_AGENTS_FILE: z.string().optional(),
    /**
     * A development API key for agent `dev-agent` in tenant `dev`. Only its hash is kept in
     * memory. Unset = no dev agent (production).
     */
    AIRLOCK_DEV_API_KEY: z.string().min(16).optional(),
    /**
     * Bootstrap admin key: user `bootstrap-admin`, admin of AIRLOCK_ADMIN_TENANT and the only
     * principal that may create tenants (`POST /v1/admin/tenants`). Unset = no bootstrap admin.
     */
    AIRLOCK_ADMIN_API_KEY: z.string().min(16).optional(),
    /** Tenant of the bootstrap admin. */
    AIRLOCK_ADMIN_TENANT: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/).default('dev'),
    /**
     * Ed25519 private key that signs task tokens: PKCS8 PEM or a
     * JWK (`{"kty":"OKP","crv":"Ed25519",...}`). Unset = a key is generated at start (logged
     * warning): tokens then stop verifying on restart and differ between harness instances.
     */
    AIRLOCK_TOKEN_SIGNING_KEY: z.string().min(1).optional(),
    /** `iss` of the tokens this harness mints, and the only issuer it accepts. */
    AIRLOCK_TOKEN_ISSUER: z.string().min(1).default('urn:airlock:harness'),
    /** `aud` of the tokens this harness mints, and the only audience it accepts. */
    AIRLOCK_TOKEN_AUDIENCE: z.string().min(1).default('urn:airlock:api'),
    /** Lifetime of a token when the request does not ask for one. @defaultValue 15 min */
    TOKEN_DEFAULT_TTL_SECONDS: z.coerce.number().int().positive().default(900),
    /** Longest lifetime a token may have; requests beyond it get 400. @defaultValue 1 h */
    TOKEN_MAX_TTL_SECONDS: z.coerce.number().int().positive().default(3600),
    /**
     * Host directories under which grants may be registered (comma-separated absolute paths).
     * Empty = no grants can be registered: nothing on the host is exposed by default.
     */
    GRANT_ROOTS: z
      .string()
      .default('')
      .transform((v) => v.split(',').map((p) => p.trim()).filter(Boolean))
      .pipe(z.array(z.string().startsWith('/', 'GRANT_ROOTS entries must be absolute paths'))),
    /** Default wall-time limit of a task. */
    TASK_DEFAULT_TIMEOUT_MS: z.coerce.number().int().positive().default(30_000),
    /** Largest `timeoutMs` a task may ask for. */
    TASK_MAX_TIMEOUT_MS: z.coerce.number().int().positive().default(300_000),
    /** Default memory limit of a task. */
    TASK_DEFAULT_MEMORY_MB: z.coerce.number().int().min(8).default(64),
    /** Largest `memoryMb` a task may ask for. */
    TASK_MAX_MEMORY_MB: z.coerce.number().int().min(8).default(512),
    /** Bytes kept per output stream before the task ends with `output_limit`. @defaultValue 1 MiB */
    TASK_OUTPUT_BYTES: z.coerce.number().int().positive().default(1024 * 1024),
    /** Largest `code` accepted, in bytes. */
    TASK_MAX_CODE_BYTES: z.coerce.number().int().positive().default(512 * 1024),
    /** Largest stdin and input files of a container task, together, in decoded bytes. */
    TASK_MAX_INPUT_BYTES: z.coerce.number().int().positive().default(256 * 1024),
    /** Default memory limit of a container task (interpreters need more than an isolate). */
    TASK_DEFAULT_CONTAINER_MEMORY_MB: z.coerce.number().int().min(16).default(256),
    /** Largest request body; larger bodies get 413. */
    BODY_LIMIT_BYTES: z.coerce.number().int().positive().default(1024 * 1024),
    /** Longest `wait` a POST may hold the response. */
    MAX_WAIT_SECONDS: z.coerce.number().int().min(0).default(60),
    /**
     * How long finished tasks are kept (their record, events, output and files), unless the
     * tenant has its own retention (`PUT /v1/admin/storage/tenants/:id`). @defaultValue 7 days
     */
    TASK_RETENTION_MS: z.coerce.number().int().positive().default(7 * 24 * 3600 * 1000),
    /**
     * Bytes a tenant's tasks may store (in Redis and in the blob store), unless the tenant has
     * its own quota. A task is refused (403 storage_quota_exceeded) when its worst case would
     * not fit. @defaultValue 1 GiB
     */
    STORAGE_QUOTA_BYTES: z.coerce.number().int().min(0).default(1024 * 1024 * 1024),
    /**
     * The blob store the runners keep /out files in (same directory as the runners' BLOB_DIR;
     * across hosts, one shared directory). The harness only reads it.
     */
    BLOB_DIR: z.string().startsWith('/', 'BLOB_DIR must be an absolute path').default('/var/lib/airlock/blobs'),
    /** How long an idempotency key's stored answer is replayed. @defaultValue 24 h (IDEM-8) */
    IDEMPOTENCY_TTL_MS: z.coerce.number().int().positive().default(24 * 3600 * 1000),
    /**
     * How long a request holds its Idempotency-Key before it has made anything (validation,
     * policy, mounts; its task binds the key for IDEMPOTENCY_TTL_MS from then on): the longest a
     * harness that died at that point blocks the key (retries get 409 with `Retry-After`).
     * @defaultValue 15 s
     */
    IDEMPOTENCY_CLAIM_TTL_MS: z.coerce.number().int().min(100).default(15_000),
    /** A runner that has not sent a heartbeat for this long does not count for /readyz. */
    RUNNER_STALE_MS: z.coerce.number().int().positive().default(10_000),
    /**
     * Refuse (503 runtime_unavailable) a task whose runtime no live runner serves, instead of
     * queueing it until one comes. Safe default: a task nobody takes would otherwise sit queued
     * holding a concurrency slot. `false` suits a harness deployed before its runners.
     */
    TASKS_REQUIRE_LIVE_RUNNER: BoolEnv.default(true),
    /** Reads (GET/HEAD) per minute per agent, and per API key (see harness/ratelimit). */
    RATE_LIMIT_READS_PER_MIN: z.coerce.number().int().min(0).default(100),
    /** Writes (other methods, except task creation) per minute per agent and per API key. */
    RATE_LIMIT_WRITES_PER_MIN: z.coerce.number().int().min(0).default(60),
    /** Task creations (`POST /v1/tasks`) per minute per agent and per API key. */
    RATE_LIMIT_TASK_CREATES_PER_MIN: z.coerce.number().int().min(0).default(10),
    /** Tasks one agent may have queued or running at once. */
    RATE_LIMIT_CONCURRENT_TASKS: z.coerce.number().int().min(0).default(4),
    /** Failed authentications (401) per minute from one client IP before it gets 429. */
    RATE_LIMIT_AUTH_FAILURES_PER_MIN: z.coerce.number().int().min(1).default(20),
    /**
     * Key of the HMAC that turns tenant/agent/key ids and IPs into the `pk` partition keys of the
     * RateLimit headers. Unset = a fixed key (ids are still hashed, but guessable ids can be
     * confirmed). Changing it resets every counter, and the concurrency count of tasks already
     * active (they are no longer counted).
     */
    RATE_LIMIT_PK_SALT: z.string().default(''),
    /**
     * Where the audit sealer writes the sealed logs (read here for the audit API; same host or a
     * shared read-only volume). The harness never writes there.
     */
    AUDIT_DIR: z.string().min(1).default('/var/lib/airlock/audit'),
    /**
     * Keys that encrypt the credentials vault at rest (AES-256-GCM): one or more 32-byte keys,
     * base64, comma-separated. The first seals new values; all of them open stored ones (each
     * value names its key), so a key rotates by listing the new one first. Unset = a key is made
     * at start (logged warning): credentials stored then cannot be read after a restart.
     * `npm start` keeps one in `.airlock/vault-key`.
     */
    AIRLOCK_VAULT_KEY: z.string().min(1).optional(),
    /**
     * The broker's own listener (capability calls from runners, `POST /v1/broker/calls`): only
     * broker tokens of running task attempts are accepted there, never an API key. Loopback by
     * default; where runners run on other hosts, bind an address only they reach.
     */
    BROKER_HOST: z.string().default('127.0.0.1'),
    /** Port of the broker listener (the runners' BROKER_URL). 0 = any free port. */
    BROKER_PORT: z.coerce.number().int().min(0).max(65535).default(8081),
    /** Start the broker listener with the harness. */
    BROKER_ENABLED: BoolEnv.default(true),
    /**
     * Internal targets capability calls may reach although their address is loopback, private,
     * link-local or otherwise refused: `host:port` pairs, comma-separated (`10.0.0.5:443`,
     * `127.0.0.1:9000`, `[::1]:8443`, or a name: `tickets.internal:443`, whose resolved
     * addresses are then allowed on that port). For the operator only, never a tenant admin.
     */
    CAPABILITY_PRIVATE_TARGETS: z
      .string()
      .default('')
      .transform((v) => v.split(',').map((p) => p.trim()).filter(Boolean)),
    /** Largest request body a capability call sends to a target. @defaultValue 1 MiB */
    CAPABILITY_MAX_REQUEST_BYTES: z.coerce.number().int().positive().default(1024 * 1024),
    /** Largest answer a capability call reads from a target. @defaultValue 4 MiB */
    CAPABILITY_MAX_RESPONSE_BYTES: z.coerce.number().int().positive().default(4 * 1024 * 1024),
    /**
     * Most bytes one task's capability call records (the exactly-once record of each call, with
     * its redacted answer) may hold; past it, the task's further calls fail `capability_failed`.
     * A task declaring capabilities reserves this plus one answer (CAPABILITY_MAX_RESPONSE_BYTES)
     * of its tenant's storage quota while it runs; when it ends, what its records really hold
     * counts instead. @defaultValue 4 MiB
     */
    CAPABILITY_RECORDS_MAX_BYTES: z.coerce.number().int().min(0).default(4 * 1024 * 1024),
    /**
     * Also record allowed reads: a principal reading its own task (record, events, files,
     * trace) and auditors/admins reading the audit log. Off by default (they would flood the log;
     * reading the log would write to it). Denied reads and every other decision are always recorded.
     */
    AUDIT_READS: BoolEnv.default(false),
    /** How long an approval request waits for a human before it expires (capped by APPROVAL_MAX_TIMEOUT_MS). @defaultValue 10 min */
    APPROVAL_TIMEOUT_MS: z.coerce.number().int().positive().default(10 * 60 * 1000),
    /** Cap on any approval's deadline. @defaultValue 1 h */
    APPROVAL_MAX_TIMEOUT_MS: z.coerce.number().int().positive().default(60 * 60 * 1000),
    /** How long the broker holds a runner's call waiting for a decision before it answers "still pending". @defaultValue 20 s */
    APPROVAL_POLL_MS: z.coerce.number().int().positive().max(60_000).default(20_000),
    /**
     * Tries of one compensation (harness/rollback/): the first and its retries, after which it
     * is left `failed` on the task for a human. @defaultValue 5
     */
    ROLLBACK_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(50).default(5),
    /** Delay before a compensation's first retry; it doubles each time (1 s, 2 s, 4 s, …). @defaultValue 1000 */
    ROLLBACK_BACKOFF_MS: z.coerce.number().int().min(1).max(3_600_000).default(1000),
    /**
     * How often the rollback inbox (tasks that ended failed after capability calls) is looked at
     * for one no harness picked up when it ended (all were down then). @defaultValue 1000
     */
    ROLLBACK_POLL_MS: z.coerce.number().int().min(10).max(600_000).default(1000),
    /**
     * How long a harness that took a rollback holds it without renewing: a harness that dies
     * mid-rollback has its rollback taken over by another (or by itself, restarted) after about
     * this long (BullMQ lock and stalled check). @defaultValue 30000
     */
    ROLLBACK_LOCK_MS: z.coerce.number().int().min(1000).max(600_000).default(30_000),
    /** Base of the `type` URI of problem responses (RFC 9457). */
    PROBLEM_BASE_URL: z.string().url().default('https://airlock.dev/problems/'),
    LOG_LEVEL: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
    /**
     * How long a console session lasts from sign-in (/console), in ms. It ends sooner on sign-out,
     * or when its API key is revoked or its user disabled. @defaultValue 8 hours (a work day:
     * an unattended browser does not stay signed in overnight)
     */
    CONSOLE_SESSION_TTL_MS: z.coerce.number().int().min(60_000).max(7 * 24 * 3600 * 1000).default(8 * 3600 * 1000),
    /**
     * Operator token for `GET /metrics` (Prometheus): scrapers send `Authorization: Bearer <it>`.
     * Unset: /metrics answers 404 (the metrics name routes and volumes, not for tenants).
     */
    METRICS_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
    /**
     * Webhook receivers deliveries may reach although their address is loopback, private or
     * otherwise refused: `host:port` pairs, comma-separated, as CAPABILITY_PRIVATE_TARGETS. Operator only.
     */
    WEBHOOK_PRIVATE_TARGETS: z
      .string()
      .default('')
      .transform((v) => v.split(',').map((p) => p.trim()).filter(Boolean)),
    /** Tries of one webhook delivery (the first and its retries). @defaultValue 8 */
    WEBHOOK_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(50).default(8),
    /** Delay before the first retry; it doubles each time (1 s, 2 s, 4 s, …). @defaultValue 1000 */
    WEBHOOK_BACKOFF_MS: z.coerce.number().int().min(1).default(1000),
    /** How long one delivery waits for the receiver's answer. @defaultValue 10000 */
    WEBHOOK_TIMEOUT_MS: z.coerce.number().int().min(100).default(10_000),
    /**
     * Origins (scheme://host[:port]) whose pages may call POST /mcp; a request with any other
     * `Origin` header is refused. MCP clients that are not browsers send none. Comma-separated.
     */
    MCP_ALLOWED_ORIGINS: z
      .string()
      .default('')
      .transform((v) => v.split(',').map((o) => o.trim()).filter(Boolean)),
  })
  .superRefine((c, ctx) => {
    checkQueuePrefix(c, ctx);
    if (c.TASK_DEFAULT_TIMEOUT_MS > c.TASK_MAX_TIMEOUT_MS) {
      ctx.addIssue({
        code: 'custom',
        path: ['TASK_DEFAULT_TIMEOUT_MS'],
        message: 'must not exceed TASK_MAX_TIMEOUT_MS; lower it or raise the cap',
      });
    }
    if (c.TOKEN_DEFAULT_TTL_SECONDS > c.TOKEN_MAX_TTL_SECONDS) {
      ctx.addIssue({
        code: 'custom',
        path: ['TOKEN_DEFAULT_TTL_SECONDS'],
        message: 'must not exceed TOKEN_MAX_TTL_SECONDS; lower it or raise the cap',
      });
    }
    if (c.TASK_DEFAULT_MEMORY_MB > c.TASK_MAX_MEMORY_MB) {
      ctx.addIssue({
        code: 'custom',
        path: ['TASK_DEFAULT_MEMORY_MB'],
        message: 'must not exceed TASK_MAX_MEMORY_MB; lower it or raise the cap',
      });
    }
    if (c.TASK_MAX_CODE_BYTES >= c.BODY_LIMIT_BYTES) {
      ctx.addIssue({
        code: 'custom',
        path: ['TASK_MAX_CODE_BYTES'],
        message: 'must be below BODY_LIMIT_BYTES so an oversize code field is reported as such',
      });
    }
  })
  .transform((c) => ({ ...c, AIRLOCK_QUEUE_PREFIX: queuePrefixFor(c, c.AIRLOCK_QUEUE_PREFIX) }));
export type Config = Readonly<z.infer<typeof ConfigSchema>>;

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = ConfigSchema.safeParse(env);
  if (!parsed.success) throw new Error(`Invalid harness configuration: ${describeEnvError(parsed.error)}`);
  return Object.freeze(parsed.data);
}
