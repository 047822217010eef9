/**
 * What the audit trail adds to a trivial isolate task end to end: the same `1+1` POST-with-wait,
 * sent alternately to the stack as shipped (the harness appends task.created, which carries the
 * create decision, in the create script; the runner task.started and task.succeeded in its
 * transitions) and to a benchmark-only harness and runner assembled without audit entries
 * (bench/harness-without-audit.ts, bench/runner-without-audit.ts) on a queue of their own, same
 * Redis. Alternating cancels drift between the two series.
 */
import { HttpClient } from './http.ts';
import { benchRunnerEnv, postOnePlusOne } from './one-plus-one.ts';
import { spawnService, stopService } from './proc.ts';
import { ROOT, freePort, harnessNodeFlags, type Stack } from './stack.ts';
import { summarize, type Summary } from './stats.ts';

export interface AuditCostResult {
  withAudit: Summary;
  withoutAudit: Summary;
  /** p50 with − p50 without, ms. */
  addedP50: number;
  errors: number;
}


export async function auditCost(stack: Stack, warmup: number, samples: number, isolateHosts: number): Promise<AuditCostResult> {
  const port = await freePort();
  const queue = `${stack.queueName}-noaudit`;
  const env = stack.harnessEnv;
  const runner = spawnService(
    'runner without audit (bench only)',
    ['--no-node-snapshot', '--import', 'tsx', 'bench/runner-without-audit.ts'],
    benchRunnerEnv(env, queue, isolateHosts, 'bench-noaudit'),
    ROOT,
  );
  const harness = spawnService(
    'harness without audit (bench only)',
    [...harnessNodeFlags(), '--import', 'tsx', 'bench/harness-without-audit.ts'],
    { ...env, AIRLOCK_TASK_QUEUE: queue, PORT: String(port) },
    ROOT,
  );
  const bareClient = new HttpClient(`http://127.0.0.1:${port}`);
  try {
    // Ready once a task runs through both (the runner registers, the harness listens).
    const deadline = Date.now() + 90_000;
    for (;;) {
      for (const s of [runner, harness]) if (!s.isAlive()) throw new Error(`${s.name} exited:\n${s.tail()}`);
      const ok = await postOnePlusOne(bareClient, stack.apiKey).catch(() => null);
      if (ok !== null) break;
      if (Date.now() > deadline) throw new Error(`the unaudited bench stack did not start:\n${harness.tail()}\n${runner.tail()}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    const withA: number[] = [];
    const withoutA: number[] = [];
    let errors = 0;
    for (let i = 0; i < warmup + samples; i++) {
      const order = i % 2 === 0 ? (['with', 'without'] as const) : (['without', 'with'] as const);
      for (const which of order) {
        const ms = await postOnePlusOne(which === 'with' ? stack.client : bareClient, stack.apiKey);
        if (ms === null) errors++;
        else if (i >= warmup) (which === 'with' ? withA : withoutA).push(ms);
      }
    }
    const withAudit = summarize(withA);
    const withoutAudit = summarize(withoutA);
    return { withAudit, withoutAudit, addedP50: withAudit.p50 - withoutAudit.p50, errors };
  } finally {
    bareClient.close();
    await Promise.all([stopService(harness), stopService(runner)]);
  }
}
