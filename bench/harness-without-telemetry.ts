/**
 * BENCHMARK ONLY: the harness assembled without per-request metrics (its observations are
 * no-ops) and, as shipped without OTEL_EXPORTER_OTLP_ENDPOINT, without the tracing SDK, so
 * `npm run bench` can show what metrics and the tracing hooks cost a task end to end
 * (bench/telemetry-cost.ts). A separate entry point under bench/, not a setting. Loopback only.
 */
import { buildApp } from '../harness/app.ts';
import { loadConfig } from '../harness/config.ts';
import { createHarnessDeps } from '../harness/deps.ts';
import { HarnessMetrics } from '../harness/metrics/harness-metrics.ts';

/** Observes nothing. */
class UnrecordedMetrics extends HarnessMetrics {
  override observe(): void {}
  override capabilityCall(): void {}
}

const config = loadConfig();
if (config.HOST !== '127.0.0.1') throw new Error('the bench harness without telemetry listens on 127.0.0.1 only');
const deps = await createHarnessDeps(config, config.AIRLOCK_TASK_QUEUE);
const app = await buildApp({ ...deps, metrics: new UnrecordedMetrics({ queues: [deps.queue, deps.containerQueue] }), logger: false });
const stop = async () => {
  await app.close();
  await deps.close();
  process.exit(0);
};
process.once('SIGTERM', () => void stop());
process.once('SIGINT', () => void stop());
await app.listen({ port: config.PORT, host: '127.0.0.1' });
