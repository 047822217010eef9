/**
 * A precise timeline of a few sequential e2e tasks, from Redis MONITOR (µs timestamps) with each
 * Redis connection attributed to its process (harness / runner / bench) through /proc. Run after
 * the measured phases: MONITOR slows Redis a little, so these tasks are not part of any number.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import * as bullScripts from 'bullmq/dist/esm/scripts/index.js';
import { Redis } from 'ioredis';
import { runTask } from './e2e.ts';
import type { Stack } from './stack.ts';
import { median } from './stats.ts';

interface Event {
  t: number;
  who: string;
  what: string;
}

export interface TraceStep {
  who: string;
  what: string;
  /** Median offset from the POST being sent, ms. */
  atMs: number;
  /** Difference from the previous step's median, ms. */
  gapMs: number;
}

export interface TraceResult {
  tasks: number;
  /** Fewest tasks any shown step was seen in (steps seen in < 80% of tasks are left out). */
  matching: number;
  steps: TraceStep[];
}

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g;
const STATUSES = new Set(['queued', 'running', 'succeeded', 'failed', 'timed_out', 'cancelled']);

function bullScriptNames(): Map<string, string> {
  const map = new Map<string, string>();
  for (const s of Object.values(bullScripts) as unknown[]) {
    const script = s as { name?: unknown; content?: unknown };
    if (typeof script.name === 'string' && typeof script.content === 'string') {
      map.set(createHash('sha1').update(script.content).digest('hex'), `bullmq ${script.name}`);
    }
  }
  return map;
}

/** Local TCP port → role, for the sockets the given processes hold. */
function portOwners(roles: Record<string, number[]>): Map<number, string> {
  const inodeRole = new Map<string, string>();
  for (const [role, pids] of Object.entries(roles)) {
    for (const pid of pids) {
      let fds: string[] = [];
      try {
        fds = readdirSync(`/proc/${pid}/fd`);
      } catch {
        continue;
      }
      for (const fd of fds) {
        try {
          const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
          if (m?.[1]) inodeRole.set(m[1], role);
        } catch {
          /* fd closed meanwhile */
        }
      }
    }
  }
  const out = new Map<number, string>();
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let lines: string[] = [];
    try {
      lines = readFileSync(file, 'utf8').split('\n').slice(1);
    } catch {
      continue;
    }
    for (const line of lines) {
      const cols = line.trim().split(/\s+/);
      const local = cols[1];
      const inode = cols[9];
      if (!local || !inode) continue;
      const role = inodeRole.get(inode);
      if (role) out.set(parseInt(local.slice(local.lastIndexOf(':') + 1), 16), role);
    }
  }
  return out;
}

function shorten(s: string | undefined, queueName: string): string {
  if (s === undefined) return '';
  return s
    .replaceAll(`bull:${queueName}:`, 'bull:')
    .replace(UUID, '<id>')
    .replace(/[0-9a-f]{40,64}/g, '…');
}

function describe(args: string[], scripts: Map<string, string>, queueName: string): string {
  const cmd = (args[0] ?? '?').toLowerCase();
  if (cmd === 'evalsha' || cmd === 'eval') {
    const n = Number(args[2]);
    const keys = args.slice(3, 3 + n);
    const argv = args.slice(3 + n);
    const known = cmd === 'evalsha' ? scripts.get(args[1] ?? '') : undefined;
    if (known) return known;
    const k0 = keys[0] ?? '';
    let name = `${cmd} ${shorten(k0, queueName)}`;
    if (k0.startsWith('airlock:task:')) {
      if (n === 2 && STATUSES.has(argv[0] ?? '')) name = `task transition → ${argv[0]}`;
      else if (n === 2 && (argv[0] ?? '').startsWith('{')) name = 'task appendOutput';
      else if (n === 2) name = 'task start → running';
      else name = 'task annotate';
    }
    return cmd === 'eval' ? `${name} (EVAL: script not cached)` : name;
  }
  const extra = cmd === 'set' && args.includes('NX') ? ' NX' : '';
  return `${cmd} ${shorten(args[1], queueName)}${extra}`;
}

