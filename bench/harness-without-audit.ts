/**
 * BENCHMARK ONLY: the harness assembled WITHOUT the audit trail (no task lifecycle entries in the
 * store's scripts, no decision, 401, 429 or admin entries), so `npm run bench` can measure what
 * the audit trail adds to a task. With bench/runner-without-audit.ts on its own queue. A separate
 * entry point under bench/, not a setting: harness/server.ts always audits. Loopback only.
 */
import { runComparisonHarness } from './comparison-process.ts';
import { AuditProducer } from '../protocol/audit/producer.ts';

/** Appends nothing. */
class NoAudit extends AuditProducer {
  override async append(): Promise<void> {}
  override async heartbeat(): Promise<void> {}
}

// The service's whole assembly (API, broker listener, rollback), with no audit entries.
await runComparisonHarness('without audit', { audit: false, replace: (deps) => ({ audit: new NoAudit({ redis: deps.redis }) }) });
