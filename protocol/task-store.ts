import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { AuditEntryError, type AuditDraft, type AuditDraftInput, type AuditOutcome } from './audit/entry.ts';
import { grantChangesDetail } from './audit/grant-changes.ts';
import { AUDIT_LUA, AuditUnavailableError, isAuditUnavailable, type AuditProducer } from './audit/producer.ts';
import { ROLLBACK_STATUSES } from './compensation.ts';
import { LuaScript } from './lua-script.ts';
import { redisChannels, redisKeys } from './redis-keys.ts';
import { reservationFor, TenantStorage } from './storage-usage.ts';
import { decode, encode, parseStoredEvent, type StoredEvent, type TaskPatch, type TaskRecord } from './task-record.ts';
import { APPEND_OUTPUT, CHUNK_BYTES, readOutputRange, type OutputRef } from './task-output.ts';
import { TaskStatusSchema, isTerminal, type FileChange, type OutputStream, type TaskEvent, type TaskStatus } from './task.ts';
import { encodeOutput } from './utf8.ts';

export { TaskRecordSchema, type StoredEvent, type TaskPatch, type TaskRecord } from './task-record.ts';

/*
 * Audit helpers of the task scripts (after AUDIT_LUA). A stamp takes 7 ARGV from `at`: the audit
 * stream's name, then its 6 fields; an empty name (a store built without a producer, e.g. in
 * tests) appends nothing. The stream is named in ARGV, not declared in KEYS: Redis checks a
 * script's KEYS against the user's root permissions, where the harness and runner users have no
 * audit key; the XADD inside is checked key by key, and their ACL selector `(%W~airlock:audit:*
 * +xadd)` allows exactly that (deploy/redis/users.acl.template, STANDARDS AUD-2). The stream
 * carries the task's hash tag, so it is in the script's cluster slot all the same. `audited`
 * copies the task record's tenant, agent and metadata when the record exists (KEYS[1], or
 * KEYS[2] for the bound create, whose KEYS[1] is the marker).
 */
const TASK_AUDIT_LUA = `
local function audited(at)
  if ARGV[at] == '' then return end
  local task = nil
  for i = 1, 2 do
    if KEYS[i] and string.sub(KEYS[i], 1, 13) == 'airlock:task:' and redis.call('EXISTS', KEYS[i]) == 1 then task = KEYS[i] end
  end
  audit_append(ARGV[at], at + 1, task)
end
local function unaudited(at)
  if ARGV[at] ~= '' then audit_void(ARGV[at], at + 1) end
end
`;

/** No audit producer: the script appends nothing. */
const NO_STAMP = ['', '', '', '', '', '', ''] as const;

/**
 * The audit entry of a task change: who made it and why, beyond what the store fills in (task
 * id, action, outcome and the change's own details). Absent: a change by the system itself.
 */
export type TaskAuditNote = Omit<AuditDraftInput, 'taskId' | 'action' | 'outcome' | 'time'>;

/** The outcome of a lifecycle entry: how the task (or the change) went. */
function outcomeOf(status: TaskStatus): AuditOutcome {
  return status === 'failed' || status === 'timed_out' ? 'failure' : 'success';
}

/*
 * The only way a task's status changes. It refuses to leave a terminal state (terminal states
 * never change) and appends the status event, the change's audit entry (ARGV 7..13, see
 * AUDIT_LUA; empty = not audited) and notifies listeners in the same atomic step, so readers
 * never see a status without its event, and no status changes without its entry (the entry is
 * appended first: a failed append ends the script before anything changed). The notification names the new status (see
 * taskNotification), so a waiter learns a status without reading the record.
 * Into a terminal state (ARGV[6] > 0, the default retention): the record, its events and its
 * output expire after the record's own retention (else the default), and the answer says what
 * they and the task's capability call records hold (MEMORY USAGE) for the tenant's storage
 * accounting.
 * Into `failed`, `timed_out` or `cancelled` (KEYS[4] given): a task that made capability calls
 * (its call records exist) joins the rollback inbox in the same step, so its rollback cannot be
 * lost between the end and a harness hearing of it (harness/rollback/). The call records' key
 * (redisKeys.calls: same tag and id as the task's) is derived here, not declared in KEYS: Redis
 * checks a script's KEYS for write access, and a runner may only read call records.
 * Resent (ARGV[7], the change's id, is the record's `changeId` and the status is already the new
 * one): the command ran and its answer was lost — ioredis resends a command in flight when its
 * connection drops. The answer is the first one's; nothing is changed or recorded twice.
 * KEYS: task, events, output[, rollback inbox]. ARGV: status, allowed from, event JSON, channel, message, ttl,
 * change id, audit stream + 6 stamp fields, ...record fields.
 * Returns {1[, tenantId, ttl, bytes]}, {0} refused, {-1} missing.
 */