export async function traceTasks(stack: Stack, redisUrl: string, db: number, tasks = 30): Promise<TraceResult> {
  const scripts = bullScriptNames();
  const roles = { harness: [stack.harness.pid], runner: [stack.runner.pid], bench: [process.pid] };
  const monitorClient = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
  monitorClient.on('error', () => {});
  const monitor = await monitorClient.monitor();
  // ioredis can fail to tell MONITOR's lines from its "OK" when both arrive in one read under
  // heavy traffic ("Command queue state error"): the timeline then misses lines, the bench goes
  // on (an 'error' without a listener would end the process; the trace is no figure of the run).
  monitor.on('error', () => {});
  const raw: { t: number; port: number; args: string[] }[] = [];
  monitor.on('monitor', (time: string, args: string[], source: string, database: string) => {
    if (Number(database) !== db || source === 'lua') return;
    raw.push({ t: Number(time) * 1000, port: Number(source.slice(source.lastIndexOf(':') + 1)), args });
  });
  const windows: { sent: number; received: number }[] = [];
  try {
    for (let i = 0; i < tasks + 3; i++) {
      const s = await runTask(stack, 30_000);
      if (!s.ok) throw new Error(`trace task failed: ${s.error}`);
      if (i >= 3) windows.push({ sent: s.sentAt, received: s.receivedAt });
      // A gap, so the runner's trailing commands of one task do not mix with the next.
      await new Promise((r) => setTimeout(r, 15));
    }
    await new Promise((r) => setTimeout(r, 50));
  } finally {
    monitor.disconnect();
    monitorClient.disconnect();
  }
  const owners = portOwners(roles);
  const perTask: Event[][] = windows.map((w, i) => {
    const end = Math.min(windows[i + 1]?.sent ?? Infinity, w.received + 10);
    const events: Event[] = raw
      .filter((e) => e.t >= w.sent - 0.05 && e.t < end)
      .map((e) => ({ t: e.t - w.sent, who: owners.get(e.port) ?? `port ${e.port}`, what: describe(e.args, scripts, stack.queueName) }))
      // Periodic noise that is not part of a task.
      .filter((e) => !/^zadd airlock:runners/.test(e.what));
    events.push({ t: 0, who: 'bench', what: 'POST /v1/tasks sent' });
    events.push({ t: w.received - w.sent, who: 'bench', what: 'response received' });
    return events.sort((a, b) => a.t - b.t);
  });
  // Label repeated commands by occurrence (`hgetall …` #1, #2, …) and keep the labels present in
  // at least 80% of the tasks; each step's time is the median over the tasks that have it.
  const labelled = perTask.map((evs) => {
    const seen = new Map<string, number>();
    return evs.map((e) => {
      const key = `${e.who}|${e.what}`;
      const k = (seen.get(key) ?? 0) + 1;
      seen.set(key, k);
      return { ...e, key: `${key}|${k}`, occurrence: k };
    });
  });
  const present = new Map<string, { who: string; what: string; occurrence: number; times: number[] }>();
  for (const evs of labelled) {
    for (const e of evs) {
      const entry = present.get(e.key) ?? { who: e.who, what: e.what, occurrence: e.occurrence, times: [] };
      entry.times.push(e.t);
      present.set(e.key, entry);
    }
  }
  const common = [...present.values()]
    .filter((p) => p.times.length >= 0.8 * perTask.length)
    .map((p) => ({ who: p.who, what: p.occurrence > 1 ? `${p.what} (#${p.occurrence})` : p.what, atMs: median(p.times) }))
    .sort((a, b) => a.atMs - b.atMs);
  const steps: TraceStep[] = common.map((c, i) => ({ ...c, gapMs: i === 0 ? 0 : c.atMs - (common[i - 1]?.atMs ?? 0) }));
  const matching = Math.min(...[...present.values()].filter((p) => p.times.length >= 0.8 * perTask.length).map((p) => p.times.length));
  return { tasks: windows.length, matching, steps };
}
