/**
 * BENCHMARK ONLY: the harness assembled without per-request metrics (its observations are
 * no-ops) and, as shipped without OTEL_EXPORTER_OTLP_ENDPOINT, without the tracing SDK, so
 * `npm run bench` can show what metrics and the tracing hooks cost a task end to end
 * (bench/telemetry-cost.ts). A separate entry point under bench/, not a setting. Loopback only.
 */
import { loadConfig } from '../harness/config.ts';
import { HarnessMetrics } from '../harness/metrics/harness-metrics.ts';
import { startHarness } from '../harness/start-harness.ts';

/** Observes nothing. */
class UnrecordedMetrics extends HarnessMetrics {
  override observe(): void {}
  override capabilityCall(): void {}
}

const config = loadConfig();
if (config.HOST !== '127.0.0.1') throw new Error('the bench harness without telemetry listens on 127.0.0.1 only');
// The service's whole assembly (API, broker listener, rollback), with metrics that record nothing.
const harness = await startHarness(config, { replace: (deps) => ({ metrics: new UnrecordedMetrics({ queues: [deps.queue, deps.containerQueue] }) }) });
const stop = async () => {
  await harness.close();
  process.exit(0);
};
process.once('SIGTERM', () => void stop());
process.once('SIGINT', () => void stop());
await harness.listen();
