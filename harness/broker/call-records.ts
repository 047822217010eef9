/**
 * Exactly once: the record of each capability call of a task, by position (`seq`), in one Redis
 * hash per task (`airlock:calls:{sNN}:<task id>`, the task's hash tag and id; kept as long as tasks are).
 * A call is *claimed* (state `started`, with its key = task, seq, name, input hash) before it
 * runs and *settled* with its (redacted) result after. What a later call at the same position
 * finds decides what happens (claim):
 * - `settled`, same key → answered from the record (`replay`), not run again;
 * - another key → the retry diverged: it runs fresh and is flagged (`diverged`);
 * - `started` by an earlier attempt, same key → it may or may not have taken effect: run again
 *   only if the target deduplicates by the key (`rerun`, idempotency header), else `uncertain`;
 * - `started` by this same attempt → the runner resent a call still running here: wait for it.
 */
import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import { canonicalJson } from '../../protocol/audit/canonical-json.ts';
import type { BrokerCallResult } from '../../protocol/capability.ts';
import { LuaScript } from '../../protocol/lua-script.ts';
import { redisKeys } from '../../protocol/redis-keys.ts';

/** The task's call records (protocol/redis-keys.ts `calls`: the task store reads it on a rollback transition). */
export const callRecordsKey = (taskId: string) => redisKeys.calls(taskId);

export function inputSha256(input: unknown): string {
  return createHash('sha256').update(canonicalJson(input ?? null)).digest('hex');
}

/** The call's exactly-once key: `<task id>:<seq>:<name>:<sha256 of the canonical input>`. */
export function callKey(taskId: string, seq: number, name: string, input: unknown): string {
  return `${taskId}:${seq}:${name}:${inputSha256(input)}`;
}

/** SHA-256 of the canonical JSON of an answer (what the record and the audit entry name). */
export function resultHash(result: BrokerCallResult): string {
  return createHash('sha256').update(canonicalJson(result)).digest('hex');
}

export interface CallRecord {
  key: string;
  state: 'started' | 'settled';
  attempt: number;
  startedAt: string;
  settledAt?: string;
  /** The answer given (secrets redacted), once settled. */
  result?: BrokerCallResult;
  resultSha256?: string;
  /** This position held another call before (a retry that diverged). */
  diverged?: boolean;
  /**
   * What undoes the call if its task fails (harness/rollback/): set when a call of a capability
   * with a `compensation` settled ok — the compensating capability and its input rendered from
   * this call's input and output then, or why it could not be rendered.
   */
  compensation?: RecordedCompensation;
}

export interface RecordedCompensation {
  /** The capability whose compensation this is (the call's). */
  of: string;
  capability: string;
  input?: unknown;
  /** The template named a value the call did not have: the compensation fails with this. */
  error?: string;
}

export type Claim =
  | { kind: 'fresh' }
  | { kind: 'diverged'; previousKey: string }
  | { kind: 'rerun' }
  | { kind: 'replay'; record: CallRecord }
  | { kind: 'uncertain'; record: CallRecord }
  | { kind: 'in_progress'; record: CallRecord };

/*
 * KEYS: calls hash. ARGV: seq, key, attempt, record JSON (started), ttl ms, rerunnable (1/0).
 * Returns {kind, previous record JSON or ''}.
 */
const CLAIM = new LuaScript(`
local cur = redis.call('HGET', KEYS[1], ARGV[1])
local kind = 'fresh'
if cur then
  local rec = cjson.decode(cur)
  if rec.key == ARGV[2] then
    if rec.state == 'settled' then return {'replay', cur} end
    if tostring(rec.attempt) == ARGV[3] then return {'in_progress', cur} end
    if ARGV[6] ~= '1' then return {'uncertain', cur} end
    kind = 'rerun'
  else
    kind = 'diverged'
  end
end
local new = ARGV[4]
if kind == 'diverged' then
  local rec = cjson.decode(new)
  rec.diverged = true
  new = cjson.encode(rec)
end
redis.call('HSET', KEYS[1], ARGV[1], new)
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return {kind, cur or ''}
`);

/* Settles the record only while it still holds this key. KEYS: calls hash. ARGV: seq, key, settled JSON. */
const SETTLE = new LuaScript(`
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if not cur then return 0 end
if cjson.decode(cur).key ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
return 1
`);

/* Removes a claim that never ran (its key only). KEYS: calls hash. ARGV: seq, key. */
const RELEASE = new LuaScript(`
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if cur and cjson.decode(cur).key == ARGV[2] and cjson.decode(cur).state == 'started' then
  redis.call('HDEL', KEYS[1], ARGV[1])
  return 1
end
return 0
`);

export class CallRecords {
  readonly #redis: Redis;
  readonly #ttlMs: number;

  constructor(redis: Redis, ttlMs: number) {
    this.#redis = redis;
    this.#ttlMs = ttlMs;
  }

  async get(taskId: string, seq: number): Promise<CallRecord | null> {
    const raw = await this.#redis.hget(callRecordsKey(taskId), String(seq));
    return raw === null ? null : (JSON.parse(raw) as CallRecord);
  }

  async claim(taskId: string, seq: number, key: string, attempt: number, rerunnable: boolean): Promise<Claim> {
    const started: CallRecord = { key, state: 'started', attempt, startedAt: new Date().toISOString() };
    const [kind, previous] = (await CLAIM.run(
      this.#redis,
      [callRecordsKey(taskId)],
      [String(seq), key, String(attempt), JSON.stringify(started), String(this.#ttlMs), rerunnable ? '1' : '0'],
    )) as [Claim['kind'], string];
    const record = previous ? (JSON.parse(previous) as CallRecord) : null;
    switch (kind) {
      case 'replay':
      case 'uncertain':
      case 'in_progress':
        return { kind, record: record as CallRecord };
      case 'diverged':
        return { kind, previousKey: record?.key ?? '' };
      default:
        return { kind };
    }
  }

  /** All records of a task, by position. */
  async all(taskId: string): Promise<Map<number, CallRecord>> {
    const raw = await this.#redis.hgetall(callRecordsKey(taskId));
    const out = new Map<number, CallRecord>();
    for (const [seq, json] of Object.entries(raw)) {
      if (/^\d+$/.test(seq)) out.set(Number(seq), JSON.parse(json) as CallRecord);
    }
    return out;
  }

  async settle(
    taskId: string,
    seq: number,
    key: string,
    attempt: number,
    startedAt: string,
    result: BrokerCallResult,
    diverged: boolean,
    compensation?: RecordedCompensation,
  ): Promise<string> {
    const resultSha256 = resultHash(result);
    const settled: CallRecord = {
      key, state: 'settled', attempt, startedAt, settledAt: new Date().toISOString(), result, resultSha256,
      ...(diverged ? { diverged } : {}),
      ...(compensation ? { compensation } : {}),
    };
    await SETTLE.run(this.#redis, [callRecordsKey(taskId)], [String(seq), key, JSON.stringify(settled)]);
    return resultSha256;
  }

  async release(taskId: string, seq: number, key: string): Promise<void> {
    await RELEASE.run(this.#redis, [callRecordsKey(taskId)], [String(seq), key]);
  }
}
