/**
 * Wakes the broker's calls waiting for a decision: one subscriber connection per broker on
 * APPROVALS_CHANNEL (`<approval id> <status>`), fanned out to the waiters of each id. A waiter
 * always re-reads the request after waking (the message only says "look again"), so a message
 * lost while the connection was down costs at most one wait period, never a wrong answer.
 */
import type { Redis } from 'ioredis';
import { APPROVALS_CHANNEL } from '../../protocol/approval.ts';

export class ApprovalWaiter {
  readonly #subscriber: Redis;
  readonly #waiters = new Map<string, Set<() => void>>();

  private constructor(subscriber: Redis) {
    this.#subscriber = subscriber;
    subscriber.on('message', (_channel: string, message: string) => {
      const id = message.split(' ', 1)[0] ?? '';
      for (const wake of this.#waiters.get(id) ?? []) wake();
    });
  }

  static async create(redis: Redis): Promise<ApprovalWaiter> {
    const subscriber = redis.duplicate({ enableOfflineQueue: true, maxRetriesPerRequest: null });
    subscriber.on('error', () => {});
    await subscriber.subscribe(APPROVALS_CHANNEL);
    return new ApprovalWaiter(subscriber);
  }

  /**
   * `done` resolves when the request `id` is settled, after `ms`, or when `signal` aborts —
   * whichever first; `cancel` resolves it now. Register before reading the request, so a
   * decision made in between is not missed.
   */
  wait(id: string, ms: number, signal: AbortSignal): { done: Promise<void>; cancel: () => void } {
    let cancel: () => void = () => {};
    const done = new Promise<void>((resolve) => {
      let set = this.#waiters.get(id);
      if (!set) this.#waiters.set(id, (set = new Set()));
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        set.delete(done);
        if (set.size === 0) this.#waiters.delete(id);
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, ms));
      set.add(done);
      cancel = done;
      if (signal.aborted) done();
      else signal.addEventListener('abort', done, { once: true });
    });
    return { done, cancel };
  }

  /** Approval requests calls here wait on now (metrics). */
  get waiting(): number {
    return this.#waiters.size;
  }

  async close(): Promise<void> {
    this.#subscriber.disconnect();
  }
}