/*
 * `task.grants.applying`: the changes a succeeded task's grants are about to receive, appended
 * before the runner writes any (the terminal entry then lists what was applied). The entry gets
 * the task's tenant, agent and metadata from its record. Its stamp (producer and counter) is kept
 * on the record, so the same command resent after its answer was lost (see TRANSITION) appends
 * nothing twice. KEYS: task. ARGV: audit stream + 6 stamp fields (p, id, n, counter, e, entry).
 */
const GRANT_PLAN = new LuaScript(`${AUDIT_LUA}
local stamp = ARGV[3] .. ':' .. ARGV[5]
if redis.call('HGET', KEYS[1], 'grantPlanStamp') == stamp then
  audit_void(ARGV[1], 2)
  return 1
end
audit_append(ARGV[1], 2, KEYS[1])
if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('HSET', KEYS[1], 'grantPlanStamp', stamp) end
return 1
`);

const TRANSITION = new LuaScript(`${AUDIT_LUA}${TASK_AUDIT_LUA}
local cur = redis.call('HGET', KEYS[1], 'status')
if not cur then unaudited(8) return {-1} end
if cur == ARGV[1] and redis.call('HGET', KEYS[1], 'changeId') == ARGV[7] then
  -- This very change again: its command was resent after the answer was lost (a connection
  -- cut). Answered as the first time, changing nothing and recording nothing twice.
  unaudited(8)
else
  local allowed = false
  for s in string.gmatch(ARGV[2], '[^,]+') do
    if s == cur then allowed = true end
  end
  if not allowed then unaudited(8) return {0} end
  audited(8)
  redis.call('HSET', KEYS[1], 'status', ARGV[1], 'changeId', ARGV[7])
  if #ARGV > 14 then redis.call('HSET', KEYS[1], unpack(ARGV, 15)) end
  redis.call('XADD', KEYS[2], '*', 'e', ARGV[3])
  if KEYS[4] then
    local calls = 'airlock:calls:' .. string.sub(KEYS[1], 14)
    if redis.call('EXISTS', calls) == 1 then redis.call('SADD', KEYS[4], string.match(KEYS[1], '[^:]+$')) end
  end
  redis.call('PUBLISH', ARGV[4], ARGV[5])
end
local ttl = tonumber(ARGV[6])
if ttl > 0 then
  local own = tonumber(redis.call('HGET', KEYS[1], 'retentionMs') or '')
  if own and own > 0 then ttl = own end
  local bytes = 0
  for i = 1, 3 do
    redis.call('PEXPIRE', KEYS[i], ttl)
    bytes = bytes + (redis.call('MEMORY', 'USAGE', KEYS[i], 'SAMPLES', '0') or 0)
  end
  -- The capability call records (redisKeys.calls: the task's tag and id) count too. Read only:
  -- derived here, not declared in KEYS (Redis checks KEYS for write access, and a runner may
  -- only read them); the broker gives them the task's retention when it writes them.
  local calls = 'airlock:calls:' .. string.sub(KEYS[1], 14)
  bytes = bytes + (redis.call('MEMORY', 'USAGE', calls, 'SAMPLES', '0') or 0)
  return {1, redis.call('HGET', KEYS[1], 'tenantId'), ttl, bytes}
end
return {1}
`);

