/**
 * Container section of `npm run bench` (issue 3): `python3 -c 'print(1)'` end to end through the
 * API (POST with `wait` → result), once with the runner's warm pool and once without it (cold:
 * create + start per task), beside a plain hardened `docker run --rm` of the same command with
 * the same limits, measured in the same run.
 *
 * Each stack is warmed up first (see warmUp). Warm samples are taken one at a time with a pause
 * in between, so the pool has refilled (one container start, ~0.3 s) before each task: that is
 * the latency a task sees when the pool is not exhausted. Under a burst larger than the pool,
 * tasks fall back to the cold path.
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { SANDBOX_IMAGE_TAG } from '../runner/backends/supervisor-protocol.ts';
import { startStack, type BenchRedis, type Stack } from './stack.ts';
import { summarize, type Summary } from './stats.ts';

const run = promisify(execFile);
const IMAGE = `airlock-sandbox-python:${SANDBOX_IMAGE_TAG}`;
const CODE = 'print(1)';

/** The flags of runner/backends/docker-config.ts buildHostConfig, as `docker run` spells them. */
export const HARDENED_RUN_FLAGS: readonly string[] = [
  '--rm',
  '--network', 'none',
  '--read-only',
  '--cap-drop', 'ALL',
  '--security-opt', 'no-new-privileges:true',
  '--init',
  '--ipc', 'private',
  '--pids-limit', '128',
  '--memory', '256m',
  '--memory-swap', '256m',
  '--cpus', '1',
  '--ulimit', 'nofile=256:256',
  '--tmpfs', '/tmp:rw,noexec,nosuid,nodev,size=64m,uid=10001,gid=10001,mode=0700',
  '--tmpfs', '/work:rw,noexec,nosuid,nodev,size=64m,uid=10001,gid=10001,mode=0700',
  '--tmpfs', '/out:rw,noexec,nosuid,nodev,size=8m,uid=10001,gid=10001,mode=0700',
  '--user', '10001:10001',
  '--workdir', '/work',
  '--log-driver', 'none',
  '--label', 'airlock.bench=1',
];

export interface ContainerBenchResult {
  plainDockerRun: Summary;
  warmPool: Summary;
  coldPath: Summary;
  errors: string[];
  settings: { plainSamples: number; warmSamples: number; coldSamples: number; warmPauseMs: number };
}

/** Null (with the reason) when there is no Docker engine or no sandbox image to measure with. */
export async function dockerUnavailable(): Promise<string | null> {
  try {
    await run('docker', ['image', 'inspect', IMAGE], { timeout: 10_000 });
    return null;
  } catch (err) {
    return `no Docker engine or no ${IMAGE} image (bash images/build.sh): ${String(err).split('\n')[0]}`;
  }
}

async function plainDockerRun(samples: number): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < samples + 1; i++) {
    const t0 = performance.now();
    const { stdout } = await run('docker', ['run', ...HARDENED_RUN_FLAGS, IMAGE, 'python3', '-c', CODE], {
      timeout: 60_000,
    });
    const ms = performance.now() - t0;
    if (stdout.trim() !== '1') throw new Error(`plain docker run printed ${JSON.stringify(stdout)}`);
    if (i > 0) times.push(ms); // the first run warms the engine's image/layer caches
  }
  return times;
}

/**
 * Warms the harness and runner up first, as a long-running service is: V8 optimizes the request
 * path only after a few hundred requests (a cold process answers the same task 10-15 ms slower).
 * Trivial isolate tasks run the shared path (HTTP, auth, policy, queue, task store) cheaply;
 * a few python tasks then warm the container-specific code.
 */
async function warmUp(stack: Stack, errors: string[]): Promise<void> {
  for (let i = 0; i < WARMUP_ISOLATE_TASKS; i++) {
    const res = await stack.client.request('POST', '/v1/tasks', {
      headers: { authorization: `Bearer ${stack.apiKey}`, 'idempotency-key': `"${randomUUID()}"` },
      body: { runtime: 'javascript', code: '1+1', wait: 30 },
    });
    if (res.status !== 201) errors.push(`warm-up: HTTP ${res.status}: ${res.body.slice(0, 200)}`);
  }
  await apiSamples(stack, WARMUP_CONTAINER_TASKS, 300, errors);
}

const WARMUP_ISOLATE_TASKS = 300;
const WARMUP_CONTAINER_TASKS = 5;

async function apiSamples(stack: Stack, samples: number, pauseMs: number, errors: string[]): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < samples + 1; i++) {
    await sleep(pauseMs);
    const t0 = performance.now();
    const res = await stack.client.request('POST', '/v1/tasks', {
      headers: { authorization: `Bearer ${stack.apiKey}`, 'idempotency-key': `"${randomUUID()}"` },
      body: { runtime: 'python', code: CODE, wait: 60 },
      timeoutMs: 90_000,
    });
    const ms = performance.now() - t0;
    const task = res.status === 201 ? (JSON.parse(res.body) as { status: string; result?: { stdout: string } }) : null;
    if (task?.status !== 'succeeded' || task.result?.stdout !== '1\n') {
      errors.push(`HTTP ${res.status}: ${res.body.slice(0, 300)}`);
      continue;
    }
    if (i > 0) times.push(ms); // the first task pays for the interpreter's page cache
  }
  return times;
}

export async function containerBench(
  benchRedis: BenchRedis,
  log: (msg: string) => void,
  settings = { plainSamples: 20, warmSamples: 30, coldSamples: 20, warmPauseMs: 1000 },
): Promise<ContainerBenchResult> {
  const errors: string[] = [];
  log(`containers: plain hardened docker run --rm × ${settings.plainSamples}`);
  const plain = await plainDockerRun(settings.plainSamples);

  const measure = async (poolSize: number, samples: number, pauseMs: number): Promise<number[]> => {
    const stack = await startStack(benchRedis, 1, {
      RUNNER_BACKENDS: 'isolate,docker',
      REQUIRE_DOCKER: '1',
      WARM_POOL_SIZE: String(poolSize),
      CONTAINER_CONCURRENCY: '2',
    });
    try {
      await warmUp(stack, errors);
      return await apiSamples(stack, samples, pauseMs, errors);
    } finally {
      await stack.stop();
    }
  };
  log(`containers: through the API with the warm pool × ${settings.warmSamples} (${settings.warmPauseMs} ms apart)`);
  const warm = await measure(2, settings.warmSamples, settings.warmPauseMs);
  log(`containers: through the API without a pool (cold) × ${settings.coldSamples}`);
  const cold = await measure(0, settings.coldSamples, 200);
  return {
    plainDockerRun: summarize(plain),
    warmPool: summarize(warm),
    coldPath: summarize(cold),
    errors,
    settings,
  };
}
