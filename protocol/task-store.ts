import { z } from 'zod';
import type { Redis } from 'ioredis';
import { TaskErrorSchema } from './errors.ts';
import { LuaScript } from './lua-script.ts';
import { redisChannels, redisKeys } from './redis-keys.ts';
import {
  LimitsSchema,
  MetadataSchema,
  RuntimeSchema,
  TaskEventSchema,
  TaskResultSchema,
  TaskStatusSchema,
  UsageSchema,
  isTerminal,
  type OutputStream,
  type TaskEvent,
  type TaskStatus,
} from './task.ts';

/** A task as stored in Redis: the system of record both harness and runner speak. */
export const TaskRecordSchema = z.strictObject({
  id: z.string(),
  tenantId: z.string(),
  agentId: z.string(),
  status: TaskStatusSchema,
  runtime: RuntimeSchema,
  createdAt: z.string(),
  startedAt: z.string().optional(),
  finishedAt: z.string().optional(),
  limits: LimitsSchema,
  metadata: MetadataSchema,
  result: TaskResultSchema.optional(),
  error: TaskErrorSchema.optional(),
  usage: UsageSchema.optional(),
  attempts: z.number().int().nonnegative(),
});
export type TaskRecord = z.infer<typeof TaskRecordSchema>;

/** Fields a transition may set besides `status`. */
export type TaskPatch = Partial<
  Pick<TaskRecord, 'startedAt' | 'finishedAt' | 'result' | 'error' | 'usage' | 'attempts'>
>;

export interface StoredEvent {
  /** The Redis stream id, used as the SSE event id. */
  id: string;
  event: TaskEvent;
}

/*
 * The only way a task's status changes. It refuses to leave a terminal state (terminal states
 * never change) and appends the status event and notifies listeners in the same atomic step, so
 * readers never see a status without its event. The notification names the new status (see
 * taskNotification), so a waiter learns a status without reading the record.
 */
const TRANSITION = new LuaScript(`
local cur = redis.call('HGET', KEYS[1], 'status')
if not cur then return -1 end
local allowed = false
for s in string.gmatch(ARGV[2], '[^,]+') do
  if s == cur then allowed = true end
end
if not allowed then return 0 end
redis.call('HSET', KEYS[1], 'status', ARGV[1])
if #ARGV > 6 then redis.call('HSET', KEYS[1], unpack(ARGV, 7)) end
redis.call('XADD', KEYS[2], '*', 'e', ARGV[3])
redis.call('PUBLISH', ARGV[4], ARGV[5])
local ttl = tonumber(ARGV[6])
if ttl > 0 then
  redis.call('PEXPIRE', KEYS[1], ttl)
  redis.call('PEXPIRE', KEYS[2], ttl)
end
return 1
`);

/*
 * A runner takes a task: reads who owns it and moves it to `running` in one round trip (the
 * runner used to read the record, then transition it). Returns {1, attempts} when started,
 * {0} when the task is gone or already terminal (nothing to do), {-1} when the job's tenant or
 * agent is not the task's (a forged or corrupted job: refused).
 * ARGV: tenantId, agentId, event JSON, channel, message, startedAt.
 */
const START = new LuaScript(`
local rec = redis.call('HMGET', KEYS[1], 'status', 'tenantId', 'agentId', 'attempts')
local cur = rec[1]
if (not cur) or (cur ~= 'queued' and cur ~= 'running') then return {0} end
if rec[2] ~= ARGV[1] or rec[3] ~= ARGV[2] then return {-1} end
local attempts = (tonumber(rec[4]) or 0) + 1
redis.call('HSET', KEYS[1], 'status', 'running', 'startedAt', ARGV[6], 'attempts', tostring(attempts))
redis.call('XADD', KEYS[2], '*', 'e', ARGV[3])
redis.call('PUBLISH', ARGV[4], ARGV[5])
return {1, attempts}
`);

