import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Worker } from 'bullmq';
import Docker from 'dockerode';
import { Redis } from 'ioredis';
import { TASK_QUEUE, containerQueueName, redisKeys } from '../protocol/redis-keys.ts';
import { TaskStore } from '../protocol/task-store.ts';
import { DockerBackend, type DockerBackendOptions } from './backends/docker.ts';
import { IsolateBackend } from './backends/isolate.ts';
import type { RunnerBackend } from './backends/types.ts';
import { CancelListener } from './cancel-listener.ts';
import { dockerRequired, type Config } from './config.ts';
import { IsolateHostPool } from './isolate-host/host-pool.ts';
import { JobProcessor } from './job-processor.ts';

/** How often a runner says it is alive (the harness's /readyz looks for this). */
const HEARTBEAT_MS = 2000;

export interface Runner {
  readonly id: string;
  /** Shared by every runner on this Redis; labels this runner's containers. */
  readonly installationId: string;
  /** The backends that started (`isolate`, `docker`). */
  readonly backends: readonly string[];
  close(): Promise<void>;
}

type BackendKind = Config['RUNNER_BACKENDS'][number];

/**
 * Builds a runner: per configured backend, backend → JobProcessor → BullMQ worker on that
 * backend's queue (isolate tasks on `queueName`, container tasks on `containerQueueName`), plus
 * cancel listener and heartbeat. Holds no secrets: it knows only Redis (and the Docker socket).
 */
export async function startRunner(
  config: Config,
  log: (msg: string) => void = () => {},
  queueName: string = TASK_QUEUE,
): Promise<Runner> {
  const redis = new Redis(config.REDIS_URL, { maxRetriesPerRequest: null });
  redis.on('error', (err) => log(`redis: ${err.message}`));
  const store = new TaskStore({ redis, retentionMs: config.TASK_RETENTION_MS });
  const installationId = await installationIdOf(redis);
  // Before the heartbeat below: a fixed RUNNER_ID must not be another live runner's (the Docker
  // backend removes the containers labelled with its own id at start).
  const idInUse = config.RUNNER_BACKENDS.includes('docker')
    ? await assertRunnerIdFree(redis, config.RUNNER_ID).then(
        () => null,
        (err: Error) => err,
      )
    : null;
  if (idInUse && dockerRequired(config)) {
    redis.disconnect();
    throw idInUse;
  }
  // Registered before any backend makes a container: other runners of the installation take a
  // container whose runner has no fresh heartbeat for a leftover (docker-orphans.ts).
  const beat = async () => {
    await redis.zadd(redisKeys.runners, Date.now(), config.RUNNER_ID).catch(() => 0);
  };
  await beat();
  const heartbeat = setInterval(() => void beat(), HEARTBEAT_MS);
  const cancels = await CancelListener.create(redis);
  const started: {
    kind: BackendKind;
    backend: RunnerBackend;
    worker: Worker;
    connection: Redis;
  }[] = [];

  const shutdown = async () => {
    for (const s of started) await s.worker.close();
    for (const s of started) await s.backend.dispose();
    await cancels.close();
    for (const s of started) s.connection.disconnect();
  };
  const context: BackendContext = { config, log, redis, installationId, idInUse };

  try {
    for (const kind of config.RUNNER_BACKENDS) {
      const made = await startBackend(kind, context);
      if (!made) continue;
      const processor = new JobProcessor({ store, backend: made.backend, cancels });
      // BullMQ does not close connections it was handed: keep it to disconnect on close.
      const connection = redis.duplicate();
      const worker = new Worker(
        kind === 'isolate' ? queueName : containerQueueName(queueName),
        processor.process,
        {
          connection,
          concurrency: made.concurrency,
          lockDuration: config.RUNNER_LOCK_MS,
          stalledInterval: config.RUNNER_STALLED_CHECK_MS ?? config.RUNNER_LOCK_MS,
          // A runner that dies mid-task: the job is retried once, then fails (→ task `internal`).
          maxStalledCount: 1,
          name: config.RUNNER_ID,
        },
      );
      worker.on('error', (err) => log(`${kind} worker: ${err.message}`));
      worker.on('failed', (job, err) => log(`job ${job?.id} failed: ${err.message}`));
      started.push({ kind, backend: made.backend, worker, connection });
    }
    if (started.length === 0)
      throw new Error(`none of the backends ${config.RUNNER_BACKENDS.join(', ')} could start`);
  } catch (err) {
    clearInterval(heartbeat);
    await shutdown().catch(() => undefined);
    // Deregister, unless the id is another live runner's (its entry, not ours).
    if (!idInUse) await redis.zrem(redisKeys.runners, config.RUNNER_ID).catch(() => 0);
    redis.disconnect();
    throw err;
  }
  log(`backends: ${started.map((s) => s.kind).join(', ')}`);

  let closing: Promise<void> | null = null;
  return {
    id: config.RUNNER_ID,
    installationId,
    backends: started.map((s) => s.kind),
    close() {
      closing ??= (async () => {
        // Beating on while tasks drain: a silent runner's containers are other runners' to remove.
        await shutdown();
        clearInterval(heartbeat);
        await redis.zrem(redisKeys.runners, config.RUNNER_ID).catch(() => 0);
        redis.disconnect();
      })();
      return closing;
    },
  };
}

