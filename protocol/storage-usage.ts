/**
 * Per-tenant storage: how many bytes a tenant's tasks hold (in Redis and in the blob store), the
 * quota checked when a task is created, and the tenant's retention.
 *
 * No counter that can leak: a tenant's tasks are a sorted set scored by when each stops counting
 * (its expiry), beside a hash of each task's bytes. Every script that changes one changes the
 * other and the totals in the same atomic step, and prunes what has expired first; so the usage
 * drops by itself as tasks expire, and the admin view recomputes the totals from the hash.
 *
 * Life of an entry: when a task is created its worst case is reserved (its output limits, plus
 * the /out cap for containers; refused if that would pass the quota), scored with the retention;
 * when it becomes terminal (TaskStore.transition) the reservation is replaced by what it really
 * stores, scored with the moment its keys expire.
 */
import type { Redis } from 'ioredis';
import { LuaScript } from './lua-script.ts';
import { redisKeys } from './redis-keys.ts';
import { backendOf, OUT_FILES_MAX_BYTES, type Limits, type Runtime } from './task.ts';

/* The part every script starts with: the clock, and dropping what expired (bounded per call). */
const PRUNE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local function forget(id)
  local v = redis.call('HGET', KEYS[2], id)
  if v then
    local r, b = string.match(v, '^(%d+),(%d+)$')
    -- (0 - x, not -x: Lua writes -0 as "-0", which HINCRBY refuses)
    redis.call('HINCRBY', KEYS[3], 'redis', 0 - tonumber(r or '0'))
    redis.call('HINCRBY', KEYS[3], 'blob', 0 - tonumber(b or '0'))
    redis.call('HINCRBY', KEYS[3], 'tasks', -1)
    redis.call('HDEL', KEYS[2], id)
  end
  redis.call('ZREM', KEYS[1], id)
end
local function prune(limit)
  local expired = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, limit)
  for _, id in ipairs(expired) do forget(id) end
  return #expired
end
local function record(id, score, r, b)
  forget(id)
  redis.call('HSET', KEYS[2], id, r .. ',' .. b)
  redis.call('HINCRBY', KEYS[3], 'redis', r)
  redis.call('HINCRBY', KEYS[3], 'blob', b)
  redis.call('HINCRBY', KEYS[3], 'tasks', 1)
  redis.call('ZADD', KEYS[1], score, id)
end
`;

/*
 * KEYS: tasks, bytes, totals, settings. ARGV: task id, reserved Redis bytes, reserved blob bytes,
 * default quota (-1 = none), default retention ms.
 * Returns {1, used after, quota, retention} or {0, used, quota, retention} when refused; a task
 * id already counted is admitted as it is.
 */
const ADMIT = new LuaScript(`${PRUNE}
prune(1000)
local s = redis.call('HMGET', KEYS[4], 'quotaBytes', 'retentionMs')
local quota = tonumber(s[1] or '') or tonumber(ARGV[4])
local retention = tonumber(s[2] or '') or tonumber(ARGV[5])
local totals = redis.call('HMGET', KEYS[3], 'redis', 'blob')
local used = (tonumber(totals[1] or '') or 0) + (tonumber(totals[2] or '') or 0)
local need = tonumber(ARGV[2]) + tonumber(ARGV[3])
-- A task id admitted before (a retry of the same create: ids come from the Idempotency-Key) is
-- already counted, reserved or settled: admitting it again changes nothing and is never refused.
if redis.call('ZSCORE', KEYS[1], ARGV[1]) then return {1, used, quota, retention} end
if quota >= 0 and used + need > quota then return {0, used, quota, retention} end
record(ARGV[1], now + retention, ARGV[2], ARGV[3])
return {1, used + need, quota, retention}
`);

/* KEYS: tasks, bytes, totals. ARGV: task id, ttl ms, Redis bytes, blob bytes. */
const SETTLE = new LuaScript(`${PRUNE}
prune(100)
record(ARGV[1], now + tonumber(ARGV[2]), ARGV[3], ARGV[4])
return 1
`);

/*
 * KEYS: tasks, bytes, totals. Prunes everything expired, recomputes the totals from the per-task
 * bytes (so the view is exact even if an earlier script died half-way) and returns them.
 */
const USAGE = new LuaScript(`${PRUNE}
while prune(1000) == 1000 do end
local all = redis.call('HGETALL', KEYS[2])
local r, b, n = 0, 0, 0
for i = 2, #all, 2 do
  local x, y = string.match(all[i], '^(%d+),(%d+)$')
  r = r + tonumber(x or '0')
  b = b + tonumber(y or '0')
  n = n + 1
