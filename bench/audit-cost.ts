/**
 * What the audit trail adds to a trivial isolate task end to end: the same `1+1` POST-with-wait,
 * sent alternately to a harness and runner as shipped (harness/server.ts, runner/worker.ts: the
 * harness appends task.created, which carries the create decision, in the create script; the
 * runner task.started and task.succeeded in its transitions) and to a benchmark-only harness and
 * runner assembled without audit entries (bench/harness-without-audit.ts,
 * bench/runner-without-audit.ts). Both pairs are started here, together, with the same settings,
 * each on a queue of its own, same Redis: they differ in the audit trail only (not in how long
 * they have run or what else they served, as the bench's main stack would). Alternating cancels
 * drift between the two series. The CPU time each pair's harness and runner spent over the
 * series, per task, is reported too: a figure the machine's other load moves far less.
 */
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { HttpClient } from './http.ts';
import { benchRunnerEnv, postOnePlusOne } from './one-plus-one.ts';
import { cpuMsOf, spawnService, stopService, type Service } from './proc.ts';
import { ROOT, cpuProfArgs, freePort, harnessNodeFlags, type Stack } from './stack.ts';
import { summarize, type Summary } from './stats.ts';

export interface AuditCostResult {
  withAudit: Summary;
  withoutAudit: Summary;
  /** p50 with − p50 without, ms. */
  addedP50: number;
  /** CPU ms per task of each pair's harness and runner processes over the series. */
  cpuPerTask: { withAudit: { harness: number; runner: number }; withoutAudit: { harness: number; runner: number } };
  errors: number;
}

/** A harness and a runner on a queue of their own. */
interface Pair {
  harness: Service;
  runner: Service;
  client: HttpClient;
}

/**
 * BENCH_PROFILE_WINDOW=1: each pair's harness and runner are CPU-profiled over the measured series
 * only (bench/profile-window.ts), into bench/results/cpu-prof/audit-window-<time>/.
 */
const WINDOW_DIR = process.env['BENCH_PROFILE_WINDOW']
  ? path.join(ROOT, 'bench', 'results', 'cpu-prof', `audit-window-${new Date().toISOString().replace(/[:.]/g, '-')}`)
  : null;

function windowArgs(name: string): { args: string[]; env: Record<string, string> } {
  if (!WINDOW_DIR) return { args: [], env: {} };
  mkdirSync(WINDOW_DIR, { recursive: true });
  return { args: ['--import', './bench/profile-window.ts'], env: { BENCH_PROFILE_WINDOW_DIR: WINDOW_DIR, BENCH_PROFILE_NAME: name } };
}

/** Starts (first call) or stops and writes (second call) the window profiles of every process. */
async function toggleWindow(pairs: readonly Pair[], wait: boolean): Promise<void> {
  if (!WINDOW_DIR) return;
  for (const pair of pairs) for (const s of [pair.harness, pair.runner]) process.kill(s.pid, 'SIGWINCH');
  if (!wait) return;
  const deadline = Date.now() + 30_000;
  const names = pairs.flatMap((p) => [p.harness.name, p.runner.name]);
  while (Date.now() < deadline && !names.every((n) => existsSync(path.join(WINDOW_DIR, `${profileName(n)}.cpuprofile`)))) {
    await new Promise((r) => setTimeout(r, 200));
  }
}

const profileName = (serviceName: string) => serviceName.replace(/[^a-z]+/gi, '-');

