import type { Redis } from 'ioredis';
import { redisChannels } from '../protocol/redis-keys.ts';
import { duplicateClient } from '../protocol/redis-connection.ts';

/**
 * Turns cancel messages from the harness into aborts of the tasks this runner is running.
 * One subscriber connection per runner.
 */
export class CancelListener {
  readonly #subscriber: Redis;
  readonly #running = new Map<string, AbortController>();

  private constructor(subscriber: Redis) {
    this.#subscriber = subscriber;
    subscriber.on('message', (_channel: string, taskId: string) => {
      this.#running.get(taskId)?.abort();
    });
  }

  static async create(redis: Redis): Promise<CancelListener> {
    const subscriber = duplicateClient(redis, { enableOfflineQueue: true, maxRetriesPerRequest: null });
    subscriber.on('error', () => {});
    await subscriber.subscribe(redisChannels.cancel);
    return new CancelListener(subscriber);
  }

  /** Registers a task; the returned signal aborts when the harness cancels it. */
  track(taskId: string): { signal: AbortSignal; done: () => void } {
    const controller = new AbortController();
    this.#running.set(taskId, controller);
    return { signal: controller.signal, done: () => this.#running.delete(taskId) };
  }

  async close(): Promise<void> {
    this.#subscriber.disconnect();
  }
}
