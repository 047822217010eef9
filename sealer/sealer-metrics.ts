/**
 * The audit sealer's Prometheus metrics, read from the sealer when scraped and served on its
 * own listener when AUDIT_METRICS_PORT is set (loopback by default; no credential):
 * - `airlock_audit_sealer_lag_seconds`: age of the oldest entry the last round read (how far
 *   behind the producers the sealer is; 0 when it had nothing new);
 * - `airlock_audit_sealer_last_round_timestamp_seconds`: when the last round ran (a stalled
 *   sealer shows as this getting old);
 * - `airlock_audit_entries_read_total`: stream entries read (sealed, gap markers included).
 */
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { Sealer } from './sealer.ts';

export function sealerMetrics(sealer: Pick<Sealer, 'stats'>): Registry {
  const registry = new Registry();
  const registers = [registry];
  collectDefaultMetrics({ register: registry, prefix: 'airlock_sealer_' });
  new Gauge({
    name: 'airlock_audit_sealer_lag_seconds',
    help: 'Age of the oldest audit entry the last sealer round read (0: nothing new)',
    registers,
    collect() {
      this.set(sealer.stats.lagMs / 1000);
    },
  });
  new Gauge({
    name: 'airlock_audit_sealer_last_round_timestamp_seconds',
    help: 'When the sealer last read the audit streams (Unix time)',
    registers,
    collect() {
      this.set(sealer.stats.lastRoundMs / 1000);
    },
  });
  new Counter({
    name: 'airlock_audit_entries_read_total',
    help: 'Audit stream entries the sealer read',
    registers,
    collect() {
      this.reset();
      this.inc(sealer.stats.read);
    },
  });
  return registry;
}
