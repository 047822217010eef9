/**
 * Producer side of the audit transport. Every producer process (a harness, a runner) has a random
 * id and one counter per shard; each stream entry carries both, so the sealer notices entries
 * removed from a stream before it read them (STANDARDS AUD-3: `XADD … MAXLEN 0` by any holder of
 * XADD can empty a stream) and records an `audit_gap` naming the producer and the missing range.
 *
 * Stream entry fields (keep in sync with sealer/transport-entry.ts):
 *   p  producer id          n  counter (1, 2, … per producer and shard)
 *   e  the draft as JSON    v  "1" on a void marker: counter n was taken but nothing was recorded
 *   mt, ma, m  tenantId, agentId and metadata JSON copied verbatim from a task record by a Lua
 *              script (the sealer prefers them to what the draft claims)
 *
 * Known false positive: a write that fails after its counter was taken (Redis error, connection
 * lost, process killed between the two) shows as a gap of one. A script that decides not to
 * write must append the void marker instead (see AUDIT_LUA).
 */
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { AUDIT_SHARDS, auditShard, auditStreamKey } from '../redis-keys.ts';
import { currentTraceId } from '../telemetry/tracing.ts';
import { buildAuditDraftJson, type AuditDraft, type AuditDraftInput } from './entry.ts';

/** One stamped entry, ready for XADD (directly, in a MULTI, or passed to a Lua script). */
export interface AuditStamp {
  /** Stream key (`airlock:audit:{sNN}`): pass it to a script in ARGV, not KEYS (see AUDIT_LUA). */
  key: string;
  shard: number;
  /** `p, <id>, n, <counter>, e, <json>`: always 6 strings, in this order. */
  fields: [string, string, string, string, string, string];
}

export interface AuditProducerOptions {
  /** Connection the direct `append` uses. */
  redis: Redis;
  /** Producer id; random by default (`p_` + 16 hex). Never reuse one across processes. */
  id?: string;
}

/** Where an entry's shard comes from: the task id, else the tenant id, else the system log. */
export function auditRoutingId(draft: Pick<AuditDraft, 'taskId' | 'tenant'>): string {
  return draft.taskId ?? draft.tenant ?? 'system';
}

/**
 * An audit entry could not be written (Redis refused the XADD, or a script's append failed):
 * the change it records was not made. The harness answers 503 `not_ready`.
 */
export class AuditUnavailableError extends Error {
  override readonly name = 'AuditUnavailableError';
}

/** The prefix of the error a script raises when its audit append fails (see AUDIT_LUA). */
export const AUDIT_UNAVAILABLE = 'AUDIT_UNAVAILABLE';

/** Whether `err` says an audit entry could not be written (so nothing was changed). */
export function isAuditUnavailable(err: unknown): boolean {
  return err instanceof AuditUnavailableError || (err instanceof Error && err.message.startsWith(AUDIT_UNAVAILABLE));
}

export class AuditProducer {
  readonly id: string;
  readonly #redis: Redis;
  readonly #counters: number[] = new Array<number>(AUDIT_SHARDS).fill(0);
  /** Shards written since the last heartbeat. */
  readonly #unannounced = new Set<number>();

  constructor(options: AuditProducerOptions) {
    this.id = options.id ?? `p_${randomBytes(8).toString('hex')}`;
    this.#redis = options.redis;
  }

