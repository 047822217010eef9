import { Worker } from 'bullmq';
import type { Logger } from 'pino';
import type { Redis } from 'ioredis';
import { BlobSweeper } from '../protocol/blobs/blob-sweeper.ts';
import { asCommandClient, createRedisClient, duplicateClient } from '../protocol/redis-connection.ts';
import { FsBlobStore } from '../protocol/blobs/fs-blob-store.ts';
import { TASK_QUEUE, containerQueueName, redisKeys } from '../protocol/redis-keys.ts';
import { TaskStore } from '../protocol/task-store.ts';
import { AuditProducer } from '../protocol/audit/producer.ts';
import { startMetricsListener, type MetricsListener } from '../protocol/telemetry/metrics-listener.ts';
import type { DockerBackendOptions } from './backends/docker.ts';
import { IsolateBackend } from './backends/isolate.ts';
import type { RunnerBackend } from './backends/types.ts';
import { CONTAINER_RUNTIMES } from './backends/supervisor-protocol.ts';
import { BrokerClient } from './broker/broker-client.ts';
import { BrokerCalls } from './broker/call-broker.ts';
import { CancelListener } from './cancel-listener.ts';
import { dockerRequired, type Config } from './config.ts';
import { IsolateHostPool } from './isolate-host/host-pool.ts';
import { JobProcessor } from './job-processor.ts';
import { RunnerMetrics, UnrecordedRunnerMetrics } from './metrics/runner-metrics.ts';
import { RunnerReadiness } from './readiness.ts';
import { assertRunnerIdFree, HEARTBEAT_MS, heartbeats, installationIdOf } from './registry.ts';
import { withoutRepeats } from './repeat-filter.ts';

