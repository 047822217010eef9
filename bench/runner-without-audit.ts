/**
 * BENCHMARK ONLY: a runner that writes no audit entries (task.started, terminal), for the
 * audit-on/off comparison of `npm run bench` (bench/audit-cost.ts). runner/worker.ts always
 * audits; no setting changes that.
 */

import { runComparisonRunner } from './comparison-process.ts';

await runComparisonRunner({ audit: false });
