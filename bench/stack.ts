/**
 * Starts the production shape: a harness process listening on a loopback port and a runner
 * process (with its isolate host children), on a Redis database the bench has to itself.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { TASK_QUEUE, redisKeys } from '../protocol/redis-keys.ts';
import { HttpClient } from './http.ts';
import { childPids, spawnService, stopService, type CpuRoles, type Service } from './proc.ts';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));
const LOCK_KEY = 'airlock-bench:lock';

export interface BenchRedis {
  /** Base URL (as given by REDIS_URL or the default). */
  baseUrl: string;
  /** URL of the database the bench uses. */
  url: string;
  db: number;
  /** Pid of redis-server when it runs on this machine (for CPU accounting). */
  serverPid: number | null;
}

function withDb(baseUrl: string, db: number): string {
  const u = new URL(baseUrl);
  u.pathname = `/${db}`;
  return u.toString();
}

/**
 * Picks an empty Redis database (highest index first) and claims it with a lock key, so the
 * bench's queue, runner registry and task keys never mix with anyone else's (db 0 is what the
 * other engineers' stacks use). BENCH_REDIS_DB forces one.
 */
export async function claimRedisDb(): Promise<BenchRedis> {
  const baseUrl = process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379';
  const forced = process.env['BENCH_REDIS_DB'];
  const candidates = forced !== undefined ? [Number(forced)] : [15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1];
  let serverPid: number | null = null;
  for (const db of candidates) {
    const url = withDb(baseUrl, db);
    const redis = new Redis(url, { maxRetriesPerRequest: 1, lazyConnect: true });
    redis.on('error', () => {});
    try {
      await redis.connect();
      if (serverPid === null) {
        const info = await redis.info('server');
        const pid = Number(/process_id:(\d+)/.exec(info)?.[1]);
        const local = ['127.0.0.1', 'localhost', '::1', '[::1]'].includes(new URL(baseUrl).hostname);
        serverPid = local && pid > 0 ? pid : null;
      }
      if ((await redis.dbsize()) !== 0 && forced === undefined) continue;
      const ok = await redis.set(LOCK_KEY, String(process.pid), 'PX', 15 * 60_000, 'NX');
      if (ok !== 'OK') continue;
      return { baseUrl, url, db, serverPid };
    } catch (err) {
      if (forced !== undefined) throw err;
    } finally {
      redis.disconnect();
    }
  }
  throw new Error(`no empty Redis database to use at ${baseUrl} (set BENCH_REDIS_DB)`);
}

/** Deletes what the bench wrote in its own database, then the lock. */
export async function releaseRedisDb(benchRedis: BenchRedis, queueNames: string[]): Promise<void> {
  const redis = new Redis(benchRedis.url, { maxRetriesPerRequest: 1 });
  redis.on('error', () => {});
  try {
    for (const name of queueNames) {
      const queue = new Queue(name, { connection: redis.duplicate({ maxRetriesPerRequest: null }) });
      queue.on('error', () => {});
      await queue.obliterate({ force: true }).catch(() => {});
      await queue.close().catch(() => {});
    }
    for (const pattern of ['airlock:*', 'bull:*']) {
      let cursor = '0';
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
        cursor = next;
        if (keys.length) await redis.unlink(...keys);
      } while (cursor !== '0');
    }
    await redis.del(LOCK_KEY);
  } finally {
    redis.disconnect();
  }
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** True when both harness and runner read AIRLOCK_TASK_QUEUE (then the bench uses its own queue). */
function taskQueueEnvSupported(): boolean {
  const mentions = (files: string[]) =>
    files.some((f) => {
      try {
        return readFileSync(path.join(ROOT, f), 'utf8').includes('AIRLOCK_TASK_QUEUE');
      } catch {
        return false;
      }
    });
  return (
    mentions(['harness/config.ts', 'harness/deps.ts', 'harness/server.ts']) &&
    mentions(['runner/config.ts', 'runner/runner.ts', 'runner/worker.ts'])
  );
}

export interface Stack {
  baseUrl: string;
  /** The harness's environment without PORT (to start a second harness on the same queue). */
  harnessEnv: NodeJS.ProcessEnv;
  apiKey: string;
  queueName: string;
  runnerId: string;
  harness: Service;
  runner: Service;
  client: HttpClient;
  cpuRoles(): CpuRoles;
  stop(): Promise<void>;
}

/** BENCH_CPU_PROF=1: harness and runner write V8 CPU profiles here (see bench/prof-summary.ts). */
export function cpuProfArgs(): string[] {
  if (!process.env['BENCH_CPU_PROF']) return [];
  const dir = path.join(ROOT, 'bench', 'results', 'cpu-prof', new Date().toISOString().replace(/[:.]/g, '-'));
  return ['--cpu-prof', `--cpu-prof-dir=${dir}`];
}

/**
 * The node/V8 flags the harness ships with (harness/README.md), then BENCH_HARNESS_NODE_ARGS
 * ("--flag …", e.g. to hunt a crash). The bench-only harness without the security path gets the
 * same, so the two are compared like for like.
 */
export function harnessNodeFlags(): string[] {
  return ['--no-turbo-inline-js-wasm-calls', ...(process.env['BENCH_HARNESS_NODE_ARGS'] ?? '').split(/\s+/).filter(Boolean)];
}

