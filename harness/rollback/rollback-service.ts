/**
 * The harness's rollback (docs: README "Rollback"): hears of tasks that ended `failed`,
 * `timed_out` or `cancelled` after capability calls and queues one rollback job per task on a
 * BullMQ queue of its own (`<task queue>-rollback`), which a worker in every harness runs
 * (rollback-worker.ts).
 *
 * Never lost: the transition that ends such a task adds it to the task queue's rollback inbox in
 * the same atomic step (protocol/task-store.ts). A harness queues the task's job as soon as it
 * hears the end (task-events channel), and it drains the inbox — every ROLLBACK_POLL_MS and at
 * start — for ends it did not hear (it was down then). An inbox entry is removed only once its
 * job is queued; the job id is the task id, so queueing twice queues once.
 */
import { Queue, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import type { AuditProducer } from '../../protocol/audit/producer.ts';
import { ROLLBACK_STATUSES } from '../../protocol/compensation.ts';
import { duplicateClient } from '../../protocol/redis-connection.ts';
import { AUDIT_SHARDS, redisKeys } from '../../protocol/redis-keys.ts';
import type { TaskStore } from '../../protocol/task-store.ts';
import type { BrokerDeps } from '../broker/broker-call.ts';
import type { TaskNotifier } from '../tasks/task-notifier.ts';
import { RollbackWorker, type RollbackJob } from './rollback-worker.ts';

export interface RollbackServiceOptions {
  redis: Redis;
  /** A connection BullMQ may block on (duplicated for the worker). */
  queueConnection: Redis;
  /** BullMQ key prefix (AIRLOCK_QUEUE_PREFIX). */
  prefix?: string | undefined;
  /** The task queue (AIRLOCK_TASK_QUEUE) whose tasks this harness rolls back. */
  taskQueue: string;
  broker: BrokerDeps;
  store: TaskStore;
  notifier: TaskNotifier;
  audit: AuditProducer;
  maxAttempts: number;
  backoffMs: number;
  pollMs: number;
  lockMs: number;
  /** How often a compensation waiting for a human is looked at again. @defaultValue 1000 */
  approvalRecheckMs?: number;
  log: (msg: string, fields?: Record<string, unknown>) => void;
}

/** Compensation tries that crashed the job itself (Redis down, say), before it is left failed. */
const JOB_ATTEMPTS = 20;

export class RollbackService {
  readonly queue: Queue<RollbackJob>;
  readonly #worker: Worker<RollbackJob>;
  readonly #workerConnection: Redis;
  readonly #o: RollbackServiceOptions;
  readonly #unsubscribe: () => void;
  readonly #timer: NodeJS.Timeout;
  readonly #abort = new AbortController();
  #draining: Promise<void> | null = null;
  #closing: Promise<void> | null = null;

  private constructor(o: RollbackServiceOptions) {
    this.#o = o;
    const name = `${o.taskQueue}-rollback`;
    const prefix = o.prefix !== undefined ? { prefix: o.prefix } : {};
    this.queue = new Queue<RollbackJob>(name, { connection: o.queueConnection, ...prefix });
    this.queue.on('error', () => {});
    this.#workerConnection = duplicateClient(o.queueConnection, { maxRetriesPerRequest: null });
    this.#workerConnection.on('error', () => {});
    const worker = new RollbackWorker({
      broker: o.broker,
      store: o.store,
      audit: o.audit,
      maxAttempts: o.maxAttempts,
      backoffMs: o.backoffMs,
      approvalRecheckMs: o.approvalRecheckMs ?? 1000,
    });
    this.#worker = new Worker<RollbackJob>(name, (job, token) => worker.process(job, token, this.#abort.signal), {
      connection: this.#workerConnection,
      ...prefix,
      concurrency: 8,
      lockDuration: o.lockMs,
      stalledInterval: o.lockMs,
      // A rollback taken over after a crash is run again (it resumes where the record says).
      maxStalledCount: 1000,
    });
    this.#worker.on('error', () => {});
    this.#worker.on('failed', (job, err) => {
      if (job && job.attemptsMade >= JOB_ATTEMPTS) {
        o.log('a rollback could not be run; its pending compensations stay pending on the task', { taskId: job.data.taskId, err: err.message });
      }
    });
    this.#unsubscribe = o.notifier.subscribeAll((taskId, what) => {
      if (what && (ROLLBACK_STATUSES as readonly string[]).includes(what)) void this.#take(taskId);
    });
    this.#timer = setInterval(() => void this.drain().catch(() => {}), o.pollMs);
    this.#timer.unref();
  }

  /** Starts the worker and drains the inbox once (ends heard by nobody while no harness ran). */
  static async start(options: RollbackServiceOptions): Promise<RollbackService> {
    const service = new RollbackService(options);
    await service.drain();
    return service;
  }

  /** Queues the rollback of every task in the inbox (concurrent callers share the pass). */
  drain(): Promise<void> {
    this.#draining ??= this.#drain().finally(() => (this.#draining = null));
    return this.#draining;
  }

  async #drain(): Promise<void> {
    const shards = Array.from({ length: AUDIT_SHARDS }, (_, i) => i);
    await Promise.all(
      shards.map(async (shard) => {
        const key = redisKeys.rollbackInboxOfShard(shard, this.#o.taskQueue);
        const ids = await this.#o.redis.srandmember(key, 500);
        for (const id of ids) await this.#take(id);
      }),
    );
  }

  /** Queues one task's rollback, then takes it out of the inbox (only a task that is in it). */
  async #take(taskId: string): Promise<void> {
    const key = redisKeys.rollbackInbox(taskId, this.#o.taskQueue);
    try {
      // Another queue's task (another installation on this Redis) is never in this inbox.
      if ((await this.#o.redis.sismember(key, taskId)) !== 1) return;
      await this.queue.add('rollback', { taskId }, {
        jobId: taskId,
        attempts: JOB_ATTEMPTS,
        backoff: { type: 'exponential', delay: this.#o.backoffMs },
        // Kept a day after it ended: a late duplicate add finds it and queues nothing.
        removeOnComplete: { age: 24 * 3600 },
        removeOnFail: { age: 7 * 24 * 3600 },
      });
      await this.#o.redis.srem(key, taskId);
    } catch (err) {
      // Still in the inbox: the next drain queues it.
      this.#o.log('a rollback could not be queued yet', { taskId, err: (err as Error).message });
    }
  }

  /** Stops hearing ends and taking jobs; a job running now is let finish its current try. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#unsubscribe();
      clearInterval(this.#timer);
      await this.#draining?.catch(() => {});
      await this.#worker.close();
      await this.queue.close();
      this.#workerConnection.disconnect();
    })();
    return this.#closing;
  }

  /** Like close, but aborts the compensation calls in flight (they are retried by whoever takes the job). */
  async kill(): Promise<void> {
    this.#abort.abort();
    await this.close();
  }
}