end
redis.call('HSET', KEYS[3], 'redis', r, 'blob', b, 'tasks', n)
return {r, b, n}
`);

/** A tenant's storage settings (operator overrides of the defaults). */
export interface StorageSettings {
  quotaBytes?: number;
  retentionMs?: number;
}

/** What a tenant stores now. */
export interface StorageUsage {
  redisBytes: number;
  blobBytes: number;
  tasks: number;
}

/** 403 `storage_quota_exceeded` (harness/problems.ts): the task was not created. */
export class StorageQuotaExceededError extends Error {
  /** The stable problem code the harness renders (docs/problems.md). */
  readonly code = 'storage_quota_exceeded';
  readonly problemExtensions: { usedBytes: number; quotaBytes: number; requiredBytes: number };

  constructor(tenantId: string, usedBytes: number, quotaBytes: number, requiredBytes: number) {
    super(
      `Tenant ${tenantId} stores ${usedBytes} bytes of its ${quotaBytes}-byte storage quota and this ` +
        `task may need ${requiredBytes} more; wait for older tasks to expire or ask the operator to raise the quota`,
    );
    this.problemExtensions = { usedBytes, quotaBytes, requiredBytes };
  }
}

/** Bytes a task Redis-side record and events take beyond its output (a generous estimate). */
export const RECORD_RESERVE_BYTES = 64 * 1024;

/**
 * The most a new task can store: both output streams at their limit, the completion value
 * (isolates; capped like output) and the record in Redis; the /out files (containers) in blobs.
 */
export function reservationFor(runtime: Runtime, limits: Limits): { redisBytes: number; blobBytes: number } {
  const isolate = backendOf(runtime) === 'isolate';
  return {
    redisBytes: (isolate ? 3 : 2) * limits.outputBytes + RECORD_RESERVE_BYTES,
    blobBytes: isolate ? 0 : OUT_FILES_MAX_BYTES,
  };
}

export interface TenantStorageOptions {
  redis: Redis;
  /** Quota of a tenant without an override; null = unlimited. */
  defaultQuotaBytes: number | null;
  /** Retention of a tenant without an override. */
  defaultRetentionMs: number;
}

/** The storage accounting of tenants (see the module comment). Holds no state of its own. */
export class TenantStorage {
  readonly #redis: Redis;
  readonly #defaultQuotaBytes: number | null;
  readonly #defaultRetentionMs: number;

  constructor(options: TenantStorageOptions) {
    this.#redis = options.redis;
    this.#defaultQuotaBytes = options.defaultQuotaBytes;
    this.#defaultRetentionMs = options.defaultRetentionMs;
  }

  get defaults(): { quotaBytes: number | null; retentionMs: number } {
    return { quotaBytes: this.#defaultQuotaBytes, retentionMs: this.#defaultRetentionMs };
  }

  static #keys(tenantId: string): string[] {
    return [redisKeys.storageTasks(tenantId), redisKeys.storageBytes(tenantId), redisKeys.storageTotals(tenantId)];
  }

  /**
   * Reserves a new task's worst case under the tenant's quota and answers the tenant's
   * retention for it; throws {@link StorageQuotaExceededError} (reserving nothing) when the
   * reservation would pass the quota.
   */
  async admit(
    tenantId: string,
    taskId: string,
    reserve: { redisBytes: number; blobBytes: number },
  ): Promise<{ retentionMs: number }> {
    const [ok, used, quota, retention] = (await ADMIT.run(
      this.#redis,
      [...TenantStorage.#keys(tenantId), redisKeys.storageSettings(tenantId)],
      [taskId, reserve.redisBytes, reserve.blobBytes, this.#defaultQuotaBytes ?? -1, this.#defaultRetentionMs],
    )) as [number, number, number, number];
    if (ok !== 1) {
      throw new StorageQuotaExceededError(tenantId, used, quota, reserve.redisBytes + reserve.blobBytes);
    }
    return { retentionMs: Number(retention) };
  }

  /** Replaces a task's entry by what it really stores, counted until `ttlMs` from now. */
  async settle(tenantId: string, taskId: string, ttlMs: number, bytes: { redisBytes: number; blobBytes: number }): Promise<void> {
    await SETTLE.run(this.#redis, TenantStorage.#keys(tenantId), [taskId, ttlMs, bytes.redisBytes, bytes.blobBytes]);
  }

  /** What the tenant stores now (exact: pruned and recomputed). */
  async usage(tenantId: string): Promise<StorageUsage> {
    const [redisBytes, blobBytes, tasks] = (await USAGE.run(this.#redis, TenantStorage.#keys(tenantId), [])) as number[];
    return { redisBytes: Number(redisBytes), blobBytes: Number(blobBytes), tasks: Number(tasks) };
  }

  /** The tenant's overrides (absent fields: the defaults apply). */
  async settings(tenantId: string): Promise<StorageSettings> {
    const [quota, retention] = await this.#redis.hmget(redisKeys.storageSettings(tenantId), 'quotaBytes', 'retentionMs');
    return {
      ...(quota !== null ? { quotaBytes: Number(quota) } : {}),
      ...(retention !== null ? { retentionMs: Number(retention) } : {}),
    };
  }

  /** Replaces the tenant's overrides (fields left out go back to the defaults). */
  async replaceSettings(tenantId: string, settings: StorageSettings): Promise<void> {
    const key = redisKeys.storageSettings(tenantId);
    const fields: (string | number)[] = [];
    if (settings.quotaBytes !== undefined) fields.push('quotaBytes', settings.quotaBytes);
    if (settings.retentionMs !== undefined) fields.push('retentionMs', settings.retentionMs);
    const tx = this.#redis.multi().del(key);
    if (fields.length > 0) tx.hset(key, ...fields);
    await tx.exec();
  }
}
