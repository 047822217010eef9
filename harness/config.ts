import { z } from 'zod';
import { describeEnvError } from '../protocol/env.ts';

export const ConfigSchema = z
  .object({
    /** Port the HTTP API listens on. */
    PORT: z.coerce.number().int().min(0).max(65535).default(8080),
    /** Address to bind. Loopback by default: expose it deliberately, behind TLS. */
    HOST: z.string().default('127.0.0.1'),
    /** Redis: system of record for tasks, queues and idempotency keys. */
    REDIS_URL: z.string().url().default('redis://127.0.0.1:6379'),
    /** JSON file of agents and the SHA-256 of their API keys (see README). Optional. */
    AIRLOCK_AGENTS_FILE: z.string().optional(),
    /**
     * A development API key for agent `dev-agent` in tenant `dev`. Only its hash is kept in
     * memory. Unset = no dev agent (production).
     */
    AIRLOCK_DEV_API_KEY: z.string().min(16).optional(),
    /**
     * Bootstrap admin key (role `admin` in AIRLOCK_ADMIN_TENANT): manages filesystem grants until
     * the identity model lands. Unset = no bootstrap admin.
     */
    AIRLOCK_ADMIN_API_KEY: z.string().min(16).optional(),
    /** Tenant of the bootstrap admin. */
    AIRLOCK_ADMIN_TENANT: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/).default('dev'),
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
    /** Largest stdin, and largest total of input files, of a container task. */
    TASK_MAX_INPUT_BYTES: z.coerce.number().int().positive().default(256 * 1024),
    /** Default memory limit of a container task (interpreters need more than an isolate). */
    TASK_DEFAULT_CONTAINER_MEMORY_MB: z.coerce.number().int().min(16).default(256),
    /** Largest request body; larger bodies get 413. */
    BODY_LIMIT_BYTES: z.coerce.number().int().positive().default(1024 * 1024),
    /** Longest `wait` a POST may hold the response. */
    MAX_WAIT_SECONDS: z.coerce.number().int().min(0).default(60),
    /** How long finished tasks are kept. @defaultValue 7 days */
    TASK_RETENTION_MS: z.coerce.number().int().positive().default(7 * 24 * 3600 * 1000),
    /** How long an idempotency key's stored answer is replayed. @defaultValue 24 h (IDEM-8) */
    IDEMPOTENCY_TTL_MS: z.coerce.number().int().positive().default(24 * 3600 * 1000),
    /** A runner that has not sent a heartbeat for this long does not count for /readyz. */
    RUNNER_STALE_MS: z.coerce.number().int().positive().default(10_000),
    /** Base of the `type` URI of problem responses (RFC 9457). */
    PROBLEM_BASE_URL: z.string().url().default('https://airlock.dev/problems/'),
    LOG_LEVEL: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
  })
  .superRefine((c, ctx) => {
    if (c.TASK_DEFAULT_TIMEOUT_MS > c.TASK_MAX_TIMEOUT_MS) {
      ctx.addIssue({
        code: 'custom',
        path: ['TASK_DEFAULT_TIMEOUT_MS'],
        message: 'must not exceed TASK_MAX_TIMEOUT_MS; lower it or raise the cap',
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
  });
export type Config = Readonly<z.infer<typeof ConfigSchema>>;

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = ConfigSchema.safeParse(env);
  if (!parsed.success) throw new Error(`Invalid harness configuration: ${describeEnvError(parsed.error)}`);
  return Object.freeze(parsed.data);
}
