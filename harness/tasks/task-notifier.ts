import type { Redis } from 'ioredis';
import { redisChannels } from '../../protocol/redis-keys.ts';

/**
 * Fans task-event notifications out to the requests waiting on them (POST with `wait`, SSE).
 * One subscriber connection per harness, whatever the number of waiters.
 */
export class TaskNotifier {
  readonly #subscriber: Redis;
  readonly #listeners = new Map<string, Set<() => void>>();

  private constructor(subscriber: Redis) {
    this.#subscriber = subscriber;
    subscriber.on('message', (_channel: string, taskId: string) => {
      for (const listener of this.#listeners.get(taskId) ?? []) listener();
    });
  }

  static async create(redis: Redis): Promise<TaskNotifier> {
    const subscriber = redis.duplicate({ enableOfflineQueue: true, maxRetriesPerRequest: null });
    subscriber.on('error', () => {});
    await subscriber.subscribe(redisChannels.taskEvents);
    return new TaskNotifier(subscriber);
  }

  /** Calls `listener` after each new event of the task. Returns the unsubscribe function. */
  subscribe(taskId: string, listener: () => void): () => void {
    let set = this.#listeners.get(taskId);
    if (!set) this.#listeners.set(taskId, (set = new Set()));
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0) this.#listeners.delete(taskId);
    };
  }

  async close(): Promise<void> {
    this.#subscriber.disconnect();
  }
}