  /**
   * Validates the draft (secret guard, size) and takes the next counter of its shard. The caller
   * must write `fields` to `key` (or the void marker) — every counter taken and not written
   * shows as a gap. Throws AuditEntryError for a refused draft (no counter taken). The trace id
   * of the active span (traces on: protocol/telemetry/tracing.ts) goes on the entry.
   */
  stamp(input: AuditDraftInput): AuditStamp {
    const traceId = input.traceId ?? currentTraceId();
    const { draft, json } = buildAuditDraftJson(traceId ? { ...input, traceId } : input);
    const shard = auditShard(auditRoutingId(draft));
    const n = ++(this.#counters[shard] as number);
    this.#counters[shard] = n;
    this.#unannounced.add(shard);
    return { key: auditStreamKey(shard), shard, fields: ['p', this.id, 'n', String(n), 'e', json] };
  }

  /**
   * Appends one entry now (XADD). Resolves once Redis has it; rejects when it could not be
   * written — the caller must then not make the change it records (no unaudited action).
   */
  async append(input: AuditDraftInput): Promise<void> {
    const s = this.stamp(input);
    try {
      await this.#redis.xadd(s.key, '*', ...s.fields);
    } catch (err) {
      throw new AuditUnavailableError(`${AUDIT_UNAVAILABLE}: the audit entry could not be written (${(err as Error).message})`, { cause: err });
    }
  }

  /**
   * Tells the sealer the last counter taken on each shard written since the last heartbeat, so
   * entries removed from the *end* of a stream are noticed even if this producer writes nothing
   * more to that shard. Never throws (a failed heartbeat is retried by the next one).
   */
  async heartbeat(): Promise<void> {
    const shards = [...this.#unannounced];
    this.#unannounced.clear();
    if (shards.length === 0) return;
    // One command per shard, sent together (not a pipeline: on a Redis Cluster the shards live
    // on different nodes, and a pipeline must stay on one).
    const results = await Promise.allSettled(
      shards.map((s) => this.#redis.xadd(auditStreamKey(s), '*', 'p', this.id, 'n', String(this.#counters[s]), 'h', '1')),
    );
    shards.forEach((s, i) => {
      if (results[i]?.status !== 'fulfilled') this.#unannounced.add(s);
    });
  }

  /** Sends a heartbeat every `intervalMs` (unref'd timer); returns the function that stops it. */
  startHeartbeat(intervalMs = 10_000): () => void {
    const timer = setInterval(() => void this.heartbeat(), intervalMs);
    timer.unref();
    return () => clearInterval(timer);
  }
}

/**
 * Lua helpers for scripts that append their audit entry in the same atomic step as the change it
 * records. Paste `AUDIT_LUA` at the top of a script, pass `stamp.fields` as 6 consecutive ARGV
 * starting at `at` and `stamp.key` in ARGV too — not in KEYS: Redis checks a script's KEYS
 * against the user's root permissions, and the harness and runner ACL users may only XADD to
 * audit keys (a selector). The key has the same hash tag as the task keys the script changes:
 *   audit_append(stream_key, at, task_key_or_nil)  -- XADD the entry; with a task key, also copies
 *                                                 -- its tenantId, agentId and metadata verbatim
 *   audit_void(stream_key, at)                     -- the change was refused: consume the counter
 * Call `audit_append` BEFORE the change: Redis does not roll a script back, so a failed append
 * must come before anything was written. Both raise an error starting with AUDIT_UNAVAILABLE
 * when the XADD fails (wrong key type, ACL, out of memory), which ends the script there.
 */
export const AUDIT_LUA = `
local function audit_xadd(stream, f)
  local r = redis.pcall('XADD', stream, '*', unpack(f))
  if type(r) == 'table' and r.err then error({err = '${AUDIT_UNAVAILABLE} ' .. r.err}) end
end
local function audit_append(stream, at, task)
  local f = {ARGV[at], ARGV[at + 1], ARGV[at + 2], ARGV[at + 3], ARGV[at + 4], ARGV[at + 5]}
  if task then
    local rec = redis.call('HMGET', task, 'tenantId', 'agentId', 'metadata')
    if rec[1] then f[#f + 1] = 'mt'; f[#f + 1] = rec[1] end
    if rec[2] then f[#f + 1] = 'ma'; f[#f + 1] = rec[2] end
    if rec[3] then f[#f + 1] = 'm'; f[#f + 1] = rec[3] end
  end
  audit_xadd(stream, f)
end
local function audit_void(stream, at)
  audit_xadd(stream, {ARGV[at], ARGV[at + 1], ARGV[at + 2], ARGV[at + 3], 'v', '1'})
end
`;
