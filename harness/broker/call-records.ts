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
import { hash, randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { canonicalJson } from '../../protocol/audit/canonical-json.ts';
import type { BrokerCallResult } from '../../protocol/capability.ts';
import { AUDIT_LUA, AuditUnavailableError, isAuditUnavailable, type AuditStamp } from '../../protocol/audit/producer.ts';
import { LuaScript } from '../../protocol/lua-script.ts';
import { CALLABLE_STATUSES } from '../../protocol/broker-token.ts';
import { redisKeys } from '../../protocol/redis-keys.ts';
import type { CheckedValue } from './stored-values.ts';

/** The task's call records (protocol/redis-keys.ts `calls`: the task store reads it on a rollback transition). */
export const callRecordsKey = (taskId: string) => redisKeys.calls(taskId);

export function inputSha256(input: unknown): string {
  return hash('sha256', canonicalJson(input ?? null), 'hex');
}

/**
 * The call's exactly-once key: `<task id>:<seq>:<name>:<sha256 of the canonical input>`
 * (`inputHash`: that hash when the caller has it already).
 */
export function callKey(taskId: string, seq: number, name: string, input: unknown, inputHash = inputSha256(input)): string {
  return `${taskId}:${seq}:${name}:${inputHash}`;
}

/** SHA-256 of the canonical JSON of an answer (what the record and the audit entry name). */
export function resultHash(result: BrokerCallResult): string {
  return hash('sha256', canonicalJson(result), 'hex');
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
  /** While started: a retried attempt runs it again (its target deduplicates by the call's key). */
  rerun?: boolean;
  /** While started: the claim's own id, so a claim resent after its answer was lost is known. */
  claimId?: string;
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
  | { kind: 'in_progress'; record: CallRecord }
  /** The task's records already hold their cap (CAPABILITY_RECORDS_MAX_BYTES): nothing runs. */
  | { kind: 'full'; usedBytes: number }
  /**
   * A claim with {@link ClaimChecks} found the token no longer live for this attempt, or a value
   * the call was decided on changed: nothing claimed (the call is decided again, on fresh reads).
   */
  | { kind: 'unchecked'; why: 'token' | 'changed' };

/**
 * What a claim checks first, in the same atomic step, when the call was decided on values read
 * before (broker-call.ts, the one-trip path): the broker token is still the live one of this
 * attempt (as protocol/broker-token.ts decides it), and each value is still what was read.
 */
export interface ClaimChecks {
  /** SHA-256 hex of the token the runner presented. */
  tokenSha256: string;
  values: readonly CheckedValue[];
}

/*
 * KEYS: calls hash, task record, then the places of the checked values (if any). ARGV: seq, key,
 * attempt, record JSON (started), ttl ms, rerunnable (1/0), audit stream, 6 stamp fields of
 * `capability.call.started` (appended, before the record changes, only when the call is to run;
 * voided otherwise), the task's cap on record bytes, the claim's id (also in the record JSON),
 * then the checks: the presented token's SHA-256 ('' = no checks), and for each checked value
 * its hash field ('' = a string key) and SHA-1 ('-' = none). The task record's `callRecordBytes`
 * counts what the records hold.
 * Returns {kind, previous record JSON or ''}, {'full', bytes used} when the records already hold
 * the cap (a call that would run is refused; replays are still answered), or {'unchecked',
 * 'token' | 'changed'} when a check failed. The token is compared by its hash only, so what the
 * comparison's timing could tell is a prefix of a SHA-256, not of the token.
 */
/** Lua: whether the task record's status (`t[1]`) lets its calls run (protocol/broker-token.ts CALLABLE_STATUSES). */
const CALLABLE_LUA = CALLABLE_STATUSES.map((status) => {
  if (!/^[a-z_]+$/.test(status)) throw new Error(`unexpected task status ${status}`);
  return `t[1] == '${status}'`;
}).join(' or ');

const CLAIM = new LuaScript(`${AUDIT_LUA}
if ARGV[16] ~= '' then
  local t = redis.call('HMGET', KEYS[2], 'status', 'attempts', 'brokerTokenSha256')
  if not (${CALLABLE_LUA}) or t[2] ~= ARGV[3] or t[3] ~= ARGV[16] then
    audit_void(ARGV[7], 8)
    return {'unchecked', 'token'}
  end
  for i = 3, #KEYS do
    local field = ARGV[17 + (i - 3) * 2]
    local v
    if field == '' then v = redis.call('GET', KEYS[i]) else v = redis.call('HGET', KEYS[i], field) end
    if (v and redis.sha1hex(v) or '-') ~= ARGV[18 + (i - 3) * 2] then
      audit_void(ARGV[7], 8)
      return {'unchecked', 'changed'}
    end
  end
end
local cur = redis.call('HGET', KEYS[1], ARGV[1])
local kind = 'fresh'
local used = tonumber(redis.call('HGET', KEYS[2], 'callRecordBytes') or '0') or 0
if cur then
  local rec = cjson.decode(cur)
  if rec.claimId == ARGV[15] and rec.state == 'started' then
    -- This very claim again: resent after its answer was lost (a connection cut). The same
    -- answer, nothing recorded twice; without this it would look like a call still in progress.
    audit_void(ARGV[7], 8)
    local again = 'fresh'
    if rec.diverged then again = 'diverged' elseif rec.rerun then again = 'rerun' end
    return {again, ''}
  end
  if rec.key == ARGV[2] then
    local stop = nil
    if rec.state == 'settled' then stop = 'replay'
    elseif tostring(rec.attempt) == ARGV[3] then stop = 'in_progress'
    elseif ARGV[6] ~= '1' then stop = 'uncertain' end
    if stop then
      audit_void(ARGV[7], 8)
      return {stop, cur}
    end
    kind = 'rerun'
  else
    kind = 'diverged'
  end
end
if used >= tonumber(ARGV[14]) then
  audit_void(ARGV[7], 8)
  return {'full', tostring(used)}
end
audit_append(ARGV[7], 8, nil)
local new = ARGV[4]
if kind == 'diverged' or kind == 'rerun' then
  local rec = cjson.decode(new)
  rec[kind] = true
  new = cjson.encode(rec)
end
redis.call('HSET', KEYS[1], ARGV[1], new)
-- Kept as long as the task: its own retention when it has one (then the records expire at
-- most the task's run time before the record does).
redis.call('PEXPIRE', KEYS[1], tonumber(redis.call('HGET', KEYS[2], 'retentionMs') or '') or ARGV[5])
if redis.call('EXISTS', KEYS[2]) == 1 then redis.call('HINCRBY', KEYS[2], 'callRecordBytes', #new - #(cur or '')) end
return {kind, cur or ''}
`);

/*
 * Settles the record only while it still holds this key, and appends the answer's audit entry
 * (`capability.call`) in the same step when one is given. KEYS: calls hash, task record. ARGV:
 * seq, key, settled JSON, then (optionally) the audit stream and the entry's 6 stamp fields.
 * The entry does not decide anything: the call already happened, so it is appended whether or
 * not the record still held this key, and a failed XADD does not undo the settle — it is
 * returned ({settled 1/0, error text or ''}) for the caller to log.
 */
const SETTLE = new LuaScript(`
local settled = 0
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if cur and cjson.decode(cur).key == ARGV[2] then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
  if redis.call('EXISTS', KEYS[2]) == 1 then redis.call('HINCRBY', KEYS[2], 'callRecordBytes', #ARGV[3] - #cur) end
  settled = 1
end
if ARGV[4] then
  local r = redis.pcall('XADD', ARGV[4], '*', ARGV[5], ARGV[6], ARGV[7], ARGV[8], ARGV[9], ARGV[10])
  if type(r) == 'table' and r.err then return {settled, r.err} end
end
return {settled, ''}
`);

/* Removes a claim that never ran (its key only). KEYS: calls hash, task record. ARGV: seq, key. */
const RELEASE = new LuaScript(`
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if cur and cjson.decode(cur).key == ARGV[2] and cjson.decode(cur).state == 'started' then
  redis.call('HDEL', KEYS[1], ARGV[1])
  if redis.call('EXISTS', KEYS[2]) == 1 then redis.call('HINCRBY', KEYS[2], 'callRecordBytes', 0 - #cur) end
  return 1
end
return 0
`);

export class CallRecords {
  readonly #redis: Redis;
  readonly #ttlMs: number;
  /** Most bytes one task's records may hold before its calls are refused. */
  readonly maxBytes: number;

  constructor(redis: Redis, ttlMs: number, maxBytes = Number.MAX_SAFE_INTEGER) {
    this.#redis = redis;
    this.#ttlMs = ttlMs;
    this.maxBytes = maxBytes;
  }

  async get(taskId: string, seq: number): Promise<CallRecord | null> {
    const raw = await this.#redis.hget(callRecordsKey(taskId), String(seq));
    return raw === null ? null : (JSON.parse(raw) as CallRecord);
  }

  /**
   * Claims position `seq` for this call, appending `startedEntry` (stamped for this task, so on
   * the task's shard) in the same atomic step when the call is to run: a call whose start cannot
   * be recorded is not claimed (AuditUnavailableError) and does not run.
   */
  async claim(
    taskId: string,
    seq: number,
    key: string,
    attempt: number,
    rerunnable: boolean,
    startedEntry: AuditStamp,
    checks: ClaimChecks | null = null,
  ): Promise<Claim> {
    const claimId = randomUUID();
    const started: CallRecord = { key, state: 'started', attempt, startedAt: new Date().toISOString(), claimId };
    const checkArgs = checks
      ? [checks.tokenSha256, ...checks.values.flatMap((v) => [v.at.field ?? '', v.sha1])]
      : [''];
    let reply: unknown;
    try {
      reply = await CLAIM.run(
        this.#redis,
        [callRecordsKey(taskId), redisKeys.task(taskId), ...(checks ? checks.values.map((v) => v.at.key) : [])],
        [String(seq), key, String(attempt), JSON.stringify(started), String(this.#ttlMs), rerunnable ? '1' : '0', startedEntry.key, ...startedEntry.fields, String(this.maxBytes), claimId, ...checkArgs],
      );
    } catch (err) {
      if (isAuditUnavailable(err)) throw new AuditUnavailableError((err as Error).message, { cause: err });
      throw err;
    }
    const [kind, previous] = reply as [Claim['kind'], string];
    if (kind === 'full') return { kind, usedBytes: Number(previous) };
    if (kind === 'unchecked') return { kind, why: previous === 'token' ? 'token' : 'changed' };
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

  /**
   * Settles position `seq` (only while it holds `key`) and, with `answerEntry`, appends that
   * entry in the same step. Returns the result's hash (`resultSha256` when the caller already
   * has it) and, when the entry could not be written, why (the settle stands: the call already
   * happened).
   */
  async settle(
    taskId: string,
    seq: number,
    key: string,
    attempt: number,
    startedAt: string,
    result: BrokerCallResult,
    diverged: boolean,
    more: { compensation?: RecordedCompensation | undefined; answerEntry?: AuditStamp | undefined; resultSha256?: string } = {},
  ): Promise<{ resultSha256: string; auditError?: string }> {
    const { compensation, answerEntry } = more;
    const resultSha256 = more.resultSha256 ?? resultHash(result);
    const settled: CallRecord = {
      key, state: 'settled', attempt, startedAt, settledAt: new Date().toISOString(), result, resultSha256,
      ...(diverged ? { diverged } : {}),
      ...(compensation ? { compensation } : {}),
    };
    const reply = await SETTLE.run(
      this.#redis,
      [callRecordsKey(taskId), redisKeys.task(taskId)],
      [String(seq), key, JSON.stringify(settled), ...(answerEntry ? [answerEntry.key, ...answerEntry.fields] : [])],
    );
    const auditError = (reply as [number, string])[1];
    return { resultSha256, ...(auditError ? { auditError } : {}) };
  }

  async release(taskId: string, seq: number, key: string): Promise<void> {
    await RELEASE.run(this.#redis, [callRecordsKey(taskId), redisKeys.task(taskId)], [String(seq), key]);
  }
}
