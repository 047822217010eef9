import type { Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { redisKeys } from '../protocol/redis-keys.ts';
import { RUNNER_STATUS_TTL_MS, type RunnerStatus } from '../protocol/runner-status.ts';

/** Whether a backend can take tasks now, and why not. */
export interface BackendState {
  ready: boolean;
  reason?: string;
}

/**
 * A runner's readiness: the state of each backend it started, published with every heartbeat
 * (protocol/runner-status.ts) so the harness's /readyz can say which backend is not ready and
 * why; and each backend's BullMQ worker takes jobs only while its backend is ready, so a task it
 * could not run stays queued (for another runner, or until this one recovers) instead of
 * waiting here as `running`.
 */
export class RunnerReadiness {
  readonly #redis: Redis;
  readonly #runnerId: string;
  readonly #backends = new Map<string, BackendState>();
  readonly #workers = new Map<string, { worker: Worker; taking: boolean | null }>();

  constructor(redis: Redis, runnerId: string) {
    this.#redis = redis;
    this.#runnerId = runnerId;
  }

  /** Records a backend's state (and starts or pauses its worker, once attached, to match). */
  set(kind: string, state: BackendState): void {
    this.#backends.set(kind, state);
    this.#apply(kind);
  }

  /**
   * Hands over a backend's worker, made with `autorun: false`: it starts taking jobs once the
   * backend is ready (a backend whose state was never set counts as ready).
   */
  attach(kind: string, worker: Worker): void {
    if (!this.#backends.has(kind)) this.#backends.set(kind, { ready: true });
    this.#workers.set(kind, { worker, taking: null });
    this.#apply(kind);
  }

  /** The backends that are not ready, as `<kind>: <reason>` (empty when all are). */
  unready(): string[] {
    return [...this.#backends].flatMap(([kind, s]) => (s.ready ? [] : [`${kind}: ${s.reason ?? 'not ready'}`]));
  }

  /** Writes the status (with every heartbeat). Never throws: a missed write is retried next beat. */
  async publish(): Promise<void> {
    const status: RunnerStatus = { version: 'v1', backends: Object.fromEntries(this.#backends) };
    await this.#redis
      .set(redisKeys.runnerStatus(this.#runnerId), JSON.stringify(status), 'PX', RUNNER_STATUS_TTL_MS)
      .catch(() => undefined);
  }

  /** Removes the status (on close, with the heartbeat). */
  async withdraw(): Promise<void> {
    await this.#redis.del(redisKeys.runnerStatus(this.#runnerId)).catch(() => undefined);
  }

  #apply(kind: string): void {
    const entry = this.#workers.get(kind);
    const ready = this.#backends.get(kind)?.ready ?? true;
    if (!entry || entry.taking === ready) return;
    entry.taking = ready;
    // resume() also starts a worker that never ran (or whose loop ended while paused); a pause
    // does not wait for the jobs it is running: they finish on their own.
    if (ready) void entry.worker.resume();
    else void entry.worker.pause(true).catch(() => undefined);
  }
}
