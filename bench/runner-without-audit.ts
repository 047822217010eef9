/**
 * BENCHMARK ONLY: a runner that writes no audit entries (task.started, terminal), for the
 * audit-on/off comparison of `npm run bench` (bench/audit-cost.ts). runner/worker.ts always
 * audits; no setting changes that.
 */
import { loadConfig } from '../runner/config.ts';
import { runnerLogger } from '../runner/runner-logger.ts';
import { startRunner } from '../runner/runner.ts';

const config = loadConfig();
const runner = await startRunner(config, runnerLogger(config), config.AIRLOCK_TASK_QUEUE, { audit: false });
const stop = () => {
  setTimeout(() => process.exit(1), 30_000).unref();
  void runner.close().then(() => process.exit(0), () => process.exit(1));
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
