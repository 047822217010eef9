import { Queue } from 'bullmq';
import { asCommandClient, createRedisClient, duplicateClient } from '../protocol/redis-connection.ts';
import { FsBlobStore } from '../protocol/blobs/fs-blob-store.ts';
import { containerQueueName } from '../protocol/redis-keys.ts';
import { TaskStore } from '../protocol/task-store.ts';
import { AuditProducer } from '../protocol/audit/producer.ts';
import { AuditReader } from './audit/audit-reader.ts';
import type { AppDeps } from './app.ts';
import { HarnessMetrics } from './metrics/harness-metrics.ts';
import { ApiKeyAuthenticator } from './auth/api-key-authenticator.ts';
import { CredentialAuthenticator } from './auth/credential-authenticator.ts';
import { IdentityStore } from './identity/identity-store.ts';
import { TokenService } from './identity/token-service.ts';
import type { Config } from './config.ts';
import { LostJobReconciler } from './tasks/lost-job-reconciler.ts';
import { TaskNotifier } from './tasks/task-notifier.ts';
import { CredentialStore } from './vault/credential-store.ts';
import { parsePrivateTargets } from './broker/outbound/private-targets.ts';
import { WebhookDelivery } from './webhooks/webhook-delivery.ts';
import { WebhookSecrets } from './webhooks/webhook-secrets.ts';
import { loadVaultKeyring } from './vault/vault-keys.ts';

export interface HarnessDeps extends AppDeps {
  /** Closes every connection and listener these deps opened. Idempotent. */
  close(): Promise<void>;
}

/** Connects the harness's collaborators (Redis, queue, notifier, authenticator). */
export async function createHarnessDeps(
  config: Config,
  queueName = config.AIRLOCK_TASK_QUEUE,
  /**
   * BENCHMARK ONLY (bench/harness-without-audit.ts): `audit: false` builds a task store that
   * writes no audit entries. harness/server.ts never passes it, and no setting changes it.
   */
  assembly: { audit?: boolean } = {},
): Promise<HarnessDeps> {
  // Fail fast instead of queueing commands while Redis is down (the request gets a 500/503).
  // A standalone Redis or a Redis Cluster (REDIS_CLUSTER_NODES): protocol/redis-connection.ts.
  const redis = asCommandClient(createRedisClient(config, { enableOfflineQueue: false, maxRetriesPerRequest: 1 }));
  redis.on('error', () => {});
  await new Promise<void>((resolve, reject) => {
    redis.once('ready', resolve);
    redis.once('end', () => reject(new Error(`cannot connect to Redis at ${config.REDIS_URL}`)));
  });
  const queueConnection = duplicateClient(redis, { enableOfflineQueue: true, maxRetriesPerRequest: null });
  // The one place the harness's queues get their options (prefix: docs/scaling.md).
  const queueOptions = { connection: queueConnection, prefix: config.AIRLOCK_QUEUE_PREFIX };
  const queue = new Queue(queueName, queueOptions);
  queue.on('error', () => {});
  const containerQueue = new Queue(containerQueueName(queueName), queueOptions);
  containerQueue.on('error', () => {});
  // Appends on the fail-fast connection: a change whose entry cannot be written is not made.
  // The task store appends each transition's entry in the script that makes it.
  const audit = new AuditProducer({ redis });
  const stopAuditHeartbeat = audit.startHeartbeat();
  const store = new TaskStore({
    redis,
    retentionMs: config.TASK_RETENTION_MS,
    defaultQuotaBytes: config.STORAGE_QUOTA_BYTES,
    rollbackQueue: queueName,
    ...(assembly.audit === false ? {} : { audit }),
  });
  const blobs = new FsBlobStore(config.BLOB_DIR);
  const notifier = await TaskNotifier.create(redis);
  const reconcilers = [
    await LostJobReconciler.start({ redis, queue, store }),
    await LostJobReconciler.start({ redis, queue: containerQueue, store }),
  ];
  const configKeys = await ApiKeyAuthenticator.fromConfig({
    ...(config.AIRLOCK_AGENTS_FILE ? { agentsFile: config.AIRLOCK_AGENTS_FILE } : {}),
    ...(config.AIRLOCK_DEV_API_KEY ? { devApiKey: config.AIRLOCK_DEV_API_KEY } : {}),
    ...(config.AIRLOCK_ADMIN_API_KEY ? { adminApiKey: config.AIRLOCK_ADMIN_API_KEY } : {}),
    adminTenant: config.AIRLOCK_ADMIN_TENANT,
  });
  const identity = new IdentityStore(redis);
  const tokens = new TokenService({
    identity,
    signingKey: config.AIRLOCK_TOKEN_SIGNING_KEY,
    issuer: config.AIRLOCK_TOKEN_ISSUER,
    audience: config.AIRLOCK_TOKEN_AUDIENCE,
    maxTtlSeconds: config.TOKEN_MAX_TTL_SECONDS,
    warn: (message) => {
      if (config.LOG_LEVEL !== 'silent') process.emitWarning(message, { code: 'AIRLOCK_EPHEMERAL_TOKEN_KEY' });
    },
  });
  const authenticator = new CredentialAuthenticator({ configKeys, identity, tokens });
  const auditReader = new AuditReader({ dir: config.AUDIT_DIR });
  const vaultKeys = loadVaultKeyring(config.AIRLOCK_VAULT_KEY);
  if (vaultKeys.ephemeral && config.LOG_LEVEL !== 'silent') {
    process.emitWarning(
      'AIRLOCK_VAULT_KEY is not set: the credentials vault uses a key made for this process only; ' +
        'credentials stored now cannot be read after a restart',
      { code: 'AIRLOCK_EPHEMERAL_VAULT_KEY' },
    );
  }
  const credentials = new CredentialStore(redis, vaultKeys);
  const webhookSecrets = new WebhookSecrets(redis, vaultKeys);
  const webhooks = new WebhookDelivery({
    redis,
    queueConnection,
    queueName: `${queueName}-webhooks`,
    store,
    notifier,
    secrets: webhookSecrets,
    opened: parsePrivateTargets(config.WEBHOOK_PRIVATE_TARGETS),
    maxAttempts: config.WEBHOOK_MAX_ATTEMPTS,
    backoffMs: config.WEBHOOK_BACKOFF_MS,
    timeoutMs: config.WEBHOOK_TIMEOUT_MS,
    log: (msg, fields) => {
      if (config.LOG_LEVEL !== 'silent') console.error(JSON.stringify({ level: 40, msg, ...fields }));
    },
  });
  const metrics = new HarnessMetrics({ queues: [queue, containerQueue] });
  let closing: Promise<void> | null = null;
  return {
    config,
    redis,
    queue,
    containerQueue,
    store,
    blobs,
    notifier,
    authenticator,
    identity,
    tokens,
    configPrincipals: configKeys,
    audit,
    auditReader,
    credentials,
    webhookSecrets,
    metrics,
    close() {
      closing ??= (async () => {
        await webhooks.close();
        stopAuditHeartbeat();
        await audit.heartbeat();
        for (const r of reconcilers) await r.close();
        await notifier.close();
        await queue.close();
        await containerQueue.close();
        queueConnection.disconnect();
        redis.disconnect();
      })();
      return closing;
    },
  };
}
