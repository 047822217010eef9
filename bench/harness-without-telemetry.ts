/**
 * BENCHMARK ONLY: the harness assembled without per-request metrics (its observations are
 * no-ops) and, as shipped without OTEL_EXPORTER_OTLP_ENDPOINT, without the tracing SDK, so
 * `npm run bench` can show what metrics and the tracing hooks cost a task end to end
 * (bench/telemetry-cost.ts). A separate entry point under bench/, not a setting. Loopback only.
 */
import { runComparisonHarness } from './comparison-process.ts';
import { HarnessMetrics } from '../harness/metrics/harness-metrics.ts';

/** Observes nothing. */
class UnrecordedMetrics extends HarnessMetrics {
  override observe(): void {}
  override capabilityCall(): void {}
}

// The service's whole assembly (API, broker listener, rollback), with metrics that record nothing.
await runComparisonHarness('without telemetry', { replace: (deps) => ({ metrics: new UnrecordedMetrics({ queues: [deps.queue, deps.containerQueue] }) }) });