/*
 * A runner takes a task: reads who owns it and moves it to `running` in one round trip (the
 * runner used to read the record, then transition it). Returns {1, attempts, stdout length,
 * stderr length} when started (a retried attempt's output goes after what an earlier attempt
 * wrote, and the record says where it starts), {0} when the task is gone or already terminal
 * (nothing to do), {-1} when the job's tenant or agent is not the task's (a forged or corrupted
 * job: refused). Audited: ARGV 7..13 the stamp of `task.started` (ARGV[14] = 'first') or of
 * `task.retried` ('later': an earlier runner was lost); when the attempt is not the kind the
 * stamp is for, it is voided, nothing changes and the answer is {-2}: call again with the other.
 * ARGV[15], the start's id, makes a start resent after its answer was lost (see TRANSITION) get the
 * first answer again instead of counting as a new attempt.
 * KEYS: task, events, output. ARGV: tenantId, agentId, event JSON, channel, message, startedAt,
 * audit stream + 6 stamp fields, 'first' | 'later', start id.
 */
const START = new LuaScript(`${AUDIT_LUA}${TASK_AUDIT_LUA}
local rec = redis.call('HMGET', KEYS[1], 'status', 'tenantId', 'agentId', 'attempts', 'changeId')
local cur = rec[1]
if (not cur) or (cur ~= 'queued' and cur ~= 'running') then unaudited(7) return {0} end
if rec[2] ~= ARGV[1] or rec[3] ~= ARGV[2] then unaudited(7) return {-1} end
local attempts = tonumber(rec[4]) or 0
if cur == 'running' and rec[5] == ARGV[15] then
  -- This very start again (resent after its answer was lost): the same attempt, the same answer
  -- (where its output starts: the base it recorded, or 0), nothing recorded twice.
  unaudited(7)
  local base = redis.call('HGET', KEYS[1], 'outputBase')
  if not base then return {1, attempts, 0, 0} end
  local b = cjson.decode(base)
  return {1, attempts, b['stdout'], b['stderr']}
end
attempts = attempts + 1
if ARGV[7] ~= '' and (ARGV[14] == 'first') ~= (attempts == 1) then unaudited(7) return {-2} end
audited(7)
redis.call('HSET', KEYS[1], 'status', 'running', 'startedAt', ARGV[6], 'attempts', tostring(attempts), 'changeId', ARGV[15])
local lens = redis.call('HMGET', KEYS[3], 'stdout:len', 'stderr:len')
local out = tonumber(lens[1] or '') or 0
local err = tonumber(lens[2] or '') or 0
if out > 0 or err > 0 then
  redis.call('HSET', KEYS[1], 'outputBase', '{"stdout":' .. out .. ',"stderr":' .. err .. '}')
end
redis.call('XADD', KEYS[2], '*', 'e', ARGV[3])
redis.call('PUBLISH', ARGV[4], ARGV[5])
return {1, attempts, out, err}
`);

/* Sets fields that are not the status (e.g. usage of a run that was cancelled) on a live record. */
const ANNOTATE = new LuaScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV))
return 1
`);

/*
 * Creates a task bound to an Idempotency-Key (harness/plugins/idempotency.ts) in one atomic step:
 * the key's marker, the task hash and its events share the task's hash tag. The task is written
 * only while nothing else holds the key: the marker is absent (a lease that ran out) or a claim of
 * the same request (same `fingerprint`). Returns 1 created (the marker now names the task),
 * 0 the task exists and the marker binds it to the same request (a retry: answer with it),
 * -1 the key belongs to another request — also when the task exists but its binding expired
 * (the request that made it can no longer be told from this one), -2 the key's task was made
 * and has expired since.
 * Audited: the `task.created` entry (ARGV 5..11) is appended first when the task is written,
 * voided otherwise.
 * KEYS: marker, task, events. ARGV: fingerprint, bound marker JSON, marker TTL ms, queued event
 * JSON, audit stream + 6 stamp fields, ...hash fields.
 */
const CREATE_BOUND = new LuaScript(`${AUDIT_LUA}${TASK_AUDIT_LUA}
local raw = redis.call('GET', KEYS[1])
local marker = raw and cjson.decode(raw) or nil
if marker and marker['fingerprint'] ~= ARGV[1] then unaudited(5) return -1 end
if redis.call('EXISTS', KEYS[2]) == 1 then
  unaudited(5)
  if marker and marker['state'] ~= 'claimed' then return 0 end
  return -1