/* Appends output only while the task is not terminal: a cancelled task's stream stays closed. */
const APPEND_OUTPUT = new LuaScript(`
local cur = redis.call('HGET', KEYS[1], 'status')
if cur ~= 'queued' and cur ~= 'running' then return 0 end
redis.call('XADD', KEYS[2], '*', 'e', ARGV[1])
redis.call('PUBLISH', ARGV[2], ARGV[3])
return 1
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
 * ARGV: fingerprint, bound marker JSON, marker TTL ms, queued event JSON, ...hash fields.
 */
const CREATE_BOUND = new LuaScript(`
local raw = redis.call('GET', KEYS[1])
local marker = raw and cjson.decode(raw) or nil
if marker and marker['fingerprint'] ~= ARGV[1] then return -1 end
if redis.call('EXISTS', KEYS[2]) == 1 then
  if marker and marker['state'] ~= 'claimed' then return 0 end
  return -1
end
if marker and marker['state'] ~= 'claimed' then return -2 end
redis.call('HSET', KEYS[2], unpack(ARGV, 5))
redis.call('XADD', KEYS[3], '*', 'e', ARGV[4])
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
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

const JSON_FIELDS = ['limits', 'metadata', 'result', 'error', 'usage', 'attempts'] as const;

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
  /** How long finished tasks and their events are kept. */
  retentionMs: number;
}

/** Reads and writes task records and event streams in Redis. Holds no state of its own. */
export class TaskStore {
  readonly #redis: Redis;
  readonly #retentionMs: number;

  constructor(options: TaskStoreOptions) {
    this.#redis = options.redis;
    this.#retentionMs = options.retentionMs;
  }

  /** Writes a new task (status `queued`) with its first event and indexes it for its agent. */
  async create(task: TaskRecord): Promise<void> {
    const event: TaskEvent = { type: 'status', status: 'queued', at: task.createdAt };
    await this.#redis
      .multi()
      .hset(redisKeys.task(task.id), encode(task))
      .xadd(redisKeys.events(task.id), '*', 'e', JSON.stringify(event))
      .zadd(redisKeys.agentTasks(task.tenantId, task.agentId), Date.parse(task.createdAt), task.id)
      .exec();
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
  ): Promise<'created' | 'exists' | 'conflict' | 'expired'> {
    const event: TaskEvent = { type: 'status', status: 'queued', at: task.createdAt };
    const res = await CREATE_BOUND.run(
      this.#redis,
      [binding.key, redisKeys.task(task.id), redisKeys.events(task.id)],
      [binding.fingerprint, binding.value, binding.ttlMs, JSON.stringify(event), ...Object.entries(encode(task)).flat()],
    );
    if (res === -1) return 'conflict';
    if (res === -2) return 'expired';
    return res === 1 ? 'created' : 'exists';
  }

  /** Lists a task in its agent's index (again: ZADD NX keeps the first score). */
  async index(task: Pick<TaskRecord, 'id' | 'tenantId' | 'agentId' | 'createdAt'>): Promise<void> {
    await this.#redis.zadd(redisKeys.agentTasks(task.tenantId, task.agentId), 'NX', Date.parse(task.createdAt), task.id);
  }

  async get(taskId: string): Promise<TaskRecord | null> {
    const hash = await this.#redis.hgetall(redisKeys.task(taskId));
    if (!hash['status']) return null;
    return decode(hash);
  }

  /**
   * Moves a task to `to` if its current status is one of `from` (never from a terminal one).
   * Returns false when the task was missing or not in an allowed state.
   */
  async transition(
    taskId: string,
    to: TaskStatus,
    from: readonly TaskStatus[],
    patch: TaskPatch = {},
    error?: TaskRecord['error'],
  ): Promise<boolean> {
    const allowedFrom = from.filter((s) => !isTerminal(s));
    const at = patch.finishedAt ?? patch.startedAt ?? new Date().toISOString();
    const event: TaskEvent = { type: 'status', status: to, at, ...(error ? { error } : {}) };
    const fields = Object.entries(encode({ ...patch, ...(error ? { error } : {}) })).flat();
    const ttl = isTerminal(to) ? this.#retentionMs : 0;
    const res = await TRANSITION.run(
      this.#redis,
      [redisKeys.task(taskId), redisKeys.events(taskId)],
      [to, allowedFrom.join(','), JSON.stringify(event), redisChannels.taskEvents, taskNotification(taskId, to), ttl, ...fields],
    );
    return res === 1;
  }