export interface Runner {
  readonly id: string;
  /** Shared by every runner on this Redis; labels this runner's containers. */
  readonly installationId: string;
  /** The backends that started (`isolate`, `docker`). */
  readonly backends: readonly string[];
  /** Backends that started but cannot take tasks now, as `<kind>: <reason>` (empty = ready). */
  unready(): string[];
  /** This runner's metrics (served at `metricsUrl` + `/metrics` when RUNNER_METRICS_PORT is set). */
  readonly metrics: RunnerMetrics;
  /** `http://host:port` of the metrics listener, or null without RUNNER_METRICS_PORT. */
  readonly metricsUrl: string | null;
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
  /**
   * Where the runner's lines go: a pino logger (runner/worker.ts: JSON lines, with `taskId` and
   * `traceId` on each task's lines), or a function of the text (tests; no task lines then).
   */
  logTo: Logger | ((msg: string) => void) = () => {},
  queueName: string = TASK_QUEUE,
  /**
   * BENCHMARK ONLY (bench/runner-without-audit.ts, to measure what the audit trail costs):
   * `audit: false` writes no audit entries. The service (runner/worker.ts) never passes it, and
   * no setting changes it. Likewise `metrics: false` (bench/runner-without-telemetry.ts) records
   * no task metrics, to measure what they cost.
   */
  assembly: { audit?: boolean; metrics?: boolean } = {},
): Promise<Runner> {
  const logger = typeof logTo === 'function' ? null : logTo;
  const log = typeof logTo === 'function' ? logTo : textLog(logTo);
  // A standalone Redis or a Redis Cluster (REDIS_CLUSTER_NODES): protocol/redis-connection.ts.
  const redis = asCommandClient(createRedisClient(config, { maxRetriesPerRequest: null }));
  // Every connection reports each failed reconnect: once a minute per message is plenty.
  const quiet = withoutRepeats(log);
  redis.on('error', (err) => quiet(`redis: ${err.message}`));
  const readiness = new RunnerReadiness(redis, config.RUNNER_ID);
  // Every task transition this runner makes appends its audit entry in the same script; the
  // heartbeat lets the sealer notice entries removed from the end of a stream (AUD-3).
  const audit = new AuditProducer({ redis });
  const audited = assembly.audit !== false;
  const stopAuditHeartbeat = audited ? audit.startHeartbeat() : () => {};
  const store = new TaskStore({ redis, retentionMs: config.TASK_RETENTION_MS, rollbackQueue: queueName, ...(audited ? { audit } : {}) });
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
    stopAuditHeartbeat();
    redis.disconnect();
    throw idInUse;
  }
  // Registered before any backend makes a container: other runners of the installation take a
  // container whose runner has no fresh heartbeat for a leftover (docker-orphans.ts). The
  // backends' readiness is published with it once they exist (before, /readyz must not count
  // this runner as ready).
  let backendsStarted = false;
  const beat = async () => {
    await redis.zadd(redisKeys.runners, Date.now(), config.RUNNER_ID).catch(() => 0);
    if (backendsStarted) await readiness.publish();
  };
  await beat();
  const heartbeat = setInterval(() => void beat(), HEARTBEAT_MS);
  const cancels = await CancelListener.create(redis);
  const blobs = new FsBlobStore(config.BLOB_DIR);
  // Capability calls of the tasks this runner runs go to the harness broker with each attempt's
  // token (made here when the attempt starts, never stored or sent anywhere else).
  const brokerClient = new BrokerClient({
    url: config.BROKER_URL,
    callTimeoutMs: config.BROKER_CALL_TIMEOUT_MS,
    retries: config.BROKER_CALL_RETRIES,
  });
  const calls = new BrokerCalls({ redis, client: brokerClient });
  let sweeper: BlobSweeper | null = null;
  const started: {
    kind: BackendKind;
    backend: RunnerBackend;
    worker: Worker;
    connection: Redis;
  }[] = [];

  // `force`: do not wait for running jobs (with Redis gone, a graceful close never ends: the
  // worker retries its Redis calls forever).
  const shutdown = async (force = false) => {
    await sweeper?.close();
    for (const s of started) await s.worker.close(force);
    for (const s of started) await s.backend.dispose();
    await cancels.close();
    await metricsListener?.close();
    brokerClient.dispose();
    for (const s of started) s.connection.disconnect();
  };

  const metrics = assembly.metrics === false ? new UnrecordedRunnerMetrics() : new RunnerMetrics({ processMetrics: config.RUNNER_METRICS_PORT !== undefined });
  let metricsListener: MetricsListener | null = null;
  const context: BackendContext = { config, log, redis, readiness, installationId, idInUse, metrics };

  try {
    for (const kind of config.RUNNER_BACKENDS) {
      const made = await startBackend(kind, context);
      if (!made) continue;
      // Only container tasks leave files: the blob directory must be usable before they run.
      if (kind === 'docker') await blobs.init();
      const processor = new JobProcessor({
        store, backend: made.backend, cancels, blobs, calls, runnerId: config.RUNNER_ID, metrics,
        ...(logger ? { logger } : {}),
      });
      // BullMQ does not close connections it was handed: keep it to disconnect on close.
      const connection = duplicateClient(redis);
      const worker = new Worker(
        kind === 'isolate' ? queueName : containerQueueName(queueName),
        processor.process,
        {
          connection,
          prefix: config.AIRLOCK_QUEUE_PREFIX,
          concurrency: made.concurrency,
          lockDuration: config.RUNNER_LOCK_MS,
          stalledInterval: config.RUNNER_STALLED_CHECK_MS ?? config.RUNNER_LOCK_MS,
          // A runner that dies mid-task: the job is retried once, then fails (→ task `internal`).
          maxStalledCount: 1,
          name: config.RUNNER_ID,
          // Started by `readiness` once the backend is ready.
          autorun: false,
        },
      );
      worker.on('error', (err) => quiet(`${kind} worker: ${err.message}`));
      readiness.attach(kind, worker);
      worker.on('failed', (job, err) => {
        if (!logger) return log(`job ${job?.id} failed: ${err.message}`);
        // The task's trace (when the harness exported one): the trace id of the job's traceparent.
        const traceparent = (job?.data as { traceparent?: unknown } | undefined)?.traceparent;
        const traceId = typeof traceparent === 'string' ? /^00-([0-9a-f]{32})-/.exec(traceparent)?.[1] : undefined;
        logger.error({ taskId: job?.id, ...(traceId ? { traceId } : {}), err: err.message }, 'job failed');
      });
      started.push({ kind, backend: made.backend, worker, connection });
    }
    if (started.length === 0)
      throw new Error(`none of the backends ${config.RUNNER_BACKENDS.join(', ')} could start`);
    if (config.RUNNER_METRICS_PORT !== undefined) {
      metricsListener = await startMetricsListener(metrics.registry, config.RUNNER_METRICS_PORT, config.RUNNER_METRICS_HOST);
      log(`metrics at ${metricsListener.url}/metrics`);
    }
    if (config.BLOB_SWEEP_INTERVAL_MS > 0 && started.some((s) => s.kind === 'docker')) {
      sweeper = new BlobSweeper({
        blobs,
        redis,
        minAgeMs: 60_000,
        intervalMs: config.BLOB_SWEEP_INTERVAL_MS,
        onError: (err) => log(`blob sweep failed: ${String(err)}`),
      });
    }
  } catch (err) {
    clearInterval(heartbeat);
    stopAuditHeartbeat();
    await shutdown(true).catch(() => undefined);
    // Deregister, unless the id is another live runner's (its entry, not ours).
    if (!idInUse) await redis.zrem(redisKeys.runners, config.RUNNER_ID).catch(() => 0);
    redis.disconnect();
    throw err;
  }
  log(`backends: ${started.map((s) => s.kind).join(', ')}`);
  backendsStarted = true;
  await readiness.publish();

  let closing: Promise<void> | null = null;
  return {
    id: config.RUNNER_ID,
    installationId,
    backends: started.map((s) => s.kind),
    unready: () => readiness.unready(),
    metrics,
    get metricsUrl() {
      return metricsListener?.url ?? null;
    },
    close() {
      closing ??= (async () => {
        // Redis gone: nothing that needs it can finish (and its commands would wait forever).
        const redisUp = redis.status === 'ready';
        // Beating on while tasks drain: a silent runner's containers are other runners' to remove.
        await shutdown(!redisUp);
        clearInterval(heartbeat);
        stopAuditHeartbeat();
        if (redisUp) {
          if (audited) await audit.heartbeat();
          await redis.zrem(redisKeys.runners, config.RUNNER_ID).catch(() => 0);
          await readiness.withdraw();
        }
        redis.disconnect();
      })();
      return closing;
    },
  };
}

