/**
 * Accepted means durable (README, "Durability"): with Redis' append-only file fsynced on every
 * write (`appendfsync always`), every task that got a 201 survives Redis being SIGKILLed and
 * restarted on the same data, reaches a terminal state, and runs once.
 *
 * Real parts only: a private redis-server of this test (AOF in a temporary directory), the real
 * harness app (through `inject`) and a real in-process runner with isolate hosts. Clients keep
 * submitting while Redis is killed; each retries its own request (same Idempotency-Key) on a
 * 503 or 409 as a client should, so every submission ends with a 201 once Redis is back.
 *
 * The control case runs the same with persistence off: tasks that were answered 201 are gone
 * after the restart — the check below does see a loss when there is one.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, test } from 'node:test';
import { TERMINAL_STATUSES } from '../../protocol/task.ts';
import { startRedisServer, type RedisServerFixture } from '../helpers/redis-server.ts';
import { startStack, type Stack } from '../helpers/stack.ts';

/** Concurrent submitting clients. */
const CLIENTS = 6;
/** Tasks answered 201 before Redis is killed, and after it is back. */
const BEFORE_KILL = 60;
const AFTER_RESTART = 30;

interface Submission {
  key: string;
  /** Task id of the 201 (set once answered). */
  id?: string;
  /** Statuses of every answer, in order (e.g. 503, 503, 201). */
  answers: number[];
}

async function submitUntilAccepted(stack: Stack, sub: Submission, deadline: number): Promise<void> {
  for (;;) {
    const res = await stack.app.inject({
      method: 'POST',
      url: '/v1/tasks',
      headers: stack.headers('alice', sub.key),
      payload: { runtime: 'javascript', code: 'console.log("ran"); 1+1' },
    });
    sub.answers.push(res.statusCode);
    if (res.statusCode === 201) {
      sub.id = res.json().id;
      return;
    }
    // Only "retry later" answers while Redis is down or the key's first request is unsettled.
    assert.ok([503, 409].includes(res.statusCode), `unexpected ${res.statusCode}: ${res.body}`);
    if (Date.now() > deadline) throw new Error(`no 201 for ${sub.key} before the deadline: ${sub.answers.join(',')}`);
    await sleep(50);
  }
}

/**
 * Clients submit tasks; after BEFORE_KILL 201s Redis is SIGKILLed, restarted on the same port and
 * directory, and the clients go on until AFTER_RESTART more were accepted. Returns every
 * submission that got a 201 before the kill, and all of them.
 */
async function submitThroughKill(stack: Stack, restart: () => Promise<void>): Promise<{ beforeKill: Submission[]; all: Submission[] }> {
  const all: Submission[] = [];
  let accepted = 0;
  let phase: 'before' | 'killing' | 'after' = 'before';
  let acceptedAfter = 0;
  const deadline = Date.now() + 90_000;
  const beforeKill: Submission[] = [];
  const client = async () => {
    while (phase !== 'after' || acceptedAfter < AFTER_RESTART) {
      const sub: Submission = { key: randomUUID(), answers: [] };
      all.push(sub);
      const startedIn = phase;
      await submitUntilAccepted(stack, sub, deadline);
      accepted++;
      if (startedIn === 'before' && phase === 'before') beforeKill.push(sub);
      if (phase === 'after') acceptedAfter++;
    }
  };
  const killer = (async () => {
    while (accepted < BEFORE_KILL) await sleep(5);
    phase = 'killing';
    await restart();
    phase = 'after';
  })();
  await Promise.all([...Array.from({ length: CLIENTS }, client), killer]);
  return { beforeKill, all };
}

/** Waits until every task is terminal (or gone); returns the records. */
async function settle(stack: Stack, ids: string[]) {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const records = await Promise.all(ids.map((id) => stack.deps.store.get(id)));
    if (records.every((r) => r === null || TERMINAL_STATUSES.has(r.status))) return records;
    if (Date.now() > deadline) {
      const pending = records.filter((r) => r && !TERMINAL_STATUSES.has(r.status)).map((r) => `${r!.id}:${r!.status}`);
      throw new Error(`tasks not terminal after 60 s: ${pending.slice(0, 10).join(', ')}`);
    }
    await sleep(200);
  }
}

async function withRedis(
  appendfsync: 'always' | null,
  body: (ctx: { redis: RedisServerFixture; restart: () => Promise<void>; stack: Stack }) => Promise<void>,
): Promise<void> {
  const dir = await mkdtemp(path.join(tmpdir(), 'airlock-durability-'));
  const start = (port?: number) =>
    startRedisServer({ ...(port ? { port } : {}), ...(appendfsync ? { aof: { dir, appendfsync } } : {}) });
  let redis = await start();
  const env = { REDIS_URL: redis.url };
  const stack = await startStack({
    harnessEnv: { ...env, IDEMPOTENCY_CLAIM_TTL_MS: '1000' },
    runnerEnv: env,
  });
  const restart = async () => {
    await redis.stop(); // SIGKILL: no shutdown save, no AOF flush beyond what each write did
    await sleep(300);
    redis = await start(redis.port);
  };
  try {
    await body({ redis, restart, stack });
  } finally {
    await stack.close().catch(() => {});
    await redis.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

describe('Redis SIGKILLed while tasks are submitted', () => {
  test('appendfsync always: every task answered 201 exists after the restart, ends, and ran exactly once', async () => {
    await withRedis('always', async ({ restart, stack }) => {
      const { all, beforeKill } = await submitThroughKill(stack, restart);
      const ids = all.map((s) => s.id!);
      assert.equal(new Set(ids).size, ids.length, 'one task per Idempotency-Key');
      assert.ok(all.some((s) => s.answers.includes(503)), 'some requests met the dead Redis (the kill was mid-stream)');
      const records = await settle(stack, ids);
      for (const [i, record] of records.entries()) {
        assert.ok(record, `task ${ids[i]} (201 after ${all[i]!.answers.join(',')}) is gone`);
        assert.equal(record.status, 'succeeded', `${record.id}: ${JSON.stringify(record.error)}`);
        assert.equal(record.attempts, 1, `${record.id} ran ${record.attempts} times`);
        const events = await stack.deps.store.readEvents(record.id);
        const running = events.filter((e) => e.event.type === 'status' && e.event.status === 'running');
        const ran = events.filter((e) => e.event.type === 'output' && e.event.data.includes('ran'));
        assert.equal(running.length, 1, `${record.id} started ${running.length} times`);
        assert.equal(ran.length, 1, `${record.id} printed "ran" ${ran.length} times`);
      }
      assert.ok(beforeKill.length >= BEFORE_KILL - CLIENTS, `${beforeKill.length} tasks were accepted before the kill`);
    });
  });

  test('control: with persistence off, tasks answered 201 before the kill are lost (the check sees a loss)', async () => {
    await withRedis(null, async ({ restart, stack }) => {
      const { beforeKill } = await submitThroughKill(stack, restart);
      const records = await Promise.all(beforeKill.map((s) => stack.deps.store.get(s.id!)));
      const lost = records.filter((r) => r === null).length;
      assert.ok(lost > 0, 'nothing was lost without persistence: the test could not see a loss');
    });
  });
});
