/**
 * Sealer composition root (`npm run sealer`): config → Redis → signing key → Sealer → run until
 * SIGINT/SIGTERM, then a last commit and checkpoint. Exits non-zero when a log cannot be
 * recovered (a sealed file shorter than the committed state: tampering or lost data).
 */
import { mkdirSync } from 'node:fs';
import { asCommandClient, createRedisClient } from '../protocol/redis-connection.ts';
import { startMetricsListener } from '../protocol/telemetry/metrics-listener.ts';
import { loadConfig } from './config.ts';
import { sealerMetrics } from './sealer-metrics.ts';
import { Sealer } from './sealer.ts';
import { loadSigningKey } from './signing-key.ts';

const config = loadConfig();
const quiet = config.LOG_LEVEL === 'silent';
const log = (level: 'info' | 'warn' | 'error', message: string) => {
  if (quiet && level !== 'error') return;
  process.stderr.write(`${JSON.stringify({ level, time: new Date().toISOString(), msg: message })}\n`);
};

mkdirSync(config.AUDIT_DIR, { recursive: true });
const seed = loadSigningKey({ key: config.AUDIT_SIGNING_KEY, file: config.AUDIT_SIGNING_KEY_FILE }, (m) => log('warn', m));
// Waits for Redis when it is down (the streams keep the entries meanwhile).
// A standalone Redis or a Redis Cluster (REDIS_CLUSTER_NODES): protocol/redis-connection.ts.
const redis = asCommandClient(createRedisClient(config, { maxRetriesPerRequest: null }));
redis.on('error', (err: Error) => log('warn', `redis: ${err.message}`));

const sealer = Sealer.create({
  redis,
  dir: config.AUDIT_DIR,
  seed,
  originPrefix: config.AUDIT_ORIGIN_PREFIX,
  segmentEntries: config.AUDIT_SEGMENT_ENTRIES,
  readBatch: config.AUDIT_READ_BATCH,
  fsyncMs: config.AUDIT_FSYNC_MS,
  checkpointMs: config.AUDIT_CHECKPOINT_MS,
  gapGraceMs: config.AUDIT_GAP_GRACE_MS,
  indexSyncMs: config.AUDIT_INDEX_SYNC_MS,
  trim: config.AUDIT_TRIM,
  log,
});

const stop = new AbortController();
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => stop.abort());
// Started by `npm start` with an IPC channel, in a process group of its own: when the launcher
// dies (even by SIGKILL) and the channel closes, stop as on SIGTERM instead of running on alone.
if (process.channel) {
  process.channel.unref();
  process.once('disconnect', () => stop.abort());
}
const metrics =
  config.AUDIT_METRICS_PORT === undefined
    ? null
    : await startMetricsListener(sealerMetrics(sealer), config.AUDIT_METRICS_PORT, config.AUDIT_METRICS_HOST);
if (metrics) log('info', `metrics at ${metrics.url}/metrics`);
log('info', `sealing into ${config.AUDIT_DIR}`);
await sealer.run(stop.signal, config.AUDIT_POLL_MS);
await metrics?.close();
redis.disconnect();
log('info', 'stopped');
