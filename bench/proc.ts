/**
 * Child processes the bench starts (and only those): spawn in their own process group, stop
 * the group, and a last-resort synchronous kill on exit. Plus CPU accounting from /proc.
 */
import { execFileSync, fork, spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

export interface Service {
  name: string;
  child: ChildProcess;
  pid: number;
  /** Last ~8 KiB of stdout+stderr, for error reports. */
  tail(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  isAlive(): boolean;
}

/** Process-group leaders we started and have not seen exit. */
const groups = new Set<number>();
/** Plain children (forked floors) we started and have not seen exit. */
const children = new Set<ChildProcess>();

function track(child: ChildProcess, group: boolean) {
  const pid = child.pid;
  if (pid === undefined) throw new Error('spawn failed (no pid)');
  if (group) groups.add(pid);
  else children.add(child);
  return new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => {
      if (group) groups.delete(pid);
      else children.delete(child);
      resolve({ code, signal });
    });
  });
}

/** Spawns a long-running service in its own process group (so its own children go with it). */
export function spawnService(name: string, args: string[], env: NodeJS.ProcessEnv, cwd: string): Service {
  const child = spawn(process.execPath, args, { cwd, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let tail = '';
  const keep = (chunk: Buffer) => {
    tail = (tail + chunk.toString('utf8')).slice(-8192);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = track(child, true);
  let alive = true;
  void exited.then(() => (alive = false));
  return { name, child, pid: child.pid as number, tail: () => tail, exited, isAlive: () => alive };
}

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    /* already gone */
  }
}

/** SIGTERM to the service's group, then SIGKILL to the group after `graceMs`. */
export async function stopService(service: Service, graceMs = 8000): Promise<void> {
  if (service.isAlive()) {
    killGroup(service.pid, 'SIGTERM');
    const timer = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), graceMs).unref());
    if ((await Promise.race([service.exited, timer])) === 'timeout') killGroup(service.pid, 'SIGKILL');
    await Promise.race([service.exited, new Promise((r) => setTimeout(r, 2000).unref())]);
  }
  // Whatever the leader left behind in its group (e.g. isolate hosts) goes too.
  killGroup(service.pid, 'SIGKILL');
  groups.delete(service.pid);
}

/** Forks a TypeScript module of the bench with an IPC channel (killed on bench exit). */
export function forkChild(modulePath: string, args: string[]): { child: ChildProcess; exited: Promise<unknown>; stderr: () => string } {
  const child = fork(modulePath, args, {
    execArgv: ['--no-node-snapshot', '--import', 'tsx'],
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    serialization: 'json',
  });
  let stderr = '';
  child.stderr?.on('data', (c: Buffer) => (stderr = (stderr + c.toString('utf8')).slice(-8192)));
  return { child, exited: track(child, false), stderr: () => stderr };
}

/** Synchronous last resort (process 'exit' handler): SIGKILL everything we started. */
export function killAllSync(): void {
  for (const pid of groups) killGroup(pid, 'SIGKILL');
  for (const child of children) child.kill('SIGKILL');
  groups.clear();
  children.clear();
}

let clkTck = 0;
function ticksPerSecond(): number {
  if (clkTck) return clkTck;
  try {
    clkTck = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    clkTck = 100;
  }
  return clkTck;
}

function readStat(pid: number): { ppid: number; cpuTicks: number } | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the `(comm)`, which may contain spaces.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // rest[0] = state (field 3), so field N is rest[N - 3].
    return { ppid: Number(rest[1]), cpuTicks: Number(rest[11]) + Number(rest[12]) };
  } catch {
    return null;
  }
}

/** CPU time (user+system, all threads) of a process in ms, or null if it is gone. */
export function cpuMsOf(pid: number): number | null {
  const s = readStat(pid);
  return s ? (s.cpuTicks * 1000) / ticksPerSecond() : null;
}

/** Pids whose parent is `pid`. */
export function childPids(pid: number): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    if (readStat(Number(entry))?.ppid === pid) out.push(Number(entry));
  }
  return out;
}

/** Machine-wide busy and total CPU time in ms (from /proc/stat). */
export function machineCpuMs(): { busy: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
  const f = line.trim().split(/\s+/).slice(1).map(Number);
  const total = f.reduce((s, x) => s + x, 0);
  const idle = (f[3] ?? 0) + (f[4] ?? 0);
  const k = 1000 / ticksPerSecond();
  return { busy: (total - idle) * k, total: total * k };
}

/** A named set of processes whose CPU use is compared between two snapshots. */
export type CpuRoles = Record<string, () => number[]>;
export type CpuSnapshot = { at: number; perRole: Record<string, Map<number, number>>; machine: { busy: number; total: number } };

export function snapshotCpu(roles: CpuRoles): CpuSnapshot {
  const perRole: Record<string, Map<number, number>> = {};
  for (const [role, pids] of Object.entries(roles)) {
    const m = new Map<number, number>();
    for (const pid of pids()) {
      const own = pid === process.pid ? process.cpuUsage() : null;
      const ms = own ? (own.user + own.system) / 1000 : cpuMsOf(pid);
      if (ms !== null) m.set(pid, ms);
    }
    perRole[role] = m;
  }
  return { at: performance.now(), perRole, machine: machineCpuMs() };
}

/** CPU ms used per role between two snapshots (processes that appeared count from 0). */
export function cpuDelta(a: CpuSnapshot, b: CpuSnapshot): { wallMs: number; perRole: Record<string, number>; machineBusyMs: number; machineTotalMs: number } {
  const perRole: Record<string, number> = {};
  for (const [role, after] of Object.entries(b.perRole)) {
    const before = a.perRole[role] ?? new Map<number, number>();
    let sum = 0;
    for (const [pid, ms] of after) sum += ms - (before.get(pid) ?? 0);
    perRole[role] = sum;
  }
  return {
    wallMs: b.at - a.at,
    perRole,
    machineBusyMs: b.machine.busy - a.machine.busy,
    machineTotalMs: b.machine.total - a.machine.total,
  };
}

/** Share of all cores busy over `ms` (what the machine is doing before the bench starts), in %. */
export async function machineBusyPct(ms = 1000): Promise<number> {
  const a = machineCpuMs();
  await new Promise((r) => setTimeout(r, ms));
  const b = machineCpuMs();
  return (100 * (b.busy - a.busy)) / (b.total - a.total);
}
