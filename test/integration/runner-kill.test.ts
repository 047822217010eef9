/**
 * Runner crashes and graceful stops with REAL runner processes: each runner is spawned as
 * `node --no-node-snapshot --import tsx runner/worker.ts` (own process group, with its isolate
 * host child processes) and killed with real signals. The harness is the real app (`inject`)
 * with its lost-job reconciler, on real Redis and real BullMQ. The runners listen on this
 * stack's own queue (AIRLOCK_TASK_QUEUE), so no other test's runner can take these tasks.
 * Short locks (RUNNER_LOCK_MS=1000, stall check every 500 ms) make BullMQ notice a dead runner
 * quickly; with maxStalledCount 1 a task is retried once, then fails `internal`.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { pollTask, REDIS_URL, startStack, TERMINAL, type Stack } from '../helpers/stack.ts';
import { runAgents } from '../helpers/run-agents.ts';
import type { TaskEvent } from '../../protocol/task.ts';
import { auditShard, auditStreamKey } from '../../protocol/redis-keys.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

interface SpawnedRunner {
  id: string;
  child: ChildProcess;
  /** Resolves with how the runner process ended. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Set once the runner process has exited. */
  gone: boolean;
  log: () => string;
}

let stack: Stack;
const spawned: SpawnedRunner[] = [];

before(async () => {
  const agents = await runAgents();
  stack = await startStack({ runner: false, harnessEnv: agents.harnessEnv });
});
after(async () => {
  for (const runner of spawned) killGroup(runner, 'SIGKILL');
  await Promise.all(spawned.map((r) => r.exited));
  await stack.close();
});

/** Starts a runner process on this stack's queue and resolves once it says it is ready. */
async function spawnRunner(): Promise<SpawnedRunner> {
  const id = `kill-test-${randomUUID()}`;
  const child = spawn(
    process.execPath,
    ['--no-node-snapshot', '--import', 'tsx', 'runner/worker.ts'],
    {
      cwd: ROOT,
      // Its own process group: killing -pid takes the runner and its isolate hosts down together.
      detached: true,
      stdio: ['ignore', 'ignore', 'pipe'],
      env: {
        PATH: process.env['PATH'] ?? '/usr/bin:/bin',
        REDIS_URL,
        ISOLATE_HOSTS: '1',
        RUNNER_LOCK_MS: '1000',
        RUNNER_STALLED_CHECK_MS: '500',
        RUNNER_ID: id,
        RUNNER_BACKENDS: 'isolate',
        AIRLOCK_TASK_QUEUE: stack.queueName,
        LOG_LEVEL: 'info',
      },
    },
  );
  let log = '';
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  const runner: SpawnedRunner = { id, child, exited, gone: false, log: () => log };
  void exited.then(() => (runner.gone = true));
  spawned.push(runner);
  await new Promise<void>((resolve, reject) => {
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (chunk: string) => {
      log += chunk;
      if (log.includes(`"runnerId":"${id}","msg":"ready (`)) resolve();
    });
    void exited.then(({ code, signal }) =>
      reject(new Error(`runner exited (${code ?? signal}) before ready:\n${log}`)),
    );
  });
  return runner;
}

/**
 * Runs one test's body, then SIGKILLs every runner it started (a runner left alive would take
 * the next test's tasks) and waits until they are gone.
 */
async function withCleanup(body: () => Promise<void>): Promise<void> {
  const already = spawned.length;
  try {
    await body();
  } finally {
    const mine = spawned.slice(already);
    for (const runner of mine) killGroup(runner, 'SIGKILL');
    await Promise.all(mine.map((r) => r.exited));
  }
}

