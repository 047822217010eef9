import { QueueEvents, type Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { TaskStore } from '../../protocol/task-store.ts';

/**
 * Ends tasks whose job failed outside a runner's control — above all a runner killed mid-task
 * twice (BullMQ moves the stalled job to `failed` without any runner reporting it). Such a
 * task ends `failed` with `internal` instead of staying `running` forever. Transitions are
 * idempotent, so several harness replicas may all run this.
 */
export class LostJobReconciler {
  readonly #events: QueueEvents;
  readonly #connection: Redis;

  private constructor(events: QueueEvents, connection: Redis) {
    this.#events = events;
    this.#connection = connection;
  }

  static async start(options: { redis: Redis; queue: Queue; store: TaskStore }): Promise<LostJobReconciler> {
    const { store, queue } = options;
    const fail = async (taskId: string, reason: string) => {
      await store.transition(
        taskId,
        'failed',
        ['queued', 'running'],
        { finishedAt: new Date().toISOString() },
        { code: 'internal', message: `The task could not be run to completion: ${reason}` },
      );
    };
    // BullMQ does not close connections it was handed: close() disconnects it.
    const connection = options.redis.duplicate({ enableOfflineQueue: true, maxRetriesPerRequest: null });
    const events = new QueueEvents(queue.name, { connection });
    events.on('error', () => {});
    events.on('failed', ({ jobId, failedReason }) => {
      void fail(jobId, failedReason).catch(() => {});
    });
    await events.waitUntilReady();
    // Failures that happened while no harness was listening.
    for (const job of await queue.getFailed(0, 1000)) {
      if (job.id) await fail(job.id, job.failedReason ?? 'job failed');
    }
    return new LostJobReconciler(events, connection);
  }

  async close(): Promise<void> {
    await this.#events.close();
    this.#connection.disconnect();
  }
}