/**
 * `runnerEnv` replaces the runner's defaults (e.g. `RUNNER_BACKENDS: 'docker'` for the container
 * section); by default the runner runs isolate tasks only.
 */
export async function startStack(
  benchRedis: BenchRedis,
  isolateHosts = 2,
  runnerEnv: NodeJS.ProcessEnv = {},
  /** Extra harness settings (the calls bench opens its target with CAPABILITY_PRIVATE_TARGETS). */
  harnessExtraEnv: NodeJS.ProcessEnv = {},
  /** The checkout whose harness and runner run (bench/ab.ts: a worktree of another commit). */
  root: string = ROOT,
): Promise<Stack> {
  const prof = cpuProfArgs();
  const port = await freePort();
  const brokerPort = await freePort();
  const apiKey = `bench_${randomBytes(24).toString('base64url')}`;
  const runnerId = `bench-${randomUUID()}`;
  const queueName = taskQueueEnvSupported() ? `airlock-bench-${randomUUID()}` : TASK_QUEUE;
  // The blob store (/out files) harness and runner share, the bench's own.
  const blobDir = mkdtempSync(path.join(os.tmpdir(), 'airlock-bench-blobs-'));
  // Only PATH and what the services need: no stray config from the caller's environment.
  const common: NodeJS.ProcessEnv = {
    PATH: process.env['PATH'],
    HOME: process.env['HOME'],
    NODE_ENV: 'production',
    REDIS_URL: benchRedis.url,
    LOG_LEVEL: 'silent',
    // Keep the bench's thousands of tasks only briefly (they are also deleted at the end).
    TASK_RETENTION_MS: String(15 * 60_000),
    BLOB_DIR: blobDir,
    ...(queueName !== TASK_QUEUE ? { AIRLOCK_TASK_QUEUE: queueName } : {}),
  };
  const harnessEnv: NodeJS.ProcessEnv = {
    ...common, HOST: '127.0.0.1', AIRLOCK_DEV_API_KEY: apiKey, IDEMPOTENCY_TTL_MS: String(15 * 60_000),
    // Rate limiting stays on (its cost is measured) with quotas the bench's load never reaches.
    RATE_LIMIT_READS_PER_MIN: '100000000', RATE_LIMIT_WRITES_PER_MIN: '100000000',
    RATE_LIMIT_TASK_CREATES_PER_MIN: '100000000', RATE_LIMIT_CONCURRENT_TASKS: '10000',
    // Storage quota too (its cost, one Lua call per create, is measured).
    STORAGE_QUOTA_BYTES: String(2 ** 40),
    ...harnessExtraEnv,
  };
  const harness = spawnService(
    'harness',
    // The flags the harness ships with (harness/README.md), then any extra ones.
    [...prof, ...harnessNodeFlags(), '--import', 'tsx', 'harness/server.ts'],
    { ...harnessEnv, PORT: String(port), BROKER_PORT: String(brokerPort) },
    root,
  );
  const runner = spawnService(
    'runner',
    [...prof, '--no-node-snapshot', '--import', 'tsx', 'runner/worker.ts'],
    // Isolate tasks only: no container backend (warm containers would add load and noise).
    {
      ...common, ISOLATE_HOSTS: String(isolateHosts), RUNNER_ID: runnerId, RUNNER_BACKENDS: 'isolate',
      BROKER_URL: `http://127.0.0.1:${brokerPort}`, ...runnerEnv,
    },
    root,
  );
  const baseUrl = `http://127.0.0.1:${port}`;
  const client = new HttpClient(baseUrl);
  const stack: Stack = {
    baseUrl,
    harnessEnv,
    apiKey,
    queueName,
    runnerId,
    harness,
    runner,
    client,
    cpuRoles: () => ({
      harness: () => [harness.pid],
      runner: () => [runner.pid],
      'isolate hosts': () => childPids(runner.pid),
      ...(benchRedis.serverPid ? { 'redis-server': () => [benchRedis.serverPid as number] } : {}),
      'bench client': () => [process.pid],
    }),
    async stop() {
      client.close();
      await Promise.all([stopService(runner), stopService(harness)]);
      rmSync(blobDir, { recursive: true, force: true });
    },
  };
  try {
    await waitReady(stack, benchRedis, 90_000);
  } catch (err) {
    await stack.stop();
    throw err;
  }
  return stack;
}

async function waitReady(stack: Stack, benchRedis: BenchRedis, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const redis = new Redis(benchRedis.url, { maxRetriesPerRequest: 1 });
  redis.on('error', () => {});
  try {
    for (;;) {
      for (const s of [stack.harness, stack.runner]) {
        if (!s.isAlive()) throw new Error(`${s.name} exited during start-up:\n${s.tail()}`);
      }
      const ready = await stack.client
        .request('GET', '/readyz', { timeoutMs: 2000 })
        .then((r) => r.status === 200)
        .catch(() => false);
      // /readyz counts any runner; make sure it is ours.
      if (ready && (await redis.zscore(redisKeys.runners, stack.runnerId)) !== null) return;
      if (Date.now() > deadline) {
        throw new Error(`stack not ready after ${timeoutMs} ms\nharness: ${stack.harness.tail()}\nrunner: ${stack.runner.tail()}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  } finally {
    redis.disconnect();
  }
}
