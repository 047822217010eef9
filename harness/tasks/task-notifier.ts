import type { Redis } from 'ioredis';
import { redisChannels } from '../../protocol/redis-keys.ts';
import type { TaskStatus } from '../../protocol/task.ts';
import { parseTaskNotification } from '../../protocol/task-store.ts';
import { duplicateClient } from '../../protocol/redis-connection.ts';

/**
 * Called after each new event of a task: with the new status, `output`, or null when the
 * message did not say (assume anything changed).
 */
export type TaskListener = (what: TaskStatus | 'output' | null) => void;

/**
 * Fans task-event notifications out to the requests waiting on them (POST with `wait`, SSE).
 * One subscriber connection per harness, whatever the number of waiters.
 */
export class TaskNotifier {
  readonly #subscriber: Redis;
  readonly #listeners = new Map<string, Set<TaskListener>>();
  readonly #everyTask = new Set<(taskId: string, what: TaskStatus | 'output' | null) => void>();

  private constructor(subscriber: Redis) {
    this.#subscriber = subscriber;
    subscriber.on('message', (_channel: string, message: string) => {
      const { taskId, what } = parseTaskNotification(message);
      for (const listener of this.#listeners.get(taskId) ?? []) listener(what);
      for (const listener of this.#everyTask) listener(taskId, what);
    });
  }

  static async create(redis: Redis): Promise<TaskNotifier> {
    const subscriber = duplicateClient(redis, { enableOfflineQueue: true, maxRetriesPerRequest: null });
    subscriber.on('error', () => {});
    await subscriber.subscribe(redisChannels.taskEvents);
    return new TaskNotifier(subscriber);
  }

  /** Calls `listener` after each new event of the task. Returns the unsubscribe function. */
  subscribe(taskId: string, listener: TaskListener): () => void {
    let set = this.#listeners.get(taskId);
    if (!set) this.#listeners.set(taskId, (set = new Set()));
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0) this.#listeners.delete(taskId);
    };
  }

  /** Calls `listener` after each new event of every task (webhook dispatch). Returns the unsubscribe function. */
  subscribeAll(listener: (taskId: string, what: TaskStatus | 'output' | null) => void): () => void {
    this.#everyTask.add(listener);
    return () => this.#everyTask.delete(listener);
  }

  async close(): Promise<void> {
    this.#subscriber.disconnect();
  }
}

/**
 * Collects the notifications of one task from the moment it is made, so a request can start
 * listening before the task exists and miss none of its events.
 */
export class TaskWatch {
  readonly #pending: (TaskStatus | 'output' | null)[] = [];
  readonly #unsubscribe: () => void;
  #wake: (() => void) | null = null;

  constructor(notifier: TaskNotifier, taskId: string) {
    this.#unsubscribe = notifier.subscribe(taskId, (what) => {
      this.#pending.push(what);
      this.#wake?.();
    });
  }

  /** What was notified since the last call, waiting up to `ms` for something when nothing was. */
  async next(ms: number): Promise<(TaskStatus | 'output' | null)[]> {
    if (this.#pending.length === 0 && ms > 0) {
      let timer: NodeJS.Timeout | undefined;
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
        timer = setTimeout(resolve, ms);
      });
      clearTimeout(timer);
      this.#wake = null;
    }
    return this.#pending.splice(0);
  }

  close(): void {
    this.#unsubscribe();
    this.#wake?.();
  }
}
