/**
 * Floors: what the pieces cost on their own on this machine, measured in the same run as the
 * end-to-end numbers. BullMQ no-op round trip, raw isolated-vm latency and throughput, Redis PING.
 */
import { randomUUID } from 'node:crypto';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { Queue, QueueEvents, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { IsolateHostPool } from '../runner/isolate-host/host-pool.ts';
import { createRunSession } from '../runner/run-session.ts';
import { childPids, cpuDelta, forkChild, machineCpuMs, snapshotCpu } from './proc.ts';
import { summarize, type Summary } from './stats.ts';

const CHILD = fileURLToPath(new URL('./isolate-child.ts', import.meta.url));

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

export interface RedisPingResult {
  ping: Summary;
}

export async function redisPingFloor(redisUrl: string, samples = 300): Promise<RedisPingResult> {
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
  try {
    for (let i = 0; i < 50; i++) await redis.ping();
    const ts: number[] = [];
    for (let i = 0; i < samples; i++) {
      const t0 = performance.now();
      await redis.ping();
      ts.push(performance.now() - t0);
    }
    return { ping: summarize(ts) };
  } finally {
    redis.disconnect();
  }
}

export interface BullmqFloorResult {
  queue: string;
  /** Queue.add → in-process Worker ran a no-op → worker 'completed' event. */
  workerCompleted: Summary;
  /** Same jobs, completion seen through QueueEvents (the cross-process way). */
  queueEventsCompleted: Summary;
}

/** Raw BullMQ round trip of a no-op job, with the job options the harness uses. */
export async function bullmqFloor(redisUrl: string, warmup = 50, samples = 300): Promise<BullmqFloorResult> {
  const name = `bench-floor-${randomUUID()}`;
  const conn = () => new Redis(redisUrl, { maxRetriesPerRequest: null });
  const queue = new Queue(name, { connection: conn() });
  const events = new QueueEvents(name, { connection: conn() });
  const worker = new Worker(name, async () => {}, { connection: conn(), concurrency: 1 });
  queue.on('error', () => {});
  events.on('error', () => {});
  worker.on('error', () => {});
  const waiters = new Map<string, { worker?: (t: number) => void; events?: (t: number) => void }>();
  worker.on('completed', (job) => waiters.get(job.id ?? '')?.worker?.(performance.now()));
  events.on('completed', ({ jobId }) => waiters.get(jobId)?.events?.(performance.now()));
  try {
    await Promise.all([queue.waitUntilReady(), events.waitUntilReady(), worker.waitUntilReady()]);
    const viaWorker: number[] = [];
    const viaEvents: number[] = [];
    for (let i = 0; i < warmup + samples; i++) {
      const id = randomUUID();
      const w = new Promise<number>((resolve) => waiters.set(id, { ...waiters.get(id), worker: resolve }));
      const e = new Promise<number>((resolve) => waiters.set(id, { ...waiters.get(id), events: resolve }));
      const t0 = performance.now();
      await queue.add('noop', { i }, { jobId: id, attempts: 1, removeOnComplete: true, removeOnFail: { age: 3600 } });
      const [tw, te] = await withTimeout(Promise.all([w, e]), 10_000, 'BullMQ no-op job');
      waiters.delete(id);
      if (i >= warmup) {
        viaWorker.push(tw - t0);
        viaEvents.push(te - t0);
      }
    }
    return { queue: name, workerCompleted: summarize(viaWorker), queueEventsCompleted: summarize(viaEvents) };
  } finally {
    await worker.close().catch(() => {});
    await events.close().catch(() => {});
    await queue.obliterate({ force: true }).catch(() => {});
    await queue.close().catch(() => {});
  }
}

interface Phases {
  create: number;
  run: number;
  dispose: number;
  total: number;
}

export interface IsolateLatencyResult {
  /** new Isolate({memoryLimit:64}) + createContext + compile/run `1+1` + dispose. */
  total: Summary;
  create: Summary;
  run: Summary;
  dispose: Summary;
  /** The isolate host's own cycle (bootstrap closure; see runner/isolate-host/host.ts), if it could be replayed. */
  hostStyle: { prepare: Summary; run: Summary; dispose: Summary; total: Summary } | null;
  hostStyleError: string | null;
}

const phaseSummary = (list: Phases[], key: keyof Phases) => summarize(list.map((p) => p[key]));

export async function isolateLatencyFloor(warmup = 30, samples = 300): Promise<IsolateLatencyResult> {
  const { child, exited, stderr } = forkChild(CHILD, ['latency', String(warmup), String(samples)]);
  try {
    const message = await withTimeout(
      new Promise<{ plain: Phases[]; host: Phases[] | null; hostError: string | null }>((resolve, reject) => {
        child.once('message', (m) => resolve(m as { plain: Phases[]; host: Phases[] | null; hostError: string | null }));
        void exited.then(() => reject(new Error(`isolate latency child exited early: ${stderr()}`)));
      }),
      120_000,
      'isolate latency floor',
    );
    return {
      total: phaseSummary(message.plain, 'total'),
      create: phaseSummary(message.plain, 'create'),
      run: phaseSummary(message.plain, 'run'),
      dispose: phaseSummary(message.plain, 'dispose'),
      hostStyle: message.host
        ? {
            prepare: phaseSummary(message.host, 'create'),
            run: phaseSummary(message.host, 'run'),
            dispose: phaseSummary(message.host, 'dispose'),
            total: phaseSummary(message.host, 'total'),
          }
        : null,
      hostStyleError: message.hostError,
    };
  } finally {
    child.kill('SIGKILL');
    await exited;
  }
}

export interface IsolateThroughputResult {
  processes: number;
  durationMs: number;
  perProcess: { count: number; elapsedMs: number; perSecond: number }[];
  /** Sum over processes of cycles per second. */
  perSecond: number;
  /** CPU time (all threads) per cycle, ms. */
  cpuMsPerCycle: number;
  /** Machine CPU used by processes other than the bench's during the loop, % of all cores. */
  othersBusyPct: number;
}

/** os.availableParallelism() child processes, each looping create+run+dispose. */
export async function isolateThroughputFloor(durationMs = 5000): Promise<IsolateThroughputResult> {
  const n = os.availableParallelism();
  const kids = Array.from({ length: n }, () => forkChild(CHILD, ['throughput', String(durationMs)]));
  try {
    const nextMessage = (k: (typeof kids)[number]) =>
      new Promise<Record<string, number | string>>((resolve, reject) => {
        k.child.once('message', (m) => resolve(m as Record<string, number | string>));
        void k.exited.then(() => reject(new Error(`isolate throughput child exited early: ${k.stderr()}`)));
      });
    await withTimeout(Promise.all(kids.map(nextMessage)), 60_000, 'isolate children arming');
    const results = kids.map(nextMessage);
    const m0 = machineCpuMs();
    const own0 = process.cpuUsage();
    for (const k of kids) k.child.send('go');
    const done = await withTimeout(Promise.all(results), durationMs + 60_000, 'isolate throughput floor');
    const m1 = machineCpuMs();
    const own = process.cpuUsage(own0);
    const perProcess = done.map((m) => {
      const count = Number(m['count']);
      const elapsedMs = Number(m['elapsedMs']);
      return { count, elapsedMs, perSecond: (count * 1000) / elapsedMs };
    });
    const cpuMs = done.reduce((s, m) => s + Number(m['cpuMs']), 0);
    const cycles = perProcess.reduce((s, p) => s + p.count, 0);
    return {
      processes: n,
      durationMs,
      perProcess,
      perSecond: perProcess.reduce((s, p) => s + p.perSecond, 0),
      cpuMsPerCycle: cpuMs / cycles,
      othersBusyPct: Math.max(0, (100 * (m1.busy - m0.busy - cpuMs - (own.user + own.system) / 1000)) / (m1.total - m0.total)),
    };
  } finally {
    for (const k of kids) k.child.kill('SIGKILL');
    await Promise.all(kids.map((k) => k.exited));
  }
}

export interface HostPoolFloorResult {
  size: number;
  /** IsolateHostPool.run of `1+1`, one at a time (IPC to a host with a ready isolate, and back). */
  latency: Summary;
  /** `size` runs in flight, for `durationMs`. */
  perSecond: number;
  /** CPU ms per run in the pool's host processes, and in this (the pool's parent) process. */
  hostCpuMsPerRun: number;
  parentCpuMsPerRun: number;
  durationMs: number;
  /** Machine CPU used by processes other than the bench's during the loop, % of all cores. */
  othersBusyPct: number;
}

/**
 * The runner's own isolate host pool (runner/isolate-host/host-pool.ts) driven directly, without
 * Redis, BullMQ or HTTP: what the runner's execution layer alone can do.
 */
export async function hostPoolFloor(size = 2, warmup = 30, samples = 300, durationMs = 5000): Promise<HostPoolFloorResult> {
  const before = new Set(childPids(process.pid));
  const pool = new IsolateHostPool({ size });
  const limits = { timeoutMs: 30_000, cpuMs: 30_000, memoryMb: 64, outputBytes: 1024 * 1024 };
  const signal = new AbortController().signal;
  const runOnce = async () => {
    const r = await pool.run('1+1', limits, createRunSession({ signal, timeoutMs: limits.timeoutMs, output: () => {} }));
    if (r.status !== 'succeeded' || r.result.value !== 2) throw new Error(`host pool run: ${JSON.stringify(r).slice(0, 300)}`);
  };
  try {
    await withTimeout(pool.ready(), 60_000, 'isolate host pool start');
    for (let i = 0; i < warmup; i++) await runOnce();
    const ts: number[] = [];
    for (let i = 0; i < samples; i++) {
      const t0 = performance.now();
      await runOnce();
      ts.push(performance.now() - t0);
    }
    const hosts = childPids(process.pid).filter((pid) => !before.has(pid));
    const roles = { hosts: () => hosts, parent: () => [process.pid] };
    const a = snapshotCpu(roles);
    const deadline = performance.now() + durationMs;
    let runs = 0;
    await withTimeout(
      Promise.all(
        Array.from({ length: size }, async () => {
          while (performance.now() < deadline) {
            await runOnce();
            runs++;
          }
        }),
      ),
      durationMs + 30_000,
      'isolate host pool throughput',
    );
    const cpu = cpuDelta(a, snapshotCpu(roles));
    return {
      size,
      latency: summarize(ts),
      perSecond: (runs * 1000) / cpu.wallMs,
      hostCpuMsPerRun: (cpu.perRole['hosts'] ?? 0) / runs,
      parentCpuMsPerRun: (cpu.perRole['parent'] ?? 0) / runs,
      durationMs,
      othersBusyPct: Math.max(
        0,
        (100 * (cpu.machineBusyMs - (cpu.perRole['hosts'] ?? 0) - (cpu.perRole['parent'] ?? 0))) / cpu.machineTotalMs,
      ),
    };
  } finally {
    await pool.dispose();
  }
}
