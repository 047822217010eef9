/**
 * BENCHMARK ONLY: a runner that records no task metrics (runner/runner.ts `metrics: false`), for
 * the telemetry comparison of `npm run bench` (bench/telemetry-cost.ts). Traces are off in it as
 * in the runner as shipped without OTEL_EXPORTER_OTLP_ENDPOINT. runner/worker.ts always records.
 */
import { loadConfig } from '../runner/config.ts';
import { runnerLogger } from '../runner/runner-logger.ts';
import { startRunner } from '../runner/runner.ts';

const config = loadConfig();
const runner = await startRunner(config, runnerLogger(config), config.AIRLOCK_TASK_QUEUE, { metrics: false });
const stop = () => {
  setTimeout(() => process.exit(1), 30_000).unref();
  void runner.close().then(() => process.exit(0), () => process.exit(1));
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
