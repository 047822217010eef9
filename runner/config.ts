import { randomBytes } from 'node:crypto';
import os from 'node:os';
import { z } from 'zod';
import { BoolEnv, describeEnvError } from '../protocol/env.ts';
import { checkQueuePrefix, ClusterNodesSchema, queuePrefixFor } from '../protocol/redis-connection.ts';
import { TASK_QUEUE } from '../protocol/redis-keys.ts';

export const ConfigSchema = z.object({
  /** Redis holding queues and task records. The runner's Redis user needs only queue/task keys. */
  REDIS_URL: z.string().url().default('redis://127.0.0.1:6379'),
  /**
   * Seed nodes of a Redis Cluster (`host:port,…`; a managed cluster's configuration endpoint
   * will do). Set = Airlock talks to the cluster (REDIS_URL then only lends its user name and
   * password); empty = the standalone Redis at REDIS_URL. See docs/scaling.md.
   */
  REDIS_CLUSTER_NODES: ClusterNodesSchema,
  /** Isolate host processes, i.e. isolate tasks run at once. Defaults to the number of cores. */
  ISOLATE_HOSTS: z.coerce.number().int().min(1).max(64).default(os.availableParallelism()),
  /**
   * Memory limit of the isolate each isolate host prepares ahead of demand: a task with exactly
   * this `memoryMb` skips creating its isolate. Keep it equal to the harness's
   * TASK_DEFAULT_MEMORY_MB (the limit most tasks run with).
   */
  ISOLATE_PREWARM_MEMORY_MB: z.coerce.number().int().min(8).max(65536).default(64),
  /**
   * How long a job lock lasts without renewal. A runner that dies mid-task loses its lock after
   * this long; the job is then retried once on another runner. Lower = faster recovery, more
   * Redis traffic.
   */
  RUNNER_LOCK_MS: z.coerce.number().int().min(500).default(30_000),
  /** How often runners look for jobs whose runner died. Defaults to RUNNER_LOCK_MS. */
  RUNNER_STALLED_CHECK_MS: z.coerce.number().int().min(200).optional(),
  /**
   * How long finished tasks and their events are kept in Redis, for records that do not carry
   * their own retention (the harness sets it per task, from the tenant's). @defaultValue 7 days
   */
  TASK_RETENTION_MS: z.coerce.number().int().positive().default(7 * 24 * 3600 * 1000),
  /**
   * Name shown in logs and the runner registry (heartbeats), and the label on every container
   * this runner makes. Default: the hostname plus a random suffix, new for every process, so two
   * runners (or two checkouts) on one host never share an id. What a runner that died left
   * behind is removed by any live runner of the same installation once its heartbeat is older
   * than RUNNER_GONE_AFTER_MS (runner/backends/docker-orphans.ts). A fixed id works too: the
   * runner then also removes its previous life's containers at start, and refuses to start while
   * another live runner heartbeats with that id and Docker is enabled.
   */
  RUNNER_ID: z
    .string()
    .min(1)
    .max(200)
    .default(() => `${os.hostname()}-${randomBytes(4).toString('hex')}`),
  /**
   * A runner whose heartbeat (every 2 s) is older than this is gone: live runners of the same
   * installation remove its containers. Keep it at least RUNNER_LOCK_MS (by then its jobs have
   * moved to other runners anyway).
   */
  RUNNER_GONE_AFTER_MS: z.coerce.number().int().min(1000).default(30_000),
  LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error', 'silent']).default('info'),
  /**
   * BullMQ queue of isolate tasks this runner takes. Must match the harness's queue; only tests
   * and side-by-side deployments change it. BullMQ forbids `:` in queue names.
   */
  AIRLOCK_TASK_QUEUE: z
    .string()
    .regex(/^[A-Za-z0-9_.-]{1,200}$/, 'must be 1-200 characters of A-Z a-z 0-9 _ . -')
    .default(TASK_QUEUE),
  /**
   * Prefix of every BullMQ key (`<prefix>:<queue>:…`). Must match the harness's. Default
   * `bull` (BullMQ's own, what existing installations have); on a Redis Cluster `{airlock}`,
   * and there it must hold a hash tag so each queue's keys share a slot (docs/scaling.md).
   * Changing it on a live installation orphans the jobs queued under the old one.
   */
  AIRLOCK_QUEUE_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9_.{}-]{1,100}$/, 'must be 1-100 characters of A-Z a-z 0-9 _ . - { }')
    .optional(),
  /**
   * Backends this runner starts, comma-separated: `isolate` (javascript, typescript) and/or
   * `docker` (python, node, bash; takes the container queue). If `docker` is listed but the engine
   * does not answer or an image is missing at start, the runner logs a warning and runs without it
   * (container tasks wait in their queue for a runner that has Docker) — unless REQUIRE_DOCKER.
   */
  RUNNER_BACKENDS: z.preprocess(
    (v) => (typeof v === 'string' ? [...new Set(v.split(',').map((s) => s.trim()).filter(Boolean))] : v),
    z.array(z.enum(['isolate', 'docker'])).min(1).default(['isolate', 'docker']),
  ),
  /** Fail start-up instead of running without Docker. Default: true when CI is set, else false. */
  REQUIRE_DOCKER: BoolEnv.optional(),
  CI: BoolEnv.default(false),
  /** Docker engine socket. Only the runner talks to it; it is never mounted into a sandbox (DKR-4). */
  DOCKER_SOCKET: z.string().startsWith('/').default('/var/run/docker.sock'),
  /** Container tasks run at once. Defaults to the number of cores. */
  CONTAINER_CONCURRENCY: z.coerce.number().int().min(1).max(64).default(os.availableParallelism()),
  /** Pre-started containers kept per runtime image (python, node, bash); 0 disables the pool. */
  WARM_POOL_SIZE: z.coerce.number().int().min(0).max(32).default(2),
  /**
   * Memory limit of warm containers. Only tasks with exactly this limit use the pool, so keep it
   * equal to the harness's TASK_DEFAULT_CONTAINER_MEMORY_MB.
   */
  WARM_POOL_MEMORY_MB: z.coerce.number().int().min(16).default(256),
  /** CPU share of each container (1 = one core). */
  CONTAINER_CPUS: z.coerce.number().positive().max(64).default(1),
  /** Processes/threads per container (fork-bomb cap → `pids_limit`). */
  CONTAINER_PIDS_LIMIT: z.coerce.number().int().min(16).max(32768).default(128),
  /** Size of each of the /tmp and /work tmpfs of a container (→ `disk_limit` when full). */
  CONTAINER_SCRATCH_MB: z.coerce.number().int().min(1).max(4096).default(64),
  /**
   * Where private copies of writable grants live while a task runs (created 0700). Put it on its
   * own filesystem if you can: what a sandbox writes to a rw grant lands here.
   */
  GRANT_STAGING_DIR: z.string().startsWith('/').default('/var/lib/airlock/staging'),
  /**
   * Where the runner makes each sandbox container's capability socket (runner/backends/call-socket.ts):
   * a directory per container, mounted read-only at /run/airlock, so a call goes from the program
   * to the runner in one hop. The Docker engine must see this path as the runner does (a runner in
   * a container mounts it at the same path, like GRANT_STAGING_DIR). `none`: the supervisor relays
   * the calls over the attach stream instead (slower; for an engine on another machine).
   */
  CALL_SOCKET_DIR: z
    .string()
    .refine((v) => v === 'none' || v.startsWith('/'), 'CALL_SOCKET_DIR must be an absolute path or `none`')
    .default('/var/lib/airlock/calls'),
  /** A task with rw grants is stopped (`disk_limit`) when GRANT_STAGING_DIR has less free space. */
  GRANT_STAGING_MIN_FREE_MB: z.coerce.number().int().min(0).default(512),
  /**
   * The blob store: where files container tasks write under /out are kept (Redis keeps only
   * their metadata). The harness serves them from its own BLOB_DIR: both must be the same
   * directory (across hosts, one shared directory). See protocol/blobs/.
   */
  BLOB_DIR: z.string().startsWith('/', 'BLOB_DIR must be an absolute path').default('/var/lib/airlock/blobs'),
  /**
   * The harness broker's listener, where this runner sends the capability calls of the tasks it
   * runs (`POST <BROKER_URL>/v1/broker/calls`), each authenticated with the broker token of its
   * task attempt. Only runners should reach it. The default is the harness's broker port on the
   * same host.
   */
  BROKER_URL: z.string().url().default('http://127.0.0.1:8081'),
  /**
   * Longest wait for the broker's answer to one call; a task's remaining wall time caps it too.
   * No answer in time: the code gets `capability_timeout` (the call is not resent).
   */
  BROKER_CALL_TIMEOUT_MS: z.coerce.number().int().min(100).default(60_000),
  /**
   * Resends of a call after a transport fault (connection refused or reset, 502/503/504). Safe:
   * the broker answers a call it already ran from its record. Then `capability_unavailable`.
   */
  BROKER_CALL_RETRIES: z.coerce.number().int().min(0).max(10).default(2),
  /**
   * Port of this runner's own Prometheus `GET /metrics` listener (no credential). Unset = no
   * listener; 0 = any free port (logged).
   */
  RUNNER_METRICS_PORT: z.coerce.number().int().min(0).max(65535).optional(),
  /** Address of that listener: loopback by default; anything else must be reachable by the scraper only. */
  RUNNER_METRICS_HOST: z.string().min(1).default('127.0.0.1'),
  /** How often this runner deletes the blobs of tasks that expired; 0 = never. @defaultValue 10 min */
  BLOB_SWEEP_INTERVAL_MS: z.coerce.number().int().min(0).default(10 * 60_000),
})
  .superRefine(checkQueuePrefix)
  .transform((c) => ({ ...c, AIRLOCK_QUEUE_PREFIX: queuePrefixFor(c, c.AIRLOCK_QUEUE_PREFIX) }));
export type Config = Readonly<z.infer<typeof ConfigSchema>>;

/** Whether a missing Docker engine fails start-up (REQUIRE_DOCKER, else CI). */
export function dockerRequired(config: Config): boolean {
  return config.REQUIRE_DOCKER ?? config.CI;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = ConfigSchema.safeParse(env);
  if (!parsed.success) throw new Error(`Invalid runner configuration: ${describeEnvError(parsed.error)}`);
  return Object.freeze(parsed.data);
}