  /**
   * A runner takes the task of a job: `started` (with the attempt number) when it moved to
   * `running`, `gone` when it is missing or already terminal (e.g. cancelled while queued),
   * `mismatch` when the job's tenant/agent is not the task's.
   */
  async start(
    taskId: string,
    owner: { tenantId: string; agentId: string },
  ): Promise<{ outcome: 'started'; attempts: number } | { outcome: 'gone' | 'mismatch' }> {
    const startedAt = new Date().toISOString();
    const event: TaskEvent = { type: 'status', status: 'running', at: startedAt };
    const [code, attempts] = (await START.run(
      this.#redis,
      [redisKeys.task(taskId), redisKeys.events(taskId)],
      [owner.tenantId, owner.agentId, JSON.stringify(event), redisChannels.taskEvents, taskNotification(taskId, 'running'), startedAt],
    )) as [number, number?];
    if (code === 1) return { outcome: 'started', attempts: Number(attempts) };
    return { outcome: code === -1 ? 'mismatch' : 'gone' };
  }

  /** Appends an output chunk to a live task's events. Returns false once the task is terminal. */
  async appendOutput(taskId: string, stream: OutputStream, data: string): Promise<boolean> {
    const event: TaskEvent = { type: 'output', stream, data };
    const res = await APPEND_OUTPUT.run(
      this.#redis,
      [redisKeys.task(taskId), redisKeys.events(taskId)],
      [JSON.stringify(event), redisChannels.taskEvents, taskNotification(taskId, 'output')],
    );
    return res === 1;
  }

  /** Records usage/result of a run whose status was already decided elsewhere (e.g. cancel). */
  async annotate(taskId: string, patch: Pick<TaskPatch, 'usage'>): Promise<void> {
    await ANNOTATE.run(this.#redis, [redisKeys.task(taskId)], Object.entries(encode(patch)).flat());
  }

  /** Events after `afterId` (exclusive; '-' for all), oldest first. */
  async readEvents(taskId: string, afterId = '-', count = 500): Promise<StoredEvent[]> {
    const start = afterId === '-' ? '-' : `(${afterId}`;
    const rows = await this.#redis.xrange(redisKeys.events(taskId), start, '+', 'COUNT', count);
    return rows.map(([id, fields]) => ({
      id,
      event: TaskEventSchema.parse(JSON.parse(fields[1] ?? 'null')),
    }));
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

  /** Stores the contents of files a task wrote (kept as long as the task). */
  async saveOutputFiles(taskId: string, files: readonly { path: string; contentBase64: string }[]): Promise<void> {
    if (files.length === 0) return;
    const key = redisKeys.outputFiles(taskId);
    const fields = files.flatMap((f) => [f.path, f.contentBase64]);
    await this.#redis.multi().hset(key, ...fields).pexpire(key, this.#retentionMs).exec();
  }

  /** One stored output file's content, or null. */
  async readOutputFile(taskId: string, path: string): Promise<Buffer | null> {
    const b64 = await this.#redis.hget(redisKeys.outputFiles(taskId), path);
    return b64 === null ? null : Buffer.from(b64, 'base64');
  }

  async forgetFromIndex(tenantId: string, agentId: string, taskId: string): Promise<void> {
    await this.#redis.zrem(redisKeys.agentTasks(tenantId, agentId), taskId);
  }
}

function encode(fields: Partial<TaskRecord>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(fields)) {
    if (v === undefined) continue;
    out[k] = (JSON_FIELDS as readonly string[]).includes(k) ? JSON.stringify(v) : String(v);
  }
  return out;
}

function decode(hash: Record<string, string>): TaskRecord {
  const raw: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(hash)) {
    raw[k] = (JSON_FIELDS as readonly string[]).includes(k) ? JSON.parse(v) : v;
  }
  return TaskRecordSchema.parse(raw);
}
