/**
 * Deletes the blobs of tasks that no longer exist: a task's files live exactly as long as its
 * record (which expires with the task's retention, protocol/task-store.ts). The record is the
 * only reference, so nothing needs counting: blobs whose task record is gone are garbage, and
 * so are those of a task that was cancelled while its files were being stored (the runner
 * deletes those itself; this catches a runner that died first).
 *
 * Any number of sweepers may run (each runner runs one): deleting is idempotent.
 */
import type { Redis } from 'ioredis';
import { redisKeys } from '../redis-keys.ts';
import type { BlobStore } from './blob-store.ts';

export interface SweepOptions {
  blobs: BlobStore;
  redis: Redis;
  /**
   * Blobs written less than this long ago are left alone, whatever Redis says (a task's record
   * exists before its runner writes blobs; this is only a margin).
   */
  minAgeMs: number;
}

/** One pass: deletes the blobs of every task whose record is gone; answers those task ids. */
export async function sweepBlobs(options: SweepOptions): Promise<string[]> {
  const deleted: string[] = [];
  const cutoff = Date.now() - options.minAgeMs;
  const batch: string[] = [];
  const flush = async () => {
    if (batch.length === 0) return;
    const pipeline = options.redis.pipeline();
    for (const id of batch) pipeline.exists(redisKeys.task(id));
    const answers = (await pipeline.exec()) ?? [];
    for (const [i, id] of batch.entries()) {
      const [err, exists] = answers[i] ?? [new Error('no answer'), 1];
      if (err || exists !== 0) continue;
      await options.blobs.deleteTask(id);
      deleted.push(id);
    }
    batch.length = 0;
  };
  for await (const { taskId, writtenAt } of options.blobs.tasks()) {
    if (writtenAt > cutoff) continue;
    batch.push(taskId);
    if (batch.length >= 100) await flush();
  }
  await flush();
  return deleted;
}

/** Runs {@link sweepBlobs} every `intervalMs` (first pass at once) until closed. */
export class BlobSweeper {
  readonly #timer: NodeJS.Timeout;
  #running: Promise<unknown> | null = null;

  constructor(options: SweepOptions & { intervalMs: number; onError?: (err: unknown) => void }) {
    const pass = () => {
      if (this.#running) return; // the last pass is still going (a large store)
      this.#running = sweepBlobs(options)
        .catch((err: unknown) => options.onError?.(err))
        .finally(() => (this.#running = null));
    };
    pass();
    this.#timer = setInterval(pass, options.intervalMs);
    this.#timer.unref();
  }

  async close(): Promise<void> {
    clearInterval(this.#timer);
    await this.#running;
  }
}
