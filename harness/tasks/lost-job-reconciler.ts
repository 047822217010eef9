import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { TaskStore } from '../../protocol/task-store.ts';

/** How often the queue's failed set is looked at. */
const POLL_MS = 1000;
/**
 * How far behind the newest failure seen a poll looks again. Scores are the failing worker's
 * clock, so a runner whose clock is a little behind adds entries "in the past".
 */
const LOOKBACK_MS = 60_000;
/** Failed jobs read per round trip. */
const PAGE = 500;

export interface LostJobReconcilerOptions {
  redis: Redis;
  queue: Queue;
  store: TaskStore;
  /** @defaultValue 1000 */
  pollMs?: number;
}

/**
 * Ends tasks whose job failed outside a runner's control — above all a runner killed mid-task
 * twice (BullMQ moves the stalled job to `failed` without any runner reporting it). Such a
 * task ends `failed` with `internal` instead of staying `running` forever. Transitions are
 * idempotent, so several harness replicas may all run this.
 *
 * It polls the queue's failed set (a sorted set scored by failure time) for entries it has not
 * handled, rather than listening to BullMQ's event stream: that stream carries several events
 * for every job (added, active, completed, ...), which woke every harness several times per task
 * to find the rare failure. A failure is now noticed within `pollMs`.
 */
export class LostJobReconciler {
  readonly #redis: Redis;
  readonly #queue: Queue;
  readonly #store: TaskStore;
  readonly #timer: NodeJS.Timeout;
  /** Failed job ids already handled → their score, forgotten once behind the lookback. */
  readonly #handled = new Map<string, number>();
  #newest = 0;
  #polling: Promise<void> | null = null;
  #closed = false;

  private constructor(options: LostJobReconcilerOptions) {
    this.#redis = options.redis;
    this.#queue = options.queue;
    this.#store = options.store;
    this.#timer = setInterval(() => void this.poll().catch(() => {}), options.pollMs ?? POLL_MS);
    this.#timer.unref();
  }

  /** Starts polling, after a first pass over every failure already there. */
  static async start(options: LostJobReconcilerOptions): Promise<LostJobReconciler> {
    const reconciler = new LostJobReconciler(options);
    await reconciler.poll();
    return reconciler;
  }

  /** One pass (also run by the timer; concurrent callers share the pass in progress). */
  poll(): Promise<void> {
    this.#polling ??= this.#pass().finally(() => (this.#polling = null));
    return this.#polling;
  }

  async #pass(): Promise<void> {
    const failedKey = this.#queue.keys['failed'] as string;
    const from = this.#newest === 0 ? '-inf' : String(this.#newest - LOOKBACK_MS);
    for (let offset = 0; !this.#closed; offset += PAGE) {
      const rows = await this.#redis.zrangebyscore(failedKey, from, '+inf', 'WITHSCORES', 'LIMIT', offset, PAGE);
      for (let i = 0; i < rows.length; i += 2) {
        const jobId = rows[i] as string;
        const score = Number(rows[i + 1]);
        this.#newest = Math.max(this.#newest, score);
        if (this.#handled.has(jobId)) continue;
        const reason = await this.#redis.hget(this.#queue.toKey(jobId), 'failedReason');
        await this.#fail(jobId, reason ?? 'job failed');
        this.#handled.set(jobId, score);
      }
      if (rows.length < 2 * PAGE) break;
    }
    for (const [jobId, score] of this.#handled) {
      if (score < this.#newest - LOOKBACK_MS) this.#handled.delete(jobId);
    }
  }

  async #fail(taskId: string, reason: string): Promise<void> {
    await this.#store.transition(
      taskId,
      'failed',
      ['queued', 'running'],
      { finishedAt: new Date().toISOString() },
      { code: 'internal', message: `The task could not be run to completion: ${reason}` },
      { details: { endedBy: 'lost-job-reconciler' } },
    );
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#timer);
    await this.#polling?.catch(() => {});
  }
}
