/**
 * BENCHMARK ONLY: the harness assembled WITHOUT the audit trail (no task lifecycle entries in the
 * store's scripts, no decision, 401, 429 or admin entries), so `npm run bench` can measure what
 * the audit trail adds to a task. With bench/runner-without-audit.ts on its own queue. A separate
 * entry point under bench/, not a setting: harness/server.ts always audits. Loopback only.
 */
import { loadConfig } from '../harness/config.ts';
import { startHarness } from '../harness/start-harness.ts';
import { AuditProducer } from '../protocol/audit/producer.ts';

/** Appends nothing. */
class NoAudit extends AuditProducer {
  override async append(): Promise<void> {}
  override async heartbeat(): Promise<void> {}
}

const config = loadConfig();
if (config.HOST !== '127.0.0.1') throw new Error('the unaudited bench harness listens on 127.0.0.1 only');
// The service's whole assembly (API, broker listener, rollback), with no audit entries.
const harness = await startHarness(config, { audit: false, replace: (deps) => ({ audit: new NoAudit({ redis: deps.redis }) }) });
const stop = async () => {
  await harness.close();
  process.exit(0);
};
process.once('SIGTERM', () => void stop());
process.once('SIGINT', () => void stop());
await harness.listen();
