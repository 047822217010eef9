/**
 * BENCHMARK ONLY: a runner that records no task metrics (runner/runner.ts `metrics: false`), for
 * the telemetry comparison of `npm run bench` (bench/telemetry-cost.ts). Traces are off in it as
 * in the runner as shipped without OTEL_EXPORTER_OTLP_ENDPOINT. runner/worker.ts always records.
 */

import { runComparisonRunner } from './comparison-process.ts';

await runComparisonRunner({ metrics: false });