/** Signals the runner's process group (the runner and its isolate hosts) while it lives. */
function killGroup(runner: SpawnedRunner, signal: NodeJS.Signals): void {
  if (runner.gone) return;
  try {
    process.kill(-runner.child.pid!, signal);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
}

/** SIGKILLs the runner and its isolate hosts and waits until the runner is gone. */
async function crash(runner: SpawnedRunner): Promise<void> {
  killGroup(runner, 'SIGKILL');
  assert.deepEqual(await runner.exited, { code: null, signal: 'SIGKILL' });
}

async function submit(code: string, timeoutMs = 60_000): Promise<string> {
  const res = await stack.app.inject({
    method: 'POST',
    url: '/v1/tasks',
    headers: stack.headers('alice'),
    payload: { runtime: 'javascript', code, timeoutMs },
  });
  assert.equal(res.statusCode, 201, res.body);
  return res.json().id;
}

/** Waits until the task record says `running` in its `attempt`-th run. */
async function waitForAttempt(id: string, attempt: number): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const task = await stack.deps.store.get(id);
    assert.ok(task, 'task exists');
    assert.ok(!TERMINAL.has(task.status), `task ended early: ${JSON.stringify(task)}`);
    if (task.status === 'running' && task.attempts === attempt) return;
    assert.ok(Date.now() < deadline, `attempt ${attempt} did not start within 30 s: ${JSON.stringify(task)}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

async function statusEvents(id: string): Promise<string[]> {
  const events = await stack.deps.store.readEvents(id);
  return events
    .map((e) => e.event)
    .filter((e): e is Extract<TaskEvent, { type: 'status' }> => e.type === 'status')
    .map((e) => e.status);
}

/** The task's audit entries as the transport stream holds them (no sealer runs here): action and details. */
async function auditTrail(id: string): Promise<{ action: string; details: Record<string, unknown> }[]> {
  const rows = await stack.deps.redis.xrange(auditStreamKey(auditShard(id)), '-', '+');
  return rows
    .map(([, f]) => f[f.indexOf('e') + 1])
    .filter((e): e is string => e !== undefined && e.includes(`"taskId":"${id}"`))
    .map((e) => JSON.parse(e) as { action: string; details: Record<string, unknown> });
}

describe('a runner killed mid-task', () => {
  test(
    'SIGKILL once: the task is retried on another runner and succeeds (attempts 2)',
    { timeout: 60_000 },
    () =>
      withCleanup(async () => {
        const first = await spawnRunner();
        const id = await submit('const t = Date.now(); while (Date.now() - t < 4000) {}; "done"');
        await waitForAttempt(id, 1);
        const job = await stack.deps.queue.getJob(id);
        assert.equal(job?.processedBy, first.id);

        await crash(first);
        // The record still says running: nobody told it otherwise.
        assert.equal((await stack.deps.store.get(id))?.status, 'running');

        const second = await spawnRunner();
        const done = await pollTask(stack, id, (t) => TERMINAL.has(t.status), 'alice', 30_000);
        assert.equal(done.status, 'succeeded', `${JSON.stringify(done)}\n${second.log()}`);
        assert.equal((done['result'] as { value: unknown }).value, 'done');
        assert.equal(done['error'], undefined);
        assert.equal('attempts' in done, false, 'the API view does not show attempts');
        const record = await stack.deps.store.get(id);
        assert.equal(record?.attempts, 2);
        assert.deepEqual(await statusEvents(id), ['queued', 'running', 'running', 'succeeded']);
        // The audit trail: the second start is a retry, each names its runner and attempt.
        const trail = await auditTrail(id);
        assert.deepEqual(trail.map((e) => e.action), ['task.created', 'task.started', 'task.retried', 'task.succeeded']);
        assert.deepEqual([trail[1]?.details['runnerId'], trail[1]?.details['attempt']], [first.id, 1]);
        assert.deepEqual([trail[2]?.details['runnerId'], trail[2]?.details['attempt']], [second.id, 2]);
      }),
  );

  test(
    'SIGKILL twice: the task ends failed with error.code "internal", never stuck running',
    { timeout: 60_000 },
    () =>
      withCleanup(async () => {
        // Three idle runners: whichever takes the task is killed, twice; the last one is left.
        const runners = await Promise.all([spawnRunner(), spawnRunner(), spawnRunner()]);
        const taker = async () => {
          const job = await stack.deps.queue.getJob(id);
          const runner = runners.find((r) => r.id === job?.processedBy);
          assert.ok(runner, `processed by one of ours: ${job?.processedBy}`);
          return runner;
        };
        // Long enough that it cannot finish on its own during the test.
        const id = await submit('while (true) {}', 120_000);
        await waitForAttempt(id, 1);
        const first = await taker();
        await crash(first);
        await waitForAttempt(id, 2);
        const second = await taker();
        assert.notEqual(second, first);
        await crash(second);
        const third = runners.find((r) => r !== first && r !== second)!;
        const ended = await pollTask(stack, id, (t) => TERMINAL.has(t.status), 'alice', 30_000);
        assert.equal(ended.status, 'failed', `${JSON.stringify(ended)}\n${third.log()}`);
        const error = ended['error'] as { code: string; message: string };
        assert.equal(error.code, 'internal');
        assert.equal(
          error.message,
          'The task could not be run to completion: job stalled more than allowable limit',
        );
        assert.equal(typeof ended['finishedAt'], 'string');
        assert.equal(ended['result'], undefined);
        // The third runner never ran it: the job failed without a third attempt.
        assert.equal((await stack.deps.store.get(id))?.attempts, 2);
        assert.deepEqual(await statusEvents(id), ['queued', 'running', 'running', 'failed']);
        const trail = await auditTrail(id);
        assert.deepEqual(trail.map((e) => e.action), ['task.created', 'task.started', 'task.retried', 'task.failed']);
        assert.deepEqual(trail[3]?.details['error'], { code: 'internal' });
        assert.equal(trail[3]?.details['endedBy'], 'lost-job-reconciler');
        const job = await stack.deps.queue.getJob(id);
        assert.equal(await job?.getState(), 'failed');
        assert.equal(job?.failedReason, 'job stalled more than allowable limit');
        assert.equal(job?.processedBy, third.id, 'the surviving runner failed it');
      }),
  );
});

describe('a runner stopped with SIGTERM', () => {
  test('finishes its running task, then exits 0', { timeout: 60_000 }, () =>
    withCleanup(async () => {
      const runner = await spawnRunner();
      const id = await submit(
        'const t = Date.now(); while (Date.now() - t < 1500) {}; console.log("finished"); "graceful"',
      );
      await waitForAttempt(id, 1);
      // Only the runner process: a supervisor stops the runner, which then stops its hosts.
      process.kill(runner.child.pid!, 'SIGTERM');
      assert.deepEqual(await runner.exited, { code: 0, signal: null }, runner.log());
      assert.match(runner.log(), /SIGTERM: finishing running tasks, then exiting/);

      const task = await stack.deps.store.get(id);
      assert.equal(task?.status, 'succeeded', JSON.stringify(task));
      assert.equal(task?.result?.value, 'graceful');
      assert.equal(task?.result?.stdout, 'finished\n');
      assert.equal(task?.attempts, 1);
      // BullMQ recorded the completion too (completed jobs are removed), so nobody retries it.
      assert.equal(await stack.deps.queue.getJob(id), undefined);
      assert.deepEqual(await stack.deps.queue.getJobCounts('active', 'wait'), {
        active: 0,
        wait: 0,
      });
    }),
  );
});
