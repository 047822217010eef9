/**
 * Stopping a runner whose Redis vanished: real processes only — a private redis-server on a free
 * loopback port, and the runner as operators run it (`runner/worker.ts`, isolate backend). Redis
 * is SIGKILLed under the running runner, then the runner gets SIGTERM. It used to hang (its
 * graceful close retried Redis forever, logging `connect ECONNREFUSED` on every attempt) until
 * its 60 s exit timer or a kill -9.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { after, describe, test } from 'node:test';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** How long a stop may take (issue: everything within 5 s). */
const STOP_LIMIT_MS = 5000;
const started: ChildProcess[] = [];

after(() => {
  for (const child of started) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Spawns a process and keeps everything it writes. */
function run(cmd: string, args: string[], env: NodeJS.ProcessEnv) {
  const child = spawn(cmd, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  started.push(child);
  const out = { text: '' };
  child.stdout?.on('data', (d: Buffer) => (out.text += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out.text += d.toString()));
  const exited = new Promise<{ code: number | null; signal: string | null; at: number }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal, at: Date.now() })),
  );
  return { child, out, exited };
}

async function until(what: string, check: () => boolean, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

describe('a runner whose Redis vanished', () => {
  test('stops within 5 s of SIGTERM, exit code 0, without a line per reconnect attempt', async () => {
    const port = await freePort();
    const redis = run('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], process.env);
    await until('redis-server', () => redis.out.text.includes('Ready to accept connections'));
    const runner = run(process.execPath, ['--no-node-snapshot', '--import', 'tsx', 'runner/worker.ts'], {
      PATH: process.env['PATH'],
      REDIS_URL: `redis://127.0.0.1:${port}`,
      RUNNER_BACKENDS: 'isolate',
      ISOLATE_HOSTS: '1',
      RUNNER_ID: `test-${randomUUID()}`,
      AIRLOCK_TASK_QUEUE: `test-${randomUUID()}`,
    });
    await until('the runner to be ready', () => /"msg":"ready \(/.test(runner.out.text) || runner.child.exitCode !== null);
    assert.equal(runner.child.exitCode, null, runner.out.text);

    redis.child.kill('SIGKILL');
    await redis.exited;
    await until('the runner to notice', () => runner.out.text.includes('ECONNREFUSED'), 20_000);
    // Long enough for several reconnect attempts of each connection (ioredis backs off to 2 s).
    await sleep(4000);
    const signalled = Date.now();
    runner.child.kill('SIGTERM');
    const result = await Promise.race([runner.exited, sleep(STOP_LIMIT_MS + 15_000, null, { ref: false })]);
    assert.ok(result, `the runner did not exit:\n${runner.out.text}`);
    assert.deepEqual({ code: result.code, signal: result.signal }, { code: 0, signal: null }, runner.out.text);
    assert.ok(result.at - signalled < STOP_LIMIT_MS, `stopped after ${result.at - signalled} ms:\n${runner.out.text}`);
    // Each distinct message at most once a minute (plus the first line of a connection).
    // The runner's lines are JSON (each with its time): the messages are compared.
    const refused = runner.out.text.split('\n').filter((l) => l.includes('ECONNREFUSED')).map((l) => {
      try {
        return String((JSON.parse(l) as { msg?: unknown }).msg);
      } catch {
        return l;
      }
    });
    const distinct = new Set(refused.map((l) => l.replace(/ \(repeated \d+ times\)$/, '')));
    assert.equal(refused.length, distinct.size, `repeated error lines:\n${runner.out.text}`);
  });
});
