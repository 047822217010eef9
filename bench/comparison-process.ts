/**
 * BENCHMARK ONLY: what the bench's comparison processes (bench/{harness,runner}-without-*.ts)
 * share — the service's own assembly with one part changed, loopback only, stopped on
 * SIGTERM/SIGINT.
 */
// The runner's own V8 flags, as runner/worker.ts sets them: comparison runners run like the real one.
import '../runner/v8-flags.ts';
import { loadConfig as loadHarnessConfig } from '../harness/config.ts';
import { startHarness, type HarnessAssembly } from '../harness/start-harness.ts';
import { loadConfig as loadRunnerConfig } from '../runner/config.ts';
import { runnerLogger } from '../runner/runner-logger.ts';
import { startRunner } from '../runner/runner.ts';

/** Runs the harness with `assembly`; `what` names it in the loopback-only refusal. */
export async function runComparisonHarness(what: string, assembly: HarnessAssembly): Promise<void> {
  const config = loadHarnessConfig();
  if (config.HOST !== '127.0.0.1') throw new Error(`the bench harness ${what} listens on 127.0.0.1 only`);
  const harness = await startHarness(config, assembly);
  const stop = async () => {
    await harness.close();
    process.exit(0);
  };
  process.once('SIGTERM', () => void stop());
  process.once('SIGINT', () => void stop());
  await harness.listen();
}

/** Runs a runner with `assembly` (runner.ts's benchmark-only switches). */
export async function runComparisonRunner(assembly: Parameters<typeof startRunner>[3]): Promise<void> {
  const config = loadRunnerConfig();
  const runner = await startRunner(config, runnerLogger(config), config.AIRLOCK_TASK_QUEUE, assembly);
  const stop = () => {
    setTimeout(() => process.exit(1), 30_000).unref();
    void runner.close().then(() => process.exit(0), () => process.exit(1));
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}
