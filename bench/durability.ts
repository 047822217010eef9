/**
 * What "accepted means durable" costs (README, "Durability"): task submission (POST /v1/tasks
 * without `wait`, answered once the task and its job are in Redis) against a Redis whose AOF is
 * fsynced once per second (`appendfsync everysec`, the default) and before every answer
 * (`always`), side by side. For each mode: a private redis-server with its AOF in a fresh
 * directory (BENCH_AOF_DIR, default the OS temp dir: put it on the disk you mean to measure), the
 * production shape (harness and runner processes, bench/stack.ts), then sequential latency and
 * throughput at BENCH_DURABILITY_CONCURRENCY submissions in flight. The runner runs the tasks
 * meanwhile, so its writes compete for the same fsyncs, as in service.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { section, table } from './report.ts';
import { freePort, startStack, type Stack } from './stack.ts';
import { fmtMs, summarize, type Summary } from './stats.ts';

export type Appendfsync = 'everysec' | 'always';

export interface DurabilityModeResult {
  appendfsync: Appendfsync;
  /** Floor: one Redis write (SET) at a time, straight to this Redis (ms): the fsync alone. */
  redisWrite: Summary;
  /** Sequential submissions, one at a time (ms). */
  latency: Summary;
  /** Submissions answered 201 per second with `concurrency` in flight. */
  perSecond: number;
  /** Latency of those (ms). */
  loadedLatency: Summary;
  concurrency: number;
  errors: number;
  firstError: string | null;
}

export interface DurabilityBenchResult {
  aofDir: string;
  modes: DurabilityModeResult[];
}

const num = (name: string, fallback: number) => {
  const v = Number(process.env[name]);
  return Number.isFinite(v) && v > 0 ? v : fallback;
};

async function startAofRedis(dir: string, appendfsync: Appendfsync): Promise<{ url: string; child: ChildProcess; stop(): Promise<void> }> {
  const port = await freePort();
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--dir', dir, '--appendonly', 'yes', '--appendfsync', appendfsync],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  const kill = () => child.kill('SIGKILL');
  process.once('exit', kill);
  const url = `redis://127.0.0.1:${port}/0`;
  const probe = new Redis(url, { maxRetriesPerRequest: 1, lazyConnect: true, retryStrategy: () => null });
  probe.on('error', () => {});
  for (let i = 0; ; i++) {
    if (await probe.connect().then(() => true, () => false)) break;
    if (i > 100 || child.exitCode !== null) throw new Error(`redis-server (appendfsync ${appendfsync}) did not start`);
    await new Promise((r) => setTimeout(r, 100));
  }
  probe.disconnect();
  return {
    url,
    child,
    async stop() {
      process.off('exit', kill);
      if (child.exitCode !== null) return;
      const gone = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await gone;
    },
  };
}

/** Sequential SETs of 100 bytes on a connection of its own. */
async function redisWriteFloor(url: string, samples: number): Promise<Summary> {
  const redis = new Redis(url, { maxRetriesPerRequest: 1 });
  try {
    const value = 'x'.repeat(100);
    const times: number[] = [];
    for (let i = 0; i < samples; i++) {
      const t0 = performance.now();
      await redis.set(`airlock-bench:durability:${i % 100}`, value);
      times.push(performance.now() - t0);
    }
    return summarize(times);
  } finally {
    redis.disconnect();
  }
}

async function submit(stack: Stack): Promise<{ ok: boolean; ms: number; error?: string }> {
  const t0 = performance.now();
  try {
    const res = await stack.client.request('POST', '/v1/tasks', {
      headers: { authorization: `Bearer ${stack.apiKey}`, 'idempotency-key': `"${randomUUID()}"` },
      body: { runtime: 'javascript', code: '1+1' },
    });
    const ms = performance.now() - t0;
    return res.status === 201 ? { ok: true, ms } : { ok: false, ms, error: `HTTP ${res.status}: ${res.body.slice(0, 200)}` };
  } catch (err) {
    return { ok: false, ms: performance.now() - t0, error: String(err) };
  }
}

