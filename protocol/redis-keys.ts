import { hash } from 'node:crypto';
import { LruMap } from './lru-map.ts';

/**
 * The hash tag of every key that belongs to one task (record, events, output, idempotency
 * binding, capability calls…): keys a script touches together must share a cluster slot. It is
 * the tag of the task's audit shard (`{s07}`), so a script that changes a task also appends the
 * audit entry of that change to the shard's stream in the same atomic step (one slot). Always
 * build per-task keys with `taskKeyPart`, never with the id directly, so the tag can change in
 * one place.
 */
export function taskTag(taskId: string): string {
  return auditShardTag(auditShard(taskId));
}

/** The part of a per-task key that names the task: its hash tag, then its id (`{s07}:<id>`). */
export function taskKeyPart(taskId: string): string {
  return `${taskTag(taskId)}:${taskId}`;
}

/**
 * Redis key and channel names shared by harness and runner. Task keys carry the task's hash tag
 * (`taskKeyPart`) so a task's hash, its event stream, its output and its audit stream live in one
 * cluster slot (the transition script touches all four). Storage keys use a hash tag around the tenant id (the
 * accounting scripts touch all of a tenant's storage keys at once).
 */
export const redisKeys = {
  task: (taskId: string) => `airlock:task:${taskKeyPart(taskId)}`,
  events: (taskId: string) => `airlock:events:${taskKeyPart(taskId)}`,
  agentTasks: (tenantId: string, agentId: string) => `airlock:agent-tasks:${tenantId}:${agentId}`,
  idempotency: (scope: string) => `airlock:idem:${scope}`,
  /**
   * Before output files moved to the blob store: hash of path → base64. Read only, for tasks
   * stored by an older version (it expires with them).
   */
  legacyOutputFiles: (taskId: string) => `airlock:files:${taskKeyPart(taskId)}`,
  /**
   * Exactly-once records of the task's capability calls, field = call seq (harness/broker/
   * call-records.ts, which gives it the task's retention). Same tag and id as the task: the
   * terminal transition derives it from the task key and counts it in the tenant's storage.
   */
  calls: (taskId: string) => `airlock:calls:${taskKeyPart(taskId)}`,
  /** The task's stdout and stderr, once, as raw bytes (see protocol/task-output.ts). */
  output: (taskId: string) => `airlock:output:${taskKeyPart(taskId)}`,
  /** Tenant storage accounting (protocol/storage-usage.ts): task id → expiry (ms), a sorted set. */
  storageTasks: (tenantId: string) => `airlock:storage:{${tenantId}}:tasks`,
  /** Tenant storage accounting: task id → "<redis bytes>,<blob bytes>". */
  storageBytes: (tenantId: string) => `airlock:storage:{${tenantId}}:bytes`,
  /** Tenant storage accounting: sums of storageBytes (`redis`, `blob`, `tasks`). */
  storageTotals: (tenantId: string) => `airlock:storage:{${tenantId}}:totals`,
  /** Tenant storage settings set by the operator: `quotaBytes`, `retentionMs`. */
  storageSettings: (tenantId: string) => `airlock:storage:{${tenantId}}:settings`,
  runners: 'airlock:runners',
  /** A runner's backends and whether each is ready (protocol/runner-status.ts). */
  runnerStatus: (runnerId: string) => `airlock:runner-status:${runnerId}`,
  /**
   * Id of the installation (all runners sharing this Redis), made by the first runner; it labels
   * every container, so runners of another installation on the same Docker engine leave them alone.
   */
  installation: 'airlock:installation',
  /**
   * Tasks of one task queue that ended `failed`, `timed_out` or `cancelled` after capability
   * calls, waiting for the harness to queue their rollback (harness/rollback/): a set per audit
   * shard (the task's hash tag, so the transition script adds to it in its own slot).
   */
  rollbackInbox: (taskId: string, queue: string) => `airlock:rollback:${taskTag(taskId)}:${queue}`,
  /** The rollback inbox of one shard (the harness drains all AUDIT_SHARDS of them). */
  rollbackInboxOfShard: (shard: number, queue: string) => `airlock:rollback:${auditShardTag(shard)}:${queue}`,
} as const;

export const redisChannels = {
  /** Message = task id; published after every event appended to a task's stream. */
  taskEvents: 'airlock:task-events',
  /** Message = task id; runners abort that task if they run it. */
  cancel: 'airlock:cancel',
} as const;

/** The BullMQ queue of isolate tasks. Keep in sync with the runner's worker. */
export const TASK_QUEUE = 'airlock-tasks';
/**
 * The BullMQ queue of container tasks that goes with an isolate queue (only runners with a
 * Docker engine take these): `airlock-tasks-containers` for the default queue.
 */
export function containerQueueName(isolateQueue: string = TASK_QUEUE): string {
  return `${isolateQueue}-containers`;
}

/**
 * The audit transport: AUDIT_SHARDS fixed streams, one cluster slot each (`airlock:audit:{s07}`).
 * Task entries go to the shard of their task id, others to the shard of their tenant id (so a
 * script that changes a task can append its audit entry in the same slot once the task's keys
 * carry the shard's tag). Redis is only transport: the sealer (sealer/) writes the record.
 */
export const AUDIT_SHARDS = 16;

/** Shards of ids seen lately: a task's keys are named several times per call and per change. */
const shardsSeen = new LruMap<string, number>(4096);

/** The shard of a routing id: first 4 bytes of SHA-256(id), big-endian, mod AUDIT_SHARDS. */
export function auditShard(id: string): number {
  let shard = shardsSeen.get(id);
  if (shard === undefined) {
    // The first 4 bytes of SHA-256(id), big-endian: hex from the one-shot hash makes no Hash object.
    shard = Number.parseInt(hash('sha256', id, 'hex').slice(0, 8), 16) % AUDIT_SHARDS;
    shardsSeen.set(id, shard);
  }
  return shard;
}

/** The hash tag of a shard: `{s00}` … `{s15}`. */
export function auditShardTag(shard: number): string {
  if (!Number.isInteger(shard) || shard < 0 || shard >= AUDIT_SHARDS) throw new Error(`no audit shard ${shard}`);
  return `{s${String(shard).padStart(2, '0')}}`;
}

/** The stream of a shard. ACL pattern of all of them: `airlock:audit:*`. */
export function auditStreamKey(shard: number): string {
  return `airlock:audit:${auditShardTag(shard)}`;
}