end
if marker and marker['state'] ~= 'claimed' then unaudited(5) return -2 end
audited(5)
redis.call('HSET', KEYS[2], unpack(ARGV, 12))
redis.call('XADD', KEYS[3], '*', 'e', ARGV[4])
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1
`);

/*
 * Writes a new task (no Idempotency-Key): its `task.created` entry (ARGV 2..8) first, then the
 * record and its first event. A task id is new (random), so a record that exists already is this
 * very create resent after its answer was lost (see TRANSITION): nothing is written twice.
 * KEYS: task, events. ARGV: queued event JSON, audit stream + 6 stamp fields, ...hash fields.
 */
const CREATE = new LuaScript(`${AUDIT_LUA}${TASK_AUDIT_LUA}
if redis.call('EXISTS', KEYS[1]) == 1 then unaudited(2) return 0 end
audited(2)
redis.call('HSET', KEYS[1], unpack(ARGV, 9))
redis.call('XADD', KEYS[2], '*', 'e', ARGV[1])
return 1
`);

/** How a task is bound to the Idempotency-Key that created it (see {@link TaskStore.createBound}). */
export interface TaskBinding {
  /** The key's marker; must carry the task id's hash tag (`...{<taskId>}`). */
  key: string;
  /** The request's fingerprint, as the marker (JSON) stores it in `fingerprint`. */
  fingerprint: string;
  /** The marker to store once the task exists. */
  value: string;
  ttlMs: number;
}

/**
 * The message published on `redisChannels.taskEvents` for each new event of a task:
 * `<taskId> <status>` after a status change, `<taskId> output` after output. Listeners that only
 * care about the status (a POST waiting for the end) need not read the record on every event.
 */
export function taskNotification(taskId: string, what: TaskStatus | 'output'): string {
  return `${taskId} ${what}`;
}

/**
 * Parses a taskEvents message. `what` is null for a message that does not say (a bare task id,
 * as published before this format): the listener must assume anything changed.
 */
export function parseTaskNotification(message: string): { taskId: string; what: TaskStatus | 'output' | null } {
  const space = message.indexOf(' ');
  if (space < 0) return { taskId: message, what: null };
  const word = message.slice(space + 1);
  const status = TaskStatusSchema.safeParse(word);
  return { taskId: message.slice(0, space), what: word === 'output' ? 'output' : status.success ? status.data : null };
}

export interface TaskStoreOptions {
  redis: Redis;
  /** How long finished tasks and their events are kept (for records that carry no retention). */
  retentionMs: number;
  /**
   * Default per-tenant storage quota checked by `admit` (null or absent = unlimited). Only the
   * harness admits tasks; a runner's store leaves it unset.
   */
  defaultQuotaBytes?: number | null;
  /**
   * Appends each change's audit entry in the same atomic step as the change (the harness's and
   * runners' producers). Absent: nothing is audited (tests of the store alone).
   */
  audit?: AuditProducer;
  /**
   * The task queue (AIRLOCK_TASK_QUEUE) whose harnesses roll back its tasks: a task that ends
   * `failed`, `timed_out` or `cancelled` after capability calls joins that queue's rollback
   * inbox in the transition's own step (protocol/redis-keys.ts `rollbackInbox`). Absent: no
   * inbox (tests of the store alone).
   */
  rollbackQueue?: string;
}

/** Reads and writes task records, event streams and output in Redis. Holds no state of its own. */
export class TaskStore {
  readonly #redis: Redis;
  readonly #retentionMs: number;
  readonly #audit: AuditProducer | null;
  readonly #rollbackQueue: string | null;
  /** Per-tenant storage accounting (quota, retention, usage). */
  readonly storage: TenantStorage;

  constructor(options: TaskStoreOptions) {
    this.#redis = options.redis;
    this.#retentionMs = options.retentionMs;
    this.#audit = options.audit ?? null;
    this.#rollbackQueue = options.rollbackQueue ?? null;
    this.storage = new TenantStorage({
      redis: options.redis,
      defaultQuotaBytes: options.defaultQuotaBytes ?? null,
      defaultRetentionMs: options.retentionMs,
    });
  }

  /**
   * Checks a new task against its tenant's storage quota and reserves its worst case; answers
   * the retention the task is created with (put it in the record given to `create`). Throws
   * StorageQuotaExceededError, having reserved nothing, when the quota would be passed.
   * `extraRedisBytes`: more the task may store in Redis (its capability call records).
   */
  async admit(task: Pick<TaskRecord, 'id' | 'tenantId' | 'runtime' | 'limits'>, extraRedisBytes = 0): Promise<{ retentionMs: number }> {
    const reserve = reservationFor(task.runtime, task.limits);
    return this.storage.admit(task.tenantId, task.id, { ...reserve, redisBytes: reserve.redisBytes + extraRedisBytes });
  }

  /**
   * The stream and 6 stamp fields of a task change's entry (empty without a producer). The entry
   * routes by the task id, to the audit stream that shares the task's hash tag.
   */
  #stamp(taskId: string, action: string, outcome: AuditOutcome, details: AuditDetails, note: TaskAuditNote = {}): readonly string[] {
    if (!this.#audit) return NO_STAMP;
    const s = this.#audit.stamp({ ...note, taskId, action, outcome, details: { ...details, ...note.details } });
    return [s.key, ...s.fields];
  }

  /**
   * Records the grant changes a task is about to apply (`task.grants.applying`), before any is
   * written. Rejects with AuditUnavailableError when the entry cannot be written: then nothing
   * may be applied (no grant changes on the host without an entry).
   */
  async recordGrantPlan(taskId: string, planned: readonly FileChange[]): Promise<void> {
    if (!this.#audit) return;
    let stamp: readonly string[];
    try {
      stamp = this.#stamp(taskId, 'task.grants.applying', 'success', { ...grantChangesDetail(planned) });
    } catch (err) {
      // A path the secret guard refuses: the plan is still recorded, by its count and hash.
      if (!(err instanceof AuditEntryError)) throw err;
      const { grantChangeCount, grantChangesSha256 } = grantChangesDetail(planned);
      stamp = this.#stamp(taskId, 'task.grants.applying', 'success', { grantChangeCount, grantChangesSha256, detailsRefused: err.message.slice(0, 200) });
    }
    try {
      await GRANT_PLAN.run(this.#redis, [redisKeys.task(taskId)], stamp);
    } catch (err) {
      if (isAuditUnavailable(err)) throw new AuditUnavailableError((err as Error).message, { cause: err });
      throw err;
    }
  }

  /** `task.created`: the principal's note plus the task's tenant, agent, metadata, runtime and limits. */
  #createdStamp(task: TaskRecord, note: TaskCreatedNote): readonly string[] {
    const { codeSha256, mounts, ...rest } = note;
    const meta = task.metadata;
    return this.#stamp(
      task.id,
      'task.created',
      'success',
      {
        runtime: task.runtime,
        ...(codeSha256 !== undefined ? { codeSha256 } : {}),
        limits: task.limits,
        ...(mounts && mounts.length > 0 ? { mounts: mounts.map((m) => ({ grant: m.grant, path: m.path, mode: m.mode })) } : {}),
      },
      {
        ...rest,
        tenant: task.tenantId,
        ...(meta.userId !== undefined && rest.userId === undefined ? { userId: meta.userId } : {}),
        ...(meta.promptSnippet !== undefined ? { promptSnippet: meta.promptSnippet } : {}),
        ...(meta.sessionId !== undefined ? { sessionId: meta.sessionId } : {}),
      },
    );
  }

  /**
   * Writes a new task (status `queued`) with its first event and its `task.created` entry (one
   * atomic step), then indexes it for its agent.
   */
  async create(task: TaskRecord, note: TaskCreatedNote = {}): Promise<void> {
    const event: TaskEvent = { type: 'status', status: 'queued', at: task.createdAt };
    await CREATE.run(
      this.#redis,
      [redisKeys.task(task.id), redisKeys.events(task.id)],
      [JSON.stringify(event), ...this.#createdStamp(task, note), ...Object.entries(encode(task)).flat()],
    );
    await this.index(task);
  }

  /**
   * Writes a new task bound to an Idempotency-Key: the task, its first event and the key's
   * marker in one atomic step (CREATE_BOUND), then the agent's index (another slot; ZADD NX, so
   * a retry may write it again after a crash). `exists` means a retry of the same request found
   * the task (the caller answers with it); `conflict` that the key is another request's; `expired`
   * that the key's task was made and has expired since.
   */
  async createBound(
    task: TaskRecord,
    binding: TaskBinding,
    note: TaskCreatedNote = {},
  ): Promise<'created' | 'exists' | 'conflict' | 'expired'> {
    const event: TaskEvent = { type: 'status', status: 'queued', at: task.createdAt };
    const res = await CREATE_BOUND.run(
      this.#redis,
      [binding.key, redisKeys.task(task.id), redisKeys.events(task.id)],
      [
        binding.fingerprint,
        binding.value,
        binding.ttlMs,
        JSON.stringify(event),
        ...this.#createdStamp(task, note),
        ...Object.entries(encode(task)).flat(),
      ],
    );
    if (res === -1) return 'conflict';
    if (res === -2) return 'expired';
    return res === 1 ? 'created' : 'exists';
  }

  /** Lists a task in its agent's index (again: ZADD NX keeps the first score). */
  async index(task: Pick<TaskRecord, 'id' | 'tenantId' | 'agentId' | 'createdAt'>): Promise<void> {
    await this.#redis.zadd(redisKeys.agentTasks(task.tenantId, task.agentId), 'NX', Date.parse(task.createdAt), task.id);
  }

  /** The task with its output (the result's `stdout`/`stderr` come from the output key). */
  async get(taskId: string): Promise<TaskRecord | null> {
    const [[, hash], [, output]] = (await this.#redis
      .pipeline()
      .hgetall(redisKeys.task(taskId))
      .hgetallBuffer(redisKeys.output(taskId))
      .exec()) as [[unknown, Record<string, string>], [unknown, Record<string, Buffer>]];
    if (!hash?.['status']) return null;
    return decode(hash, output ?? {});
  }

  /** Just the status (cheap: no record, no output), or null when the task is gone. */
  async status(taskId: string): Promise<TaskStatus | null> {
    const raw = await this.#redis.hget(redisKeys.task(taskId), 'status');
    return raw === null ? null : TaskStatusSchema.parse(raw);
  }

  /**
   * Moves a task to `to` if its current status is one of `from` (never from a terminal one).
   * Returns false when the task was missing or not in an allowed state. Into a terminal state,
   * the task's keys get its retention and its tenant's storage entry becomes what it stores.
   * Audited as `task.<status>` (with `error.code`, never the message: it may echo the code's
   * output), attributed to `note` (who cancelled, say) when given.
   */
  async transition(
    taskId: string,
    to: TaskStatus,
    from: readonly TaskStatus[],
    patch: TaskPatch = {},
    error?: TaskRecord['error'],
    note?: TaskAuditNote,
  ): Promise<boolean> {
    const allowedFrom = from.filter((s) => !isTerminal(s));
    const at = patch.finishedAt ?? patch.startedAt ?? new Date().toISOString();
    const event: TaskEvent = { type: 'status', status: to, at, ...(error ? { error } : {}) };
    const fields = Object.entries(encode({ ...patch, ...(error ? { error } : {}) })).flat();
    const ttl = isTerminal(to) ? this.#retentionMs : 0;
    const details: AuditDetails = {
      status: to,
      ...(error ? { error: { code: error.code } } : {}),
      ...(patch.usage ? { usage: patch.usage } : {}),
      ...(patch.result?.changes?.length ? { ...grantChangesDetail(patch.result.changes) } : {}),
    };
    let stamp: readonly string[];
    try {
      stamp = this.#stamp(taskId, `task.${to}`, outcomeOf(to), details, note);
    } catch (err) {
      // Refused by the secret guard (say, a changed file's path shaped like a token): the
      // transition is still recorded, without the details, so a task never stays running.
      if (!(err instanceof AuditEntryError)) throw err;
      stamp = this.#stamp(taskId, `task.${to}`, outcomeOf(to), { status: to, ...(error ? { error: { code: error.code } } : {}), detailsRefused: err.message.slice(0, 200) });
    }
    const rollback =
      this.#rollbackQueue !== null && (ROLLBACK_STATUSES as readonly string[]).includes(to)
        ? [redisKeys.rollbackInbox(taskId, this.#rollbackQueue)]
        : [];
    const [code, tenantId, ttlMs, redisBytes] = (await TRANSITION.run(
      this.#redis,
      [redisKeys.task(taskId), redisKeys.events(taskId), redisKeys.output(taskId), ...rollback],
      [to, allowedFrom.join(','), JSON.stringify(event), redisChannels.taskEvents, taskNotification(taskId, to), ttl, randomUUID(), ...stamp, ...fields],
    )) as [number, string?, number?, number?];
    if (code !== 1) return false;
    if (tenantId) {
      const blobBytes = (patch.result?.files ?? []).reduce((n, f) => n + f.size, 0);
      await this.storage.settle(tenantId, taskId, Number(ttlMs), { redisBytes: Number(redisBytes), blobBytes });
    }
    return true;
  }

  /**
   * A runner takes the task of a job: `started` (with the attempt number and where this
   * attempt's output starts in each stream) when it moved to `running`, `gone` when it is
   * missing or already terminal (e.g. cancelled while queued), `mismatch` when the job's
   * tenant/agent is not the task's. Audited as `task.started` (first attempt) or `task.retried`
   * (a later one), with `runner` (its id and the queue's attempt count) in the details.
   */
  async start(
    taskId: string,
    owner: { tenantId: string; agentId: string },
    runner?: { runnerId: string; attempt: number },
  ): Promise<
    | { outcome: 'started'; attempts: number; outputOffsets: Record<OutputStream, number> }
    | { outcome: 'gone' }
    | { outcome: 'mismatch' }
  > {
    const startedAt = new Date().toISOString();
    const event: TaskEvent = { type: 'status', status: 'running', at: startedAt };
    // Whether this is a first attempt is the script's to decide (the record's count); the
    // queue's count is the guess that picks the entry stamped first (right but after a lost
    // start), and a wrong guess costs one more round trip.
    const details: AuditDetails = runner ? { runnerId: runner.runnerId, attempt: runner.attempt } : {};
    const note: TaskAuditNote = { tenant: owner.tenantId, agentId: owner.agentId };
    const guessLater = (runner?.attempt ?? 1) > 1;
    const startId = randomUUID();
    let code = -2;
    let attempts, stdout, stderr;
    for (const later of [guessLater, !guessLater]) {
      const stamp = later
        ? this.#stamp(taskId, 'task.retried', 'success', { ...details, previousAttemptLost: true }, note)
        : this.#stamp(taskId, 'task.started', 'success', details, note);
      [code, attempts, stdout, stderr] = (await START.run(
        this.#redis,
        [redisKeys.task(taskId), redisKeys.events(taskId), redisKeys.output(taskId)],
        [owner.tenantId, owner.agentId, JSON.stringify(event), redisChannels.taskEvents, taskNotification(taskId, 'running'), startedAt, ...stamp, later ? 'later' : 'first', startId],
      )) as [number, number?, number?, number?];
      if (code !== -2) break;
    }
    if (code === 1) {
      return { outcome: 'started', attempts: Number(attempts), outputOffsets: { stdout: Number(stdout), stderr: Number(stderr) } };
    }
    return code === -1 ? { outcome: 'mismatch' } : { outcome: 'gone' };
  }

  /**
   * Appends output bytes (a string is taken as UTF-8) to a live task, once: the bytes go to the
   * task's output key and the event stream gets a reference to them. Returns false once the task
   * is terminal. With `at` (where the caller believes the stream ends) a resent append is not
   * written twice, and an append at any other place throws {@link OutputOffsetError}.
   */
  async appendOutput(taskId: string, stream: OutputStream, data: string | Uint8Array, at?: number): Promise<boolean> {
    const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    const [code, length] = (await APPEND_OUTPUT.run(
      this.#redis,
      [redisKeys.task(taskId), redisKeys.events(taskId), redisKeys.output(taskId)],
      [stream, bytes, at ?? '', redisChannels.taskEvents, taskNotification(taskId, 'output'), CHUNK_BYTES],
    )) as [number, number];
    if (code === -1) throw new OutputOffsetError(taskId, stream, at ?? -1, Number(length));
    return code === 1;
  }

  /**
   * Records fields of a task whose status was already decided elsewhere: usage of a cancelled
   * run, the compensations of its rollback. Nothing when the record is gone.
   */
  async annotate(taskId: string, patch: Pick<TaskPatch, 'usage' | 'compensations'>): Promise<void> {
    await ANNOTATE.run(this.#redis, [redisKeys.task(taskId)], Object.entries(encode(patch)).flat());
  }

  /**
   * Events after `afterId` (exclusive; '-' for all), oldest first. Output events carry their
   * bytes (read from the output key): as text when they are valid UTF-8, else as base64 with
   * `encoding: "base64"`.
   */
  async readEvents(taskId: string, afterId = '-', count = 500): Promise<StoredEvent[]> {
    const start = afterId === '-' ? '-' : `(${afterId}`;
    const rows = await this.#redis.xrange(redisKeys.events(taskId), start, '+', 'COUNT', count);
    const parsed = rows.map(([id, fields]) => ({ id, stored: parseStoredEvent(fields[1] ?? 'null') }));
    const bytes = await this.#readRefs(taskId, parsed.map((p) => p.stored));
    return parsed.map(({ id, stored }) => {
      if (!('offset' in stored)) return { id, event: stored };
      const { data, encoding } = encodeOutput(bytes(stored));
      return { id, event: { type: 'output', stream: stored.stream, data, ...(encoding ? { encoding } : {}) } };
    });
  }

  /** Reads, per stream, the span the references cover (one round trip), and slices it per event. */
  async #readRefs(taskId: string, events: readonly (TaskEvent | OutputRef)[]): Promise<(ref: OutputRef) => Buffer> {
    const spans = new Map<OutputStream, { from: number; to: number }>();
    for (const e of events) {
      if (!('offset' in e)) continue;
      const span = spans.get(e.stream);
      const end = e.offset + e.length;
      spans.set(e.stream, span ? { from: Math.min(span.from, e.offset), to: Math.max(span.to, end) } : { from: e.offset, to: end });
    }
    const read = new Map<OutputStream, { from: number; buf: Buffer }>();
    await Promise.all(
      [...spans].map(async ([stream, { from, to }]) => {
        read.set(stream, { from, buf: await readOutputRange(this.#redis, redisKeys.output(taskId), stream, from, to) });
      }),
    );
    return (ref) => {
      const r = read.get(ref.stream);
      return r ? r.buf.subarray(ref.offset - r.from, ref.offset - r.from + ref.length) : Buffer.alloc(0);
    };
  }

  /** Task ids of one agent, newest first, starting strictly before `beforeScore`/`beforeId`. */
  async listIds(
    tenantId: string,
    agentId: string,
    cursor: { score: number; id: string } | null,
    count: number,
  ): Promise<{ id: string; score: number }[]> {
    const key = redisKeys.agentTasks(tenantId, agentId);
    const max = cursor ? String(cursor.score) : '+inf';
    // Fetch a few extra so ties on the same millisecond can be skipped past the cursor id.
    const raw = await this.#redis.zrevrangebyscore(key, max, '-inf', 'WITHSCORES', 'LIMIT', 0, count + 50);
    const out: { id: string; score: number }[] = [];
    for (let i = 0; i < raw.length; i += 2) {
      const id = raw[i] as string;
      const score = Number(raw[i + 1]);
      if (cursor && score === cursor.score && id >= cursor.id) continue;
      out.push({ id, score });
      if (out.length === count) break;
    }
    return out;
  }

  /** An output file stored in Redis by an older version (before the blob store), or null. */
  async readLegacyOutputFile(taskId: string, path: string): Promise<Buffer | null> {
    const b64 = await this.#redis.hget(redisKeys.legacyOutputFiles(taskId), path);
    return b64 === null ? null : Buffer.from(b64, 'base64');
  }

  async forgetFromIndex(tenantId: string, agentId: string, taskId: string): Promise<void> {
    await this.#redis.zrem(redisKeys.agentTasks(tenantId, agentId), taskId);
  }
}

type AuditDetails = NonNullable<AuditDraft['details']>;

/** What `task.created` says beyond the record: the code's SHA-256 (never the code) and the mounts. */
export type TaskCreatedNote = TaskAuditNote & {
  codeSha256?: string;
  mounts?: readonly { grant: string; path: string; mode: string }[];
};

/** An append was not where the stream ends (another writer, or a lost append before it). */
export class OutputOffsetError extends Error {
  constructor(taskId: string, stream: OutputStream, at: number, length: number) {
    super(`output of task ${taskId}: ${stream} ends at ${length}, not at ${at}`);
  }
}