async function startPair(stack: Stack, audited: boolean, isolateHosts: number): Promise<Pair> {
  const port = await freePort();
  const brokerPort = await freePort();
  const queue = `${stack.queueName}-${audited ? 'audit' : 'noaudit'}`;
  const env = stack.harnessEnv;
  const runnerName = audited ? 'runner as shipped (audit cost)' : 'runner without audit (bench only)';
  const runnerWindow = windowArgs(profileName(runnerName));
  const runner = spawnService(
    runnerName,
    [...cpuProfArgs(), '--no-node-snapshot', '--import', 'tsx', ...runnerWindow.args, audited ? 'runner/worker.ts' : 'bench/runner-without-audit.ts'],
    { ...benchRunnerEnv(env, queue, isolateHosts, audited ? 'bench-audit' : 'bench-noaudit', { BROKER_URL: `http://127.0.0.1:${brokerPort}` }), ...runnerWindow.env },
    ROOT,
  );
  const harnessName = audited ? 'harness as shipped (audit cost)' : 'harness without audit (bench only)';
  const harnessWindow = windowArgs(profileName(harnessName));
  const harness = spawnService(
    harnessName,
    [...cpuProfArgs(), ...harnessNodeFlags(), '--import', 'tsx', ...harnessWindow.args, audited ? 'harness/server.ts' : 'bench/harness-without-audit.ts'],
    { ...env, AIRLOCK_TASK_QUEUE: queue, PORT: String(port), BROKER_PORT: String(brokerPort), ...harnessWindow.env },
    ROOT,
  );
  return { harness, runner, client: new HttpClient(`http://127.0.0.1:${port}`) };
}

/** CPU ms the pair's harness and runner processes have used so far. */
function pairCpu(pair: Pair): { harness: number; runner: number } {
  return { harness: cpuMsOf(pair.harness.pid) ?? Number.NaN, runner: cpuMsOf(pair.runner.pid) ?? Number.NaN };
}


export async function auditCost(stack: Stack, warmup: number, samples: number, isolateHosts: number): Promise<AuditCostResult> {
  const withPair = await startPair(stack, true, isolateHosts);
  const withoutPair = await startPair(stack, false, isolateHosts);
  const pairs = [withPair, withoutPair];
  try {
    // Ready once a task runs through each (the runner registers, the harness listens).
    const deadline = Date.now() + 90_000;
    for (const pair of pairs) {
      for (;;) {
        for (const s of [pair.runner, pair.harness]) if (!s.isAlive()) throw new Error(`${s.name} exited:\n${s.tail()}`);
        const ok = await postOnePlusOne(pair.client, stack.apiKey).catch(() => null);
        if (ok !== null) break;
        if (Date.now() > deadline) throw new Error(`an audit-cost bench pair did not start:\n${pair.harness.tail()}\n${pair.runner.tail()}`);
        await new Promise((r) => setTimeout(r, 200));
      }
    }
    const withA: number[] = [];
    const withoutA: number[] = [];
    let errors = 0;
    let cpu0 = pairs.map(pairCpu);
    for (let i = 0; i < warmup + samples; i++) {
      if (i === warmup) {
        cpu0 = pairs.map(pairCpu);
        await toggleWindow(pairs, false);
      }
      const order = i % 2 === 0 ? (['with', 'without'] as const) : (['without', 'with'] as const);
      for (const which of order) {
        const ms = await postOnePlusOne(which === 'with' ? withPair.client : withoutPair.client, stack.apiKey);
        if (ms === null) errors++;
        else if (i >= warmup) (which === 'with' ? withA : withoutA).push(ms);
      }
    }
    const cpu1 = pairs.map(pairCpu);
    await toggleWindow(pairs, true);
    const perTask = (k: number) => ({
      harness: ((cpu1[k]?.harness ?? 0) - (cpu0[k]?.harness ?? 0)) / samples,
      runner: ((cpu1[k]?.runner ?? 0) - (cpu0[k]?.runner ?? 0)) / samples,
    });
    const withAudit = summarize(withA);
    const withoutAudit = summarize(withoutA);
    return { withAudit, withoutAudit, addedP50: withAudit.p50 - withoutAudit.p50, cpuPerTask: { withAudit: perTask(0), withoutAudit: perTask(1) }, errors };
  } finally {
    for (const pair of pairs) pair.client.close();
    await Promise.all(pairs.flatMap((pair) => [stopService(pair.harness), stopService(pair.runner)]));
  }
}
