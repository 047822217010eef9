/**
 * The audit sealer: the single writer of the sealed logs and the only holder of the checkpoint
 * signing key (DESIGN §8, Tessera's order). Each tick it reads the shard streams after the last
 * sealed ids, seals every entry into its tenant's log (seq, chain, tree), and records gaps in
 * producers' counters; a commit fsyncs the logs, then atomically replaces the state file (the
 * stream positions with the logs' sizes), then trims the streams; a checkpoint is signed only
 * over committed entries. Restart resumes from the state: nothing sealed twice, nothing skipped.
 */
import { createHash } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Redis } from 'ioredis';
import { toBase64 } from '../protocol/audit/bytes.ts';
import {
  AuditDraftSchema,
  AuditTenantSchema,
  ProducerIdSchema,
  auditLogId,
  auditOrigin,
  isUrgentAction,
  type AuditDraft,
} from '../protocol/audit/entry.ts';
import { LAYOUT, type PublicKeyFile } from '../protocol/audit/layout.ts';
import { ed25519PublicKey, ed25519Signer, type NoteSigner } from '../protocol/audit/note.ts';
import { findSecret } from '../protocol/audit/secret-guard.ts';
import { AUDIT_SHARDS } from '../protocol/redis-keys.ts';
import { GapTracker, type GapTrackerJson } from './gap-tracker.ts';
import { LogWriter, writeAtomic, type LogState } from './log-writer.ts';
import { readShards, trimShards, type TransportEntry } from './transport.ts';

export interface SealerOptions {
  redis: Redis;
  dir: string;
  /** Ed25519 private key (32-byte seed). */
  seed: Uint8Array;
  originPrefix: string;
  segmentEntries: number;
  readBatch: number;
  fsyncMs: number;
  checkpointMs: number;
  gapGraceMs: number;
  indexSyncMs: number;
  trim: boolean;
  log: (level: 'info' | 'warn' | 'error', message: string) => void;
  /** Clock (tests). @defaultValue Date.now */
  now?: () => number;
}

interface StateFile {
  version: 1;
  positions: string[];
  producers: GapTrackerJson;
  logs: Record<string, LogState>;
}

/** Producers idle this long (and without open holes) are forgotten. */
const PRODUCER_IDLE_MS = 30 * 24 * 3600 * 1000;
/** Open files of logs idle this long are closed. */
const IDLE_CLOSE_MS = 60_000;

export class Sealer {
  readonly #o: SealerOptions;
  readonly #now: () => number;
  readonly #positions: string[];
  readonly #tracker: GapTracker;
  readonly #logs = new Map<string, LogWriter>();
  readonly #signers = new Map<string, NoteSigner>();
  readonly #advanced = new Set<number>();
  #lastCommitMs: number;
  #lastCheckpointMs: number;
  #lastIndexSyncMs: number;
  #stateDirty = false;
  /** The last read filled a whole batch on some shard: read again at once. */
  #backlog = false;

  private constructor(o: SealerOptions, state: StateFile) {
    this.#o = o;
    this.#now = o.now ?? Date.now;
    this.#positions = Array.from({ length: AUDIT_SHARDS }, (_, s) => state.positions[s] ?? '0-0');
    this.#tracker = new GapTracker(o.gapGraceMs, state.producers);
    const now = this.#now();
    this.#lastCommitMs = now;
    this.#lastCheckpointMs = now;
    this.#lastIndexSyncMs = now;
  }

  /** Loads the committed state, recovers every log (see LogWriter.open) and publishes the public key. */
  static create(o: SealerOptions): Sealer {
    const file = path.join(o.dir, LAYOUT.state);
    const state: StateFile = existsSync(file)
      ? (JSON.parse(readFileSync(file, 'utf8')) as StateFile)
      : { version: 1, positions: [], producers: {}, logs: {} };
    if (state.version !== 1) throw new Error(`${file}: unknown state version`);
    const sealer = new Sealer(o, state);
    for (const [logId, saved] of Object.entries(state.logs)) sealer.#writer(logId, saved);
    const pub: PublicKeyFile = { algorithm: 'Ed25519', publicKey: toBase64(ed25519PublicKey(o.seed)), originPrefix: o.originPrefix };
    writeAtomic(path.join(o.dir, LAYOUT.publicKey), `${JSON.stringify(pub)}\n`);
    return sealer;
  }

  /** Size of a log (tests, metrics). */
  /** Lag of the last round (ms), when it ran (epoch ms), and stream entries read so far (metrics). */
  get stats(): Readonly<{ lagMs: number; lastRoundMs: number; read: number }> {
    return this.#stats;
  }

  readonly #stats = { lagMs: 0, lastRoundMs: 0, read: 0 };

  logSize(logId: string): number {
    return this.#logs.get(logId)?.size ?? 0;
  }