async function measureMode(aofRoot: string, appendfsync: Appendfsync, log: (m: string) => void): Promise<DurabilityModeResult> {
  const dir = mkdtempSync(path.join(aofRoot, `airlock-bench-aof-${appendfsync}-`));
  const redis = await startAofRedis(dir, appendfsync);
  let stack: Stack | null = null;
  try {
    const redisWrite = await redisWriteFloor(redis.url, num('BENCH_DURABILITY_FLOOR_SAMPLES', 2000));
    stack = await startStack({ baseUrl: redis.url, url: redis.url, db: 0, serverPid: redis.child.pid ?? null }, 2);
    const warmup = num('BENCH_DURABILITY_WARMUP', 300);
    const samples = num('BENCH_DURABILITY_SAMPLES', 500);
    const concurrency = num('BENCH_DURABILITY_CONCURRENCY', 32);
    const measureMs = num('BENCH_DURABILITY_MEASURE_MS', 8000);
    let errors = 0;
    let firstError: string | null = null;
    const note = (r: { ok: boolean; error?: string }) => {
      if (r.ok) return;
      errors++;
      firstError ??= r.error ?? 'failed';
    };
    log(`durability (${appendfsync}): ${warmup} warm-up submissions, ${samples} sequential, then ${concurrency} in flight for ${measureMs / 1000} s`);
    for (let i = 0; i < warmup; i++) note(await submit(stack));
    const sequential: number[] = [];
    for (let i = 0; i < samples; i++) {
      const r = await submit(stack);
      note(r);
      if (r.ok) sequential.push(r.ms);
    }
    const loaded: number[] = [];
    const end = performance.now() + measureMs;
    const slot = async () => {
      while (performance.now() < end) {
        const r = await submit(stack!);
        note(r);
        if (r.ok) loaded.push(r.ms);
      }
    };
    const t0 = performance.now();
    await Promise.all(Array.from({ length: concurrency }, slot));
    const elapsedS = (performance.now() - t0) / 1000;
    return {
      appendfsync,
      redisWrite,
      latency: summarize(sequential),
      perSecond: loaded.length / elapsedS,
      loadedLatency: summarize(loaded),
      concurrency,
      errors,
      firstError,
    };
  } finally {
    await stack?.stop();
    await redis.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function durabilityBench(log: (m: string) => void): Promise<DurabilityBenchResult> {
  const aofDir = process.env['BENCH_AOF_DIR'] ?? os.tmpdir();
  const modes: DurabilityModeResult[] = [];
  for (const mode of ['everysec', 'always'] as const) modes.push(await measureMode(aofDir, mode, log));
  return { aofDir, modes };
}

export function durabilityReport(r: DurabilityBenchResult): { lines: string[]; ratios: Record<string, unknown> } {
  const lines = [
    section(`Durability: task submission (POST /v1/tasks, no wait) by Redis appendfsync; AOF in ${r.aofDir} (ms)`),
    '(SET = one Redis write, sequential: the fsync alone; seq = one submission at a time; loaded = at c in flight)',
  ];
  lines.push(
    table(
      ['appendfsync', 'SET p50', 'SET p99', 'seq p50', 'seq p99', `tasks/s (c=${r.modes[0]?.concurrency})`, 'loaded p50', 'loaded p99', 'err', 'what a crash can lose'],
      r.modes.map((m) => [
        m.appendfsync,
        fmtMs(m.redisWrite.p50),
        fmtMs(m.redisWrite.p99),
        fmtMs(m.latency.p50),
        fmtMs(m.latency.p99),
        m.perSecond.toFixed(0),
        fmtMs(m.loadedLatency.p50),
        fmtMs(m.loadedLatency.p99),
        m.errors,
        m.appendfsync === 'always' ? 'nothing answered 201' : 'about the last second of 201s (host crash only)',
      ]),
    ),
  );
  for (const m of r.modes) if (m.firstError) lines.push(`first error (${m.appendfsync}): ${m.firstError}`);
  const [everysec, always] = r.modes;
  const ratios =
    everysec && always
      ? {
          throughputAlwaysOverEverysec: always.perSecond / everysec.perSecond,
          seqP50AddedMs: always.latency.p50 - everysec.latency.p50,
        }
      : {};
  if (everysec && always) {
    lines.push(
      `always vs everysec: ${((always.perSecond / everysec.perSecond) * 100).toFixed(0)}% of the throughput, ` +
        `+${fmtMs(always.latency.p50 - everysec.latency.p50)} ms sequential p50`,
    );
  }
  return { lines, ratios };
}
