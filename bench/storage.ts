/**
 * Storage section of `npm run bench`: what one task leaves in Redis in the worst case, measured
 * with MEMORY USAGE (SAMPLES 0: exact) over every key tagged with the task's id, against the
 * output bytes it produced. Target: at most 1.1× (files under /out live in the blob store and are
 * not counted; their bytes in Redis would show here). Exact figures: no timing involved.
 *
 * - isolate: 1 MiB of stdout + 1 MiB of stderr of U+0001 (one byte of output, six in JSON);
 * - container (with Docker): 1 MiB of stdout + 1 MiB of stderr of random bytes (not UTF-8:
 *   base64 in the API, raw in Redis) and an 8 MiB file under /out.
 */
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { startStack, type BenchRedis, type Stack } from './stack.ts';

const MiB = 1024 * 1024;
export const TARGET_REDIS_RATIO = 1.1;

export interface StorageCase {
  name: string;
  outputBytes: number;
  redisBytes: number;
  keys: Record<string, number>;
  /** Bytes of /out files (in the blob store, not in Redis). */
  fileBytes: number;
  ratio: number;
  status: string;
}

export interface StorageBenchResult {
  cases: StorageCase[];
  errors: string[];
}

const CASES: { name: string; container: boolean; body: Record<string, unknown> }[] = [
  {
    name: 'isolate: 1 MiB stdout + 1 MiB stderr of U+0001',
    container: false,
    body: { runtime: 'javascript', code: `const s = '\\x01'.repeat(${MiB - 1}); console.log(s); console.error(s); 1` },
  },
  {
    name: 'container: 1 MiB + 1 MiB random bytes, 8 MiB /out file',
    container: true,
    body: {
      runtime: 'python',
      code: [
        'import os, sys',
        `sys.stdout.buffer.write(os.urandom(${MiB}))`,
        `sys.stderr.buffer.write(os.urandom(${MiB}))`,
        `open("/out/big.bin", "wb").write(os.urandom(${8 * MiB}))`,
      ].join('\n'),
    },
  },
];

async function keysOf(redis: Redis, taskId: string): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `*${taskId}*`, 'COUNT', 1000);
    cursor = next;
    for (const key of keys) out[key] = Number(await redis.memory('USAGE', key, 'SAMPLES', 0));
  } while (cursor !== '0');
  return out;
}

function outputLength(text: string, encoding: string | undefined): number {
  return Buffer.from(text, encoding === 'base64' ? 'base64' : 'utf8').length;
}

async function measure(stack: Stack, redis: Redis, c: (typeof CASES)[number], errors: string[]): Promise<StorageCase | null> {
  const res = await stack.client.request('POST', '/v1/tasks', {
    headers: { authorization: `Bearer ${stack.apiKey}`, 'idempotency-key': `"${randomUUID()}"` },
    body: { ...c.body, wait: 60 },
    timeoutMs: 90_000,
  });
  if (res.status !== 201) {
    errors.push(`${c.name}: HTTP ${res.status}: ${res.body.slice(0, 300)}`);
    return null;
  }
  const task = JSON.parse(res.body) as {
    id: string;
    status: string;
    error?: { message: string };
    result?: { stdout: string; stderr: string; stdoutEncoding?: string; stderrEncoding?: string; files?: { size: number }[] };
  };
  if (!task.result) {
    errors.push(`${c.name}: no result (${task.status}: ${task.error?.message ?? ''})`);
    return null;
  }
  const outputBytes = outputLength(task.result.stdout, task.result.stdoutEncoding) + outputLength(task.result.stderr, task.result.stderrEncoding);
  const keys = await keysOf(redis, task.id);
  const redisBytes = Object.values(keys).reduce((a, b) => a + b, 0);
  return {
    name: c.name,
    outputBytes,
    redisBytes,
    keys,
    fileBytes: (task.result.files ?? []).reduce((a, f) => a + f.size, 0),
    ratio: redisBytes / outputBytes,
    status: task.status,
  };
}

/** Runs the worst-case tasks on a stack of its own (with Docker when `withContainers`). */
export async function storageBench(benchRedis: BenchRedis, log: (msg: string) => void, withContainers: boolean): Promise<StorageBenchResult> {
  const errors: string[] = [];
  const cases: StorageCase[] = [];
  const stack = await startStack(
    benchRedis,
    1,
    withContainers ? { RUNNER_BACKENDS: 'isolate,docker', REQUIRE_DOCKER: '1', WARM_POOL_SIZE: '0', CONTAINER_CONCURRENCY: '1' } : {},
  );
  const redis = new Redis(benchRedis.url, { maxRetriesPerRequest: 1 });
  redis.on('error', () => {});
  try {
    for (const c of CASES) {
      if (c.container && !withContainers) continue;
      log(`storage: ${c.name}`);
      const measured = await measure(stack, redis, c, errors);
      if (measured) cases.push(measured);
    }
  } finally {
    redis.disconnect();
    await stack.stop();
  }
  return { cases, errors };
}