  /**
   * One round: read, seal, and commit / checkpoint when due. Returns how many stream entries
   * were read (0: the streams had nothing new).
   */
  async tick(): Promise<number> {
    const entries = await readShards(this.#o.redis, this.#positions, this.#o.readBatch);
    this.#backlog = hasFullShard(entries, this.#o.readBatch);
    const now = this.#now();
    // How far behind the producers this round is: the age of the oldest entry it read (a
    // stream id starts with the ms its entry was added), 0 when there was nothing new.
    const oldestMs = Math.min(...entries.map((t) => Number(t.id.split('-', 1)[0])));
    this.#stats.lagMs = entries.length > 0 && Number.isFinite(oldestMs) ? Math.max(0, Date.now() - oldestMs) : 0;
    this.#stats.lastRoundMs = Date.now();
    this.#stats.read += entries.length;
    let urgent = false;
    for (const t of entries) {
      urgent = this.#seal(t, now) || urgent;
      this.#positions[t.shard] = t.id;
      this.#advanced.add(t.shard);
    }
    for (const gap of this.#tracker.takeDue(now)) {
      this.#o.log('warn', `audit gap: producer ${gap.producer} shard ${gap.shard} counters ${gap.from}..${gap.to} never arrived`);
      this.#sealSystem(now, 'audit_gap', { producer: gap.producer, shard: gap.shard, from: gap.from, to: gap.to, missing: gap.to - gap.from + 1 });
      urgent = true;
    }
    const pending = this.#advanced.size > 0 || this.#stateDirty || [...this.#logs.values()].some((w) => w.dirty);
    if (pending && (urgent || now - this.#lastCommitMs >= this.#o.fsyncMs)) await this.commit();
    if (now - this.#lastCheckpointMs >= this.#o.checkpointMs) {
      if ([...this.#logs.values()].some((w) => w.dirty)) await this.commit();
      this.checkpoint();
    }
    return entries.length;
  }

  /** Makes everything sealed so far durable, records it in the state, then trims the streams. */
  async commit(): Promise<void> {
    const now = this.#now();
    const synced: LogWriter[] = [];
    for (const w of this.#logs.values()) {
      if (!w.dirty) continue;
      w.sync();
      synced.push(w);
    }
    const state: StateFile = {
      version: 1,
      positions: this.#positions,
      producers: this.#tracker.toJson(now, PRODUCER_IDLE_MS),
      logs: Object.fromEntries([...this.#logs].map(([id, w]) => [id, w.state()])),
    };
    writeDurably(path.join(this.#o.dir, LAYOUT.state), JSON.stringify(state));
    this.#stateDirty = false;
    for (const w of synced) w.afterCommit();
    if (now - this.#lastIndexSyncMs >= this.#o.indexSyncMs) {
      for (const w of this.#logs.values()) w.syncIndex();
      this.#lastIndexSyncMs = now;
      this.#stateDirty = true;
    }
    if (this.#o.trim && this.#advanced.size > 0) await trimShards(this.#o.redis, this.#positions, this.#advanced);
    this.#advanced.clear();
    for (const w of this.#logs.values()) if (now - w.lastAppendMs > IDLE_CLOSE_MS) w.close();
    this.#lastCommitMs = now;
  }

  /** Signs a checkpoint of every log that grew since its last one (committed entries only). */
  checkpoint(): number {
    let signed = 0;
    for (const w of this.#logs.values()) {
      if (w.dirty) throw new Error('checkpoint before commit');
      if (w.checkpoint(this.#signer(w.origin))) signed++;
    }
    if (signed > 0) this.#stateDirty = true;
    this.#lastCheckpointMs = this.#now();
    return signed;
  }

  /** Runs until `signal` aborts, then commits and checkpoints what it has. */
  async run(signal: AbortSignal, pollMs: number): Promise<void> {
    while (!signal.aborted) {
      let read = 0;
      try {
        read = await this.tick();
      } catch (err) {
        this.#o.log('error', `sealer tick failed (retrying): ${(err as Error).message}`);
      }
      // Straight on only while a shard has more than a batch waiting. Otherwise wait a poll
      // period even after a read: entries are sealed in batches (within pollMs), instead of
      // one round of 16 XRANGEs per entry competing for CPU with the tasks being recorded.
      if ((read === 0 || !this.#backlog) && !signal.aborted) await sleep(pollMs, signal);
    }
    await this.close();
  }

  /** Final commit and checkpoint; closes files. Idempotent. */
  async close(): Promise<void> {
    await this.commit().catch((err: unknown) => this.#o.log('error', `final commit failed: ${(err as Error).message}`));
    try {
      this.checkpoint();
      if (this.#stateDirty) await this.commit();
    } catch (err) {
      this.#o.log('error', `final checkpoint failed: ${(err as Error).message}`);
    }
    for (const w of this.#logs.values()) w.close();
  }

  #writer(logId: string, saved?: LogState): LogWriter {
    let w = this.#logs.get(logId);
    if (!w) {
      const tenant = logId.startsWith('tenants/') ? logId.slice('tenants/'.length) : undefined;
      w = LogWriter.open(path.join(this.#o.dir, logId), auditOrigin(this.#o.originPrefix, tenant), this.#o.segmentEntries, saved);
      this.#logs.set(logId, w);
    }
    return w;
  }

  #signer(origin: string): NoteSigner {
    let s = this.#signers.get(origin);
    if (!s) this.#signers.set(origin, (s = ed25519Signer(origin, this.#o.seed)));
    return s;
  }

  /** Seals one transport entry; true when it must be made durable at once. */
  #seal(t: TransportEntry, now: number): boolean {
    const p = t.fields.get('p');
    const n = t.fields.get('n');
    const stamped = ProducerIdSchema.safeParse(p).success && /^[1-9][0-9]{0,15}$/.test(n ?? '');
    const producer = stamped ? { id: p as string, counter: Number(n) } : undefined;
    if (producer && t.fields.get('h') === '1') {
      this.#tracker.claim(producer.id, t.shard, producer.counter, now);
      return false;
    }
    if (producer) this.#tracker.observe(producer.id, t.shard, producer.counter, now);
    if (producer && t.fields.get('v') === '1') return false;
    const raw = t.fields.get('e');
    const invalid = (reason: string): boolean => {
      this.#sealSystem(now, 'audit_invalid', {
        reason,
        shard: t.shard,
        streamId: t.id,
        ...(producer ? { producer: producer.id, counter: producer.counter } : {}),
        ...(raw !== undefined ? { sha256: createHash('sha256').update(raw).digest('hex') } : {}),
      });
      return true;
    };
    if (!producer) return invalid('missing or malformed producer stamp (p, n)');
    if (raw === undefined) return invalid('no entry (e)');
    let draft: AuditDraft;
    try {
      const parsed = AuditDraftSchema.safeParse(JSON.parse(raw));
      if (!parsed.success) return invalid('not a valid audit entry');
      draft = parsed.data;
    } catch {
      return invalid('entry is not JSON');
    }
    // Kept out of the record: an entry that may carry a secret is replaced by its hash.
    if (findSecret(draft)) return invalid('entry may carry a secret');
    draft = fromTaskRecord(draft, t.fields);
    this.#writer(auditLogId(draft.tenant)).append({ ...draft, producer }, now);
    return isUrgentAction(draft.action);
  }

  #sealSystem(now: number, action: string, details: Record<string, string | number>): void {
    this.#writer(auditLogId(undefined)).append({ time: new Date(now).toISOString(), action, outcome: 'failure', details }, now);
  }
}

/**
 * Tenant, agent and metadata copied verbatim from the task record by the script that appended
 * the entry (fields mt, ma, m) win over what the draft claims: a compromised runner cannot
 * attribute its entries to another tenant, agent or prompt.
 */
function fromTaskRecord(draft: AuditDraft, fields: Map<string, string>): AuditDraft {
  const out: AuditDraft = { ...draft };
  const mt = fields.get('mt');
  if (mt !== undefined && AuditTenantSchema.safeParse(mt).success) out.tenant = mt;
  const ma = fields.get('ma');
  if (ma !== undefined && ma.length > 0 && ma.length <= 200) out.agentId = ma;
  const m = fields.get('m');
  if (m !== undefined) {
    try {
      const meta = JSON.parse(m) as Record<string, unknown>;
      for (const k of ['userId', 'promptSnippet', 'sessionId'] as const) {
        const v = meta[k];
        if (typeof v === 'string' && v.length > 0) out[k] = v.slice(0, k === 'promptSnippet' ? 2000 : 200);
        else delete out[k];
      }
    } catch {
      /* not JSON: the draft's own values stay */
    }
  }
  return out;
}

/** Writes a file so that after a crash it holds either the old or the new content, durably. */
function writeDurably(file: string, text: string): void {
  const tmp = `${file}.tmp`;
  writeFileSync(tmp, text);
  const fd = openSync(tmp, 'r');
  fsyncSync(fd);
  closeSync(fd);
  renameSync(tmp, file);
  const dirFd = openSync(path.dirname(file), 'r');
  fsyncSync(dirFd);
  closeSync(dirFd);
}

/** Whether some shard returned a whole batch (so more may be waiting there). */
function hasFullShard(entries: readonly TransportEntry[], batch: number): boolean {
  const perShard = new Map<number, number>();
  for (const e of entries) {
    const n = (perShard.get(e.shard) ?? 0) + 1;
    if (n >= batch) return true;
    perShard.set(e.shard, n);
  }
  return false;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
