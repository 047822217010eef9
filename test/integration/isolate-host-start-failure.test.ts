/**
 * Isolate hosts that die at start: real host child processes, a real runner (BullMQ on real
 * Redis) and the real harness app (inject). Nothing is mocked. The hosts are made to fail the
 * honest way: the prewarm size the runner passes them is one isolated-vm refuses (under 8 MiB),
 * so every host exits during start-up. Config validation refuses that size, so the runner's
 * config object is built with it directly — the path from config to host is the real one.
 *
 * - the pool re-spawns them with a delay that doubles each time (never in a tight loop), says
 *   why it is unready, and spawns nothing more once disposed;
 * - a runner whose hosts die at start still heartbeats, reports its isolate backend unready
 *   with the reason, takes no task (it stays queued), and /readyz answers 503 saying so.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, describe, test } from 'node:test';
import { IsolateHostPool } from '../../runner/isolate-host/host-pool.ts';
import { loadConfig as loadRunnerConfig } from '../../runner/config.ts';
import { startRunner, type Runner } from '../../runner/runner.ts';
import { REDIS_URL, startStack, type Stack } from '../helpers/stack.ts';

/** isolated-vm refuses isolates under 8 MiB: a host told to prewarm one exits at start. */
const UNSTARTABLE_PREWARM_MB = 4;

/** Resolves with the first value `check` returns, or throws after `timeoutMs`. */
async function waitFor<T>(what: string, check: () => T | undefined, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

describe('isolate host pool: hosts that die at start', () => {
  test('are re-spawned with a doubling delay, the pool says why it is unready, and dispose stops it', async () => {
    const attempts: number[] = [];
    const statuses: { ready: boolean; reason?: string }[] = [];
    const respawnDelayMs = 300;
    const pool = new IsolateHostPool({
      size: 1,
      prewarmMemoryMb: UNSTARTABLE_PREWARM_MB,
      respawnDelayMs,
      onHostLog: (line) => {
        if (line.includes('could not start')) attempts.push(Date.now());
      },
      onStatus: (s) => statuses.push(s),
    });
    try {
      const first = await pool.ready();
      assert.equal(first.ready, false, 'ready() resolves (unready) instead of waiting forever');
      await waitFor('4 start attempts', () => (attempts.length >= 4 ? true : undefined));
      // Each gap is at least the backoff delay, which doubles: 300, 600, 1200 ms. (A tight loop
      // re-forks as soon as the last host is gone: gaps of one host start-up, not growing.)
      for (let i = 1; i < 4; i++) {
        const gap = (attempts[i] as number) - (attempts[i - 1] as number);
        assert.ok(gap >= respawnDelayMs * 2 ** (i - 1), `gap ${i} was ${gap} ms: ${attempts.join(', ')}`);
      }
      const status = pool.status();
      assert.equal(status.ready, false);
      assert.match(status.reason ?? '', /isolate hosts die at start \(\d+ in a row; last: exit code 72: .*memoryLimit/);
      assert.ok(statuses.length >= 3 && statuses.every((s) => !s.ready), JSON.stringify(statuses));
      assert.match(statuses[1]?.reason ?? '', /next try in 600 ms/);
    } finally {
      await pool.dispose();
    }
    const atDispose = attempts.length;
    // The next re-spawn was due within that delay; dispose cancelled it.
    await sleep(respawnDelayMs * 2 ** (atDispose - 1) + 500);
    assert.equal(attempts.length, atDispose, 'no host is started after dispose');
  });

  test('a prewarm size that works starts the pool ready (the value reaches the host)', async () => {
    const pool = new IsolateHostPool({ size: 1, prewarmMemoryMb: 8 });
    try {
      assert.deepEqual(await pool.ready(), { ready: true });
    } finally {
      await pool.dispose();
    }
  });
});

describe('a runner whose isolate hosts die at start', () => {
  let stack: Stack | undefined;
  let runner: Runner | undefined;
  after(async () => {
    await runner?.close();
    await stack?.close();
  });

  test('heartbeats as unready with the reason, takes no task, and /readyz says so', async () => {
    stack = await startStack({ runner: false, harnessEnv: { RUNNER_STALE_MS: '4000' } });
    const logged: string[] = [];
    runner = await startRunner(
      {
        ...loadRunnerConfig({
          REDIS_URL,
          ISOLATE_HOSTS: '1',
          RUNNER_ID: `test-${randomUUID()}`,
          RUNNER_BACKENDS: 'isolate',
        }),
        ISOLATE_PREWARM_MEMORY_MB: UNSTARTABLE_PREWARM_MB,
      },
      (m) => logged.push(m),
      stack.queueName,
    );
    assert.deepEqual(runner.backends, ['isolate'], 'the backend counts as started');
    assert.match(runner.unready().join(), /^isolate: isolate hosts die at start/);

    let readyz;
    const deadline = Date.now() + 15_000;
    do {
      readyz = await stack.app.inject({ method: 'GET', url: '/readyz' });
      if (readyz.statusCode === 503 && /isolate backend not ready/.test(readyz.json().detail)) break;
      await sleep(100);
    } while (Date.now() < deadline);
    assert.equal(readyz.statusCode, 503, readyz.body);
    assert.equal(readyz.json().code, 'not_ready');
    assert.match(readyz.json().detail, /^No runner is ready: isolate backend not ready: isolate hosts die at start .*memoryLimit.*\(1 of 1 runners\)$/);

    // A task waits in the queue: the worker takes nothing while its backend is unready.
    const created = await stack.app.inject({
      method: 'POST',
      url: '/v1/tasks',
      headers: stack.headers('alice'),
      payload: { runtime: 'javascript', code: '1 + 1' },
    });
    assert.equal(created.statusCode, 201, created.body);
    const id = created.json().id as string;
    // Two more heartbeats (2 s apart) and start attempts pass meanwhile.
    await sleep(4500);
    const job = await stack.deps.queue.getJob(id);
    assert.equal(await job?.getState(), 'waiting');
    const task = await stack.app.inject({ method: 'GET', url: `/v1/tasks/${id}`, headers: stack.headers('alice', null) });
    assert.equal(task.json().status, 'queued');
    // The runner's log names the problem without a line per tight-loop spawn.
    assert.equal(logged.filter((l) => /^WARNING: isolate backend not ready \(isolate hosts die at start/.test(l)).length, 1, logged.join('\n'));
    const starts = logged.filter((l) => l.startsWith('isolate host: ')).length;
    assert.ok(starts <= 6, `${starts} host starts logged in ~5 s:\n${logged.join('\n')}`);

    await runner.close();
    runner = undefined;
  });
});
