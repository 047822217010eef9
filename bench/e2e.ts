/**
 * End-to-end measurements over real HTTP against the spawned harness: sequential latency of
 * trivial tasks (with a breakdown from the task's own timestamps) and a concurrency sweep.
 */
import { randomUUID } from 'node:crypto';
import { cpuDelta, snapshotCpu } from './proc.ts';
import type { Stack } from './stack.ts';
import { nowEpochMs, summarize, type Summary } from './stats.ts';

const CODE = '1+1';
const WAIT_SECONDS = 30;

interface TaskView {
  id: string;
  status: string;
  createdAt: string;
  startedAt?: string;
  finishedAt?: string;
  result?: { value: unknown };
  usage?: { wallMs: number; cpuMs: number };
}

export interface Sample {
  ok: boolean;
  latencyMs: number;
  sentAt: number;
  receivedAt: number;
  task?: TaskView;
  error?: string;
}

/** POST /v1/tasks with `wait`: one trivial task, answered when it ends. */
/** `extra`: more fields of the create body (the crash repro varies the timeout). */
export async function runTask(stack: Stack, timeoutMs = 60_000, extra: Record<string, unknown> = {}): Promise<Sample> {
  const sentAt = nowEpochMs();
  const t0 = performance.now();
  try {
    const res = await stack.client.request('POST', '/v1/tasks', {
      headers: { authorization: `Bearer ${stack.apiKey}`, 'idempotency-key': `"${randomUUID()}"` },
      body: { runtime: 'javascript', code: CODE, wait: WAIT_SECONDS, ...extra },
      timeoutMs,
    });
    const latencyMs = performance.now() - t0;
    const receivedAt = nowEpochMs();
    if (res.status !== 201) return { ok: false, latencyMs, sentAt, receivedAt, error: `HTTP ${res.status}: ${res.body.slice(0, 300)}` };
    const task = JSON.parse(res.body) as TaskView;
    const ok = task.status === 'succeeded' && task.result?.value === 2;
    return { ok, latencyMs, sentAt, receivedAt, task, ...(ok ? {} : { error: `task ${task.status}: ${res.body.slice(0, 300)}` }) };
  } catch (err) {
    return { ok: false, latencyMs: performance.now() - t0, sentAt, receivedAt: nowEpochMs(), error: String(err) };
  }
}

export interface Breakdown {
  /**
   * Mean ms per segment over the samples at or below the e2e p90 (outliers trimmed). Task
   * timestamps are ISO strings truncated to the millisecond; segments against the client's
   * sub-ms clock are corrected by the mean truncation (0.5 ms), so the segments add up to `total`.
   */
  clientToCreated: number;
  createdToStarted: number;
  startedToFinished: number;
  /** usage.wallMs (rounded to 1 ms by the runner): the host pool's run, acquire → result message. */
  hostRun: number;
  finishedToResponse: number;
  total: number;
  samples: number;
}

export interface LatencyResult {
  latency: Summary;
  errors: number;
  firstError?: string;
  breakdown: Breakdown;
}

type Done = Sample & { task: Required<TaskView> };

function breakdownOf(samples: Sample[]): Breakdown {
  const ok = samples.filter((s): s is Done => s.ok && !!s.task?.startedAt && !!s.task.finishedAt && !!s.task.usage);
  const p90 = summarize(ok.map((s) => s.latencyMs)).p90;
  const kept = ok.filter((s) => s.latencyMs <= p90);
  const at = (iso: string) => Date.parse(iso);
  const mean = (f: (s: Done) => number) => kept.reduce((sum, s) => sum + f(s), 0) / kept.length;
  return {
    clientToCreated: mean((s) => at(s.task.createdAt) + 0.5 - s.sentAt),
    createdToStarted: mean((s) => at(s.task.startedAt) - at(s.task.createdAt)),
    startedToFinished: mean((s) => at(s.task.finishedAt) - at(s.task.startedAt)),
    hostRun: mean((s) => s.task.usage.wallMs),
    finishedToResponse: mean((s) => s.receivedAt - (at(s.task.finishedAt) + 0.5)),
    total: mean((s) => s.latencyMs),
    samples: kept.length,
  };
}

/** Concurrency 1: `warmup` unrecorded tasks, then `samples` recorded ones. */
export async function latencyRun(stack: Stack, warmup = 50, samples = 300): Promise<LatencyResult> {
  for (let i = 0; i < warmup; i++) {
    const s = await runTask(stack);
    if (!s.ok && i === 0) throw new Error(`first warm-up task failed: ${s.error}`);
  }
  const list: Sample[] = [];
  for (let i = 0; i < samples; i++) list.push(await runTask(stack));
  const firstError = list.find((s) => !s.ok)?.error;
  return {
    latency: summarize(list.filter((s) => s.ok).map((s) => s.latencyMs)),
    errors: list.filter((s) => !s.ok).length,
    ...(firstError ? { firstError } : {}),
    breakdown: breakdownOf(list),
  };
}

export interface LevelResult {
  concurrency: number;
  measuredMs: number;
  completed: number;
  errors: number;
  firstError?: string;
  tasksPerSecond: number;
  latency: Summary;
  /** CPU ms per completed task, by process role, over the measured window. */
  cpuMsPerTask: Record<string, number>;
  /** Machine CPU busy over the window, in % of all cores. */
  machineBusyPct: number;
  /** Of which processes that are not the bench's (other people's work on the machine), in %. */
  othersBusyPct: number;
}

/**
 * `concurrency` slots each loop POST-with-wait. Completions during the first `warmupMs` are not
 * counted; the window then lasts `measureMs`; the level ends when every in-flight task is back.
 */
export async function throughputLevel(stack: Stack, concurrency: number, warmupMs: number, measureMs: number): Promise<LevelResult> {
  let phase: 'warmup' | 'measure' | 'drain' = 'warmup';
  const latencies: number[] = [];
  let completed = 0;
  let errors = 0;
  let firstError: string | undefined;
  const slot = async () => {
    while (phase !== 'drain') {
      const s = await runTask(stack);
      if (phase !== 'measure') continue;
      if (s.ok) {
        completed++;
        latencies.push(s.latencyMs);
      } else {
        errors++;
        firstError ??= s.error;
      }
    }
  };
  const slots = Array.from({ length: concurrency }, () => slot());
  await new Promise((r) => setTimeout(r, warmupMs));
  const roles = stack.cpuRoles();
  const before = snapshotCpu(roles);
  phase = 'measure';
  await new Promise((r) => setTimeout(r, measureMs));
  phase = 'drain';
  const after = snapshotCpu(roles);
  await Promise.all(slots);
  const cpu = cpuDelta(before, after);
  const cpuMsPerTask: Record<string, number> = {};
  for (const [role, ms] of Object.entries(cpu.perRole)) cpuMsPerTask[role] = completed ? ms / completed : Number.NaN;
  return {
    concurrency,
    measuredMs: cpu.wallMs,
    completed,
    errors,
    ...(firstError ? { firstError } : {}),
    tasksPerSecond: (completed * 1000) / cpu.wallMs,
    latency: summarize(latencies),
    cpuMsPerTask,
    machineBusyPct: (100 * cpu.machineBusyMs) / cpu.machineTotalMs,
    othersBusyPct: Math.max(0, (100 * (cpu.machineBusyMs - Object.values(cpu.perRole).reduce((a, b) => a + b, 0))) / cpu.machineTotalMs),
  };
}
