/** Assembles the rollback from the harness's deps and the broker's parts (composition root: server.ts, tests). */
import { duplicateClient } from '../../protocol/redis-connection.ts';
import type { HarnessDeps } from '../deps.ts';
import type { BrokerDeps } from '../broker/broker-call.ts';
import { RollbackService } from './rollback-service.ts';

export interface Rollback {
  service: RollbackService;
  /** Stops the rollback and closes its connection. Idempotent. */
  close(): Promise<void>;
}

export async function startRollback(deps: HarnessDeps, broker: BrokerDeps): Promise<Rollback> {
  const { config } = deps;
  const queueConnection = duplicateClient(deps.redis, { enableOfflineQueue: true, maxRetriesPerRequest: null });
  queueConnection.on('error', () => {});
  const service = await RollbackService.start({
    redis: deps.redis,
    queueConnection,
    prefix: config.AIRLOCK_QUEUE_PREFIX,
    taskQueue: deps.queue.name,
    broker,
    store: deps.store,
    notifier: deps.notifier,
    audit: deps.audit,
    maxAttempts: config.ROLLBACK_MAX_ATTEMPTS,
    backoffMs: config.ROLLBACK_BACKOFF_MS,
    pollMs: config.ROLLBACK_POLL_MS,
    lockMs: config.ROLLBACK_LOCK_MS,
    log: (msg, fields) => {
      if (config.LOG_LEVEL !== 'silent') console.error(JSON.stringify({ level: 40, msg, ...fields }));
    },
  });
  let closing: Promise<void> | null = null;
  return {
    service,
    close() {
      closing ??= service.close().finally(() => queueConnection.disconnect());
      return closing;
    },
  };
}
