/**
 * The task store's runner-facing steps on a real Redis: taking a task (`start`), the
 * notifications every event publishes, and a forged job (another tenant's task id) refused by a
 * real runner without touching that task.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import type { JobPayload } from '../../protocol/job.ts';
import { redisChannels } from '../../protocol/redis-keys.ts';
import { TaskStore, parseTaskNotification } from '../../protocol/task-store.ts';
import { REDIS_URL, startStack, type Stack } from '../helpers/stack.ts';
import { queuedTaskRecord } from '../helpers/task-record.ts';

const redis = new Redis(REDIS_URL);
const store = new TaskStore({ redis, retentionMs: 60_000 });

/** Messages published for `taskId` while `fn` runs. */
async function notificationsDuring(taskId: string, fn: () => Promise<void>): Promise<string[]> {
  const sub = redis.duplicate();
  const seen: string[] = [];
  sub.on('message', (_channel: string, message: string) => {
    if (parseTaskNotification(message).taskId === taskId) seen.push(message);
  });
  await sub.subscribe(redisChannels.taskEvents);
  try {
    await fn();
    // Messages arrive in publish order: once this one is in, every earlier one is too.
    const sentinel = `sentinel-${randomUUID()}`;
    const arrived = new Promise<void>((resolve) => {
      sub.on('message', (_c: string, m: string) => m === sentinel && resolve());
    });
    await redis.publish(redisChannels.taskEvents, sentinel);
    await arrived;
  } finally {
    sub.disconnect();
  }
  return seen;
}

after(() => redis.disconnect());

describe('TaskStore.start', () => {
  test('moves a queued task to running, counts the attempt, appends the event and notifies with the status', async () => {
    const task = queuedTaskRecord();
    await store.create(task);
    let res: Awaited<ReturnType<TaskStore['start']>> | undefined;
    const seen = await notificationsDuring(task.id, async () => {
      res = await store.start(task.id, task);
    });
    assert.deepEqual(res, { outcome: 'started', attempts: 1, outputOffsets: { stdout: 0, stderr: 0 } });
    const after = await store.get(task.id);
    assert.equal(after?.status, 'running');
    assert.equal(after?.attempts, 1);
    assert.ok(after?.startedAt && Date.parse(after.startedAt) > 0);
    const events = (await store.readEvents(task.id)).map((e) => e.event);
    assert.deepEqual(events.map((e) => e.type === 'status' && e.status), ['queued', 'running']);
    assert.deepEqual(seen, [`${task.id} running`]);
    assert.deepEqual(parseTaskNotification(seen[0] as string), { taskId: task.id, what: 'running' });
  });

  test('a retried job (task still running after its runner died) starts again as attempt 2', async () => {
    const task = queuedTaskRecord();
    await store.create(task);
    assert.equal((await store.start(task.id, task)).outcome, 'started');
    assert.deepEqual(await store.start(task.id, task), {
      outcome: 'started',
      attempts: 2,
      outputOffsets: { stdout: 0, stderr: 0 },
    });
  });

  test("a retried attempt's output goes after the lost attempt's: the stream keeps both, the result only its own", async () => {
    const task = queuedTaskRecord();
    await store.create(task);
    await store.start(task.id, task);
    assert.ok(await store.appendOutput(task.id, 'stdout', 'lost attempt\n', 0));
    const retry = await store.start(task.id, task);
    assert.deepEqual(retry, { outcome: 'started', attempts: 2, outputOffsets: { stdout: 13, stderr: 0 } });
    assert.ok(await store.appendOutput(task.id, 'stdout', 'second\n', 13));
    const result = { value: null, stdoutTruncated: false, stderrTruncated: false };
    assert.ok(await store.transition(task.id, 'succeeded', ['running'], { result }));
    assert.equal((await store.get(task.id))?.result?.stdout, 'second\n');
    const output = (await store.readEvents(task.id)).flatMap((e) => (e.event.type === 'output' ? [e.event.data] : []));
    assert.deepEqual(output, ['lost attempt\n', 'second\n']);
  });

  test('a terminal or missing task is gone: nothing changes', async () => {
    const task = queuedTaskRecord();
    await store.create(task);
    assert.ok(await store.transition(task.id, 'cancelled', ['queued'], {}, { code: 'cancelled', message: 'x' }));
    assert.deepEqual(await store.start(task.id, task), { outcome: 'gone' });
    assert.equal((await store.get(task.id))?.status, 'cancelled');
    assert.equal((await store.readEvents(task.id)).length, 2);
    assert.deepEqual(await store.start(randomUUID(), task), { outcome: 'gone' });
  });

  test('a job naming another tenant or agent is a mismatch: nothing changes', async () => {
    const task = queuedTaskRecord('acme', 'alice');
    await store.create(task);
    assert.deepEqual(await store.start(task.id, { tenantId: 'globex', agentId: 'alice' }), { outcome: 'mismatch' });
    assert.deepEqual(await store.start(task.id, { tenantId: 'acme', agentId: 'bob' }), { outcome: 'mismatch' });
    const after = await store.get(task.id);
    assert.equal(after?.status, 'queued');
    assert.equal(after?.attempts, 0);
    assert.equal((await store.readEvents(task.id)).length, 1);
  });
});

describe('notifications', () => {
  test('status changes name the status; output says output; a bare id says nothing', async () => {
    const task = queuedTaskRecord();
    await store.create(task);
    const seen = await notificationsDuring(task.id, async () => {
      await store.start(task.id, task);
      await store.appendOutput(task.id, 'stdout', 'hi');
      await store.transition(task.id, 'succeeded', ['running']);
    });
    assert.deepEqual(
      seen.map((m) => parseTaskNotification(m).what),
      ['running', 'output', 'succeeded'],
    );
    assert.deepEqual(parseTaskNotification(task.id), { taskId: task.id, what: null });
    assert.deepEqual(parseTaskNotification(`${task.id} bogus`), { taskId: task.id, what: null });
  });
});

describe('a forged job', () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack();
  });
  after(async () => {
    await stack.close();
  });

  test("a job carrying another tenant's task id is refused by the runner and the task never runs", async () => {
    // eve's task, queued but held back: the forged job names it with alice's tenant and agent.
    const victim = queuedTaskRecord('globex', 'eve');
    await stack.deps.store.create(victim);
    const forged: JobPayload = {
      version: 'v1',
      taskId: victim.id,
      tenantId: 'acme',
      agentId: 'alice',
      runtime: 'javascript',
      code: '"stolen"',
      limits: victim.limits,
    };
    const connection = redis.duplicate();
    const queue = new Queue(stack.queueName, { connection });
    try {
      const job = await queue.add('run', forged, { jobId: randomUUID(), attempts: 1 });
      const deadline = Date.now() + 20_000;
      let state = await job.getState();
      while (state !== 'failed' && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 50));
        state = await job.getState();
      }
      assert.equal(state, 'failed', 'the runner refuses the job');
      const refreshed = await queue.getJob(job.id as string);
      assert.match(refreshed?.failedReason ?? '', /does not match its task/);
      const after = await stack.deps.store.get(victim.id);
      assert.equal(after?.status, 'queued');
      assert.equal(after?.attempts, 0);
      assert.equal(after?.result, undefined);
    } finally {
      await queue.close();
      connection.disconnect();
    }
  });
});
