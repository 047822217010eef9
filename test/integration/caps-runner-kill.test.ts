/**
 * A runner SIGKILLed after its task made capability calls and before the task ended: the task is
 * retried on another runner, whose attempt makes the same calls with the same seq and the same
 * exactly-once key (task, seq, name, input hash), under a new token of its own. Real runner
 * processes (`node runner/worker.ts`, killed with real signals, process group included), real
 * Redis and BullMQ stall recovery, the real harness app (`inject`), and a REAL HTTP server on
 * loopback playing the broker (test/helpers/broker-fixture.ts, token checked with the real
 * `checkBrokerToken`). That the broker then answers the repeated calls from its records is the
 * harness side's job (issue 10, broker); here: the runner gives it what it needs.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import { Redis } from 'ioredis';
import { checkBrokerToken } from '../../protocol/broker-token.ts';
import { startBrokerFixture, type BrokerFixture } from '../helpers/broker-fixture.ts';
import { finished, queueCapsTask } from '../helpers/caps-task.ts';
import { REDIS_URL, startStack, type Stack } from '../helpers/stack.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

let stack: Stack;
let redis: Redis;
let broker: BrokerFixture;
const runners: { child: ChildProcess; exited: Promise<unknown>; log: () => string }[] = [];

before(async () => {
  redis = new Redis(REDIS_URL);
  broker = await startBrokerFixture(redis, {
    'payments.refund': (c) => ({ ok: true, output: { refunded: (c.input as { amount: number }).amount } }),
    // The first attempt's third call never comes back: the runner dies while it waits.
    'approvals.wait': (c) => (c.attempt === 1 ? 'hang' : { ok: true, output: 'approved' }),
  });
  stack = await startStack({ runner: false });
});
after(async () => {
  for (const r of runners) kill(r.child);
  await Promise.all(runners.map((r) => r.exited));
  await stack.close();
  await broker.close();
  redis.disconnect();
});

function kill(child: ChildProcess): void {
  try {
    process.kill(-child.pid!, 'SIGKILL');
  } catch {
    // gone already
  }
}

async function spawnRunner(): Promise<(typeof runners)[number]> {
  const id = `caps-kill-${randomUUID()}`;
  const child = spawn(process.execPath, ['--no-node-snapshot', '--import', 'tsx', 'runner/worker.ts'], {
    cwd: ROOT,
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
      BROKER_URL: broker.url,
    },
  });
  let log = '';
  const exited = new Promise((resolve) => child.on('exit', resolve));
  const runner = { child, exited, log: () => log };
  runners.push(runner);
  await new Promise<void>((resolve, reject) => {
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (chunk: string) => {
      log += chunk;
      if (log.includes(`"runnerId":"${id}","msg":"ready (`)) resolve();
    });
    void exited.then(() => reject(new Error(`runner exited before ready:\n${log}`)));
  });
  return runner;
}

test('a runner killed between calls: the retried attempt re-sends the same calls with the same seq and key, under its own token', { timeout: 90_000 }, async () => {
  const first = await spawnRunner();
  const { id } = await queueCapsTask(
    stack,
    'javascript',
    `const a = await caps.payments.refund({ amount: 5 });
     const b = await caps.payments.refund({ amount: 7 });
     const c = await caps.approvals.wait({ of: [a, b] });
     ({ a, b, c })`,
    ['payments.refund', 'approvals.wait'],
    { timeoutMs: 60_000 },
  );
  const attempt = (n: number) => broker.calls.filter((c) => c.taskId === id && c.attempt === n);
  await broker.waitFor(() => attempt(1).length === 3, 'the first attempt to reach its third call', 30_000);
  kill(first.child);
  await first.exited;

  const second = await spawnRunner();
  const task = await finished(stack, id, 60_000);
  assert.equal(task.status, 'succeeded', `${JSON.stringify(task)}\n${second.log()}`);
  assert.deepEqual((task['result'] as { value: unknown }).value, {
    a: { refunded: 5 },
    b: { refunded: 7 },
    c: 'approved',
  });
  const one = attempt(1);
  const two = attempt(2);
  assert.deepEqual(
    two.map((c) => [c.seq, c.name]),
    [
      [0, 'payments.refund'],
      [1, 'payments.refund'],
      [2, 'approvals.wait'],
    ],
  );
  assert.deepEqual(
    two.map((c) => c.key),
    one.map((c) => c.key),
    'the same exactly-once keys, position by position',
  );
  assert.equal(new Set(one.map((c) => c.token)).size, 1);
  assert.equal(new Set(two.map((c) => c.token)).size, 1);
  assert.notEqual(one[0]!.token, two[0]!.token, 'each attempt has its own token');
  assert.deepEqual(await checkBrokerToken(redis, id, 1, one[0]!.token), { ok: false, reason: 'not_live' });
  assert.deepEqual(broker.refused, [], 'every call carried its live attempt token');
});