interface BackendContext {
  config: Config;
  log: (msg: string) => void;
  redis: Redis;
  installationId: string;
  /** Why this runner's id may not run Docker (another live runner uses it), if so. */
  idInUse: Error | null;
}

/** One backend by kind, or null when Docker is unavailable and not required. */
async function startBackend(
  kind: BackendKind,
  { config, log, redis, installationId, idInUse }: BackendContext,
): Promise<{ backend: RunnerBackend; concurrency: number } | null> {
  switch (kind) {
    case 'isolate': {
      const pool = new IsolateHostPool({
        size: config.ISOLATE_HOSTS,
        onHostLog: (l) => log(`isolate host: ${l}`),
      });
      await pool.ready();
      return { backend: new IsolateBackend({ pool }), concurrency: config.ISOLATE_HOSTS };
    }
    case 'docker': {
      const options = {
        docker: new Docker({ socketPath: config.DOCKER_SOCKET }),
        runnerId: config.RUNNER_ID,
        installationId,
        runnerHeartbeats: () => heartbeats(redis),
        runnerGoneAfterMs: config.RUNNER_GONE_AFTER_MS,
        stagingRoot: config.GRANT_STAGING_DIR,
        stagingMinFreeMb: config.GRANT_STAGING_MIN_FREE_MB,
        poolSize: config.WARM_POOL_SIZE,
        poolMemoryMb: config.WARM_POOL_MEMORY_MB,
        cpus: config.CONTAINER_CPUS,
        pidsLimit: config.CONTAINER_PIDS_LIMIT,
        scratchMb: config.CONTAINER_SCRATCH_MB,
        log: (msg: string) => log(`docker: ${msg}`),
      } satisfies DockerBackendOptions;
      try {
        if (idInUse) throw idInUse;
        const backend = await DockerBackend.create(options);
        return { backend, concurrency: config.CONTAINER_CONCURRENCY };
      } catch (err) {
        if (dockerRequired(config)) throw err;
        log(
          `WARNING: container backend not started (${(err as Error).message}). python/node/bash tasks ` +
            'stay queued until a runner with Docker takes them. Set REQUIRE_DOCKER=1 to fail start-up instead.',
        );
        return null;
      }
    }
  }
}

/** The installation's id: made by the first runner on this Redis and kept there for good. */
async function installationIdOf(redis: Redis): Promise<string> {
  await redis.set(redisKeys.installation, `inst-${randomUUID()}`, 'NX');
  const id = await redis.get(redisKeys.installation);
  if (!id) throw new Error(`Redis key ${redisKeys.installation} vanished right after it was set`);
  return id;
}

/** Entries older than this are dropped from the registry (a runner gone for a day). */
const REGISTRY_KEEP_MS = 24 * 3600 * 1000;

/**
 * Last heartbeat (epoch ms) of every runner registered in this Redis. Drops entries a day old
 * first: a crashed runner never deregisters, and every process has its own id.
 */
async function heartbeats(redis: Redis): Promise<Map<string, number>> {
  await redis.zremrangebyscore(redisKeys.runners, '-inf', Date.now() - REGISTRY_KEEP_MS);
  const flat = await redis.zrange(redisKeys.runners, 0, -1, 'WITHSCORES');
  const beats = new Map<string, number>();
  for (let i = 0; i + 1 < flat.length; i += 2) beats.set(flat[i]!, Number(flat[i + 1]));
  return beats;
}

/**
 * Throws when another runner with this id is heartbeating. A recent entry alone may be this
 * runner's previous life (crashed without deregistering): wait past two heartbeats and look again.
 */
async function assertRunnerIdFree(redis: Redis, runnerId: string): Promise<void> {
  const seen = Number(await redis.zscore(redisKeys.runners, runnerId));
  if (!seen || Date.now() - seen > 2 * HEARTBEAT_MS) return;
  await sleep(2 * HEARTBEAT_MS + 500);
  const again = Number(await redis.zscore(redisKeys.runners, runnerId));
  if (again > seen) {
    throw new Error(
      `another live runner uses RUNNER_ID ${runnerId}; give each runner on a host its own RUNNER_ID`,
    );
  }
}