/**
 * One backend by kind, or null when Docker is unavailable and not required. An isolate backend
 * whose hosts die at start is returned unready (`readiness`): it keeps re-spawning them with
 * backoff and takes tasks once one starts.
 */
interface BackendContext {
  config: Config;
  log: (msg: string) => void;
  redis: Redis;
  readiness: RunnerReadiness;
  installationId: string;
  /** Why this runner's id may not run Docker (another live runner uses it), if so. */
  idInUse: Error | null;
  /** Reads the backends' pools when scraped. */
  metrics: RunnerMetrics;
}

async function startBackend(
  kind: BackendKind,
  { config, log, redis, readiness, installationId, idInUse, metrics }: BackendContext,
): Promise<{ backend: RunnerBackend; concurrency: number } | null> {
  switch (kind) {
    case 'isolate': {
      let wasReady = true;
      const pool = new IsolateHostPool({
        size: config.ISOLATE_HOSTS,
        prewarmMemoryMb: config.ISOLATE_PREWARM_MEMORY_MB,
        onHostLog: (l) => log(`isolate host: ${l}`),
        onStatus: (s) => {
          readiness.set('isolate', s);
          // Changes only: every failed start is in the log already (the host's own line).
          if (s.ready !== wasReady) {
            log(
              s.ready
                ? 'isolate backend ready again'
                : `WARNING: isolate backend not ready (${s.reason}); javascript/typescript tasks stay queued until an isolate host starts`,
            );
          }
          wasReady = s.ready;
        },
      });
      metrics.attach({ isolateRestarts: () => pool.restarts });
      readiness.set('isolate', await pool.ready());
      return { backend: new IsolateBackend({ pool }), concurrency: config.ISOLATE_HOSTS };
    }
    case 'docker': {
      // Loaded only here: dockerode brings some 220 modules (gRPC, protobuf, SSH) that a runner
      // of isolates alone would load for nothing at every start.
      const [{ default: Docker }, { DockerBackend }] = await Promise.all([import('dockerode'), import('./backends/docker.ts')]);
      const options = {
        docker: new Docker({ socketPath: config.DOCKER_SOCKET }),
        runnerId: config.RUNNER_ID,
        installationId,
        runnerHeartbeats: () => heartbeats(redis),
        runnerGoneAfterMs: config.RUNNER_GONE_AFTER_MS,
        stagingRoot: config.GRANT_STAGING_DIR,
        stagingMinFreeMb: config.GRANT_STAGING_MIN_FREE_MB,
        callSocketRoot: config.CALL_SOCKET_DIR === 'none' ? null : config.CALL_SOCKET_DIR,
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
        metrics.attach({
          warmPool: () => ({
            ready: Object.fromEntries(CONTAINER_RUNTIMES.map((rt) => [rt, backend.pool.readyCount(rt)])),
            misses: backend.stats.misses,
          }),
        });
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

/** Text lines on a pino logger: `WARNING…` lines at warn level, the rest at info. */
function textLog(logger: Logger): (msg: string) => void {
  return (msg) => {
    if (/^WARNING\b/.test(msg)) logger.warn(msg);
    else logger.info(msg);
  };
}
