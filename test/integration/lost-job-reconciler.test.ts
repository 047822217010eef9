/**
 * The lost-job reconciler on real Redis and real BullMQ: jobs failed outside any runner's
 * report (here: a worker whose processor throws, as the stalled check does for a runner killed
 * twice) end their task `failed` / `internal`, whether they failed before the reconciler started
 * or while it runs, and a task that already ended is never touched.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import { Queue, UnrecoverableError, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { LostJobReconciler } from '../../harness/tasks/lost-job-reconciler.ts';
import { TaskStore, type TaskRecord } from '../../protocol/task-store.ts';
import { REDIS_URL } from '../helpers/stack.ts';
import { queuedTaskRecord } from '../helpers/task-record.ts';

const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
const store = new TaskStore({ redis, retentionMs: 60_000 });
const queueName = `test-reconciler-${randomUUID()}`;
// BullMQ does not close connections it is handed: kept to disconnect at the end.
const queueConnection = redis.duplicate();
const workerConnection = redis.duplicate({ maxRetriesPerRequest: null });
const queue = new Queue(queueName, { connection: queueConnection });
let worker: Worker;

before(async () => {
  worker = new Worker(
    queueName,
    async (): Promise<void> => {
      throw new UnrecoverableError('the runner lost this job');
    },
    { connection: workerConnection },
  );
  worker.on('error', () => {});
  await worker.waitUntilReady();
});

after(async () => {
  await worker.close();
  await queue.obliterate({ force: true });
  await queue.close();
  queueConnection.disconnect();
  workerConnection.disconnect();
  redis.disconnect();
});

async function queuedTask(): Promise<TaskRecord> {
  const task = queuedTaskRecord();
  await store.create(task);
  return task;
}

/** Adds the task's job and resolves once BullMQ has moved it to `failed`. */
async function failJob(taskId: string): Promise<void> {
  const job = await queue.add('run', { taskId }, { jobId: taskId, attempts: 1 });
  const deadline = Date.now() + 10_000;
  while ((await job.getState()) !== 'failed') {
    if (Date.now() > deadline) throw new Error('the job did not fail');
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function until(what: string, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('failures from before the start and while running end their tasks failed/internal; ended tasks stay', async () => {
  const before = await queuedTask();
  await failJob(before.id);
  const finished = await queuedTask();
  assert.ok(await store.transition(finished.id, 'running', ['queued']));
  assert.ok(await store.transition(finished.id, 'succeeded', ['running']));
  await failJob(finished.id);

  const reconciler = await LostJobReconciler.start({ redis, queue, store, pollMs: 50 });
  try {
    // The first pass ran inside start().
    const early = await store.get(before.id);
    assert.equal(early?.status, 'failed');
    assert.equal(early?.error?.code, 'internal');
    assert.match(early?.error?.message ?? '', /the runner lost this job/);
    assert.equal((await store.get(finished.id))?.status, 'succeeded', 'a task that ended is never changed');

    const later = await queuedTask();
    assert.ok(await store.transition(later.id, 'running', ['queued']));
    await failJob(later.id);
    await until('the later failure to be reconciled', async () => (await store.get(later.id))?.status === 'failed');
    assert.equal((await store.get(later.id))?.error?.code, 'internal');
  } finally {
    await reconciler.close();
  }
});

test('a failure scored behind the newest one seen (a runner whose clock is behind) is still found', async () => {
  const reconciler = await LostJobReconciler.start({ redis, queue, store, pollMs: 60_000 });
  try {
    const newer = await queuedTask();
    await failJob(newer.id);
    await reconciler.poll();
    assert.equal((await store.get(newer.id))?.status, 'failed');
    // Re-score a fresh failure 30 s into the past, as a worker with a slow clock would write it.
    const skewed = await queuedTask();
    await failJob(skewed.id);
    await redis.zadd(queue.keys['failed'] as string, Date.now() - 30_000, skewed.id);
    await reconciler.poll();
    assert.equal((await store.get(skewed.id))?.status, 'failed');
  } finally {
    await reconciler.close();
  }
});
