import { createHash } from 'node:crypto';

/**
 * Redis key and channel names shared by harness and runner. Task keys use a hash tag around the
 * task id so a task's hash and its event stream live in one cluster slot (the transition script
 * touches both).
 */
export const redisKeys = {
  task: (taskId: string) => `airlock:task:{${taskId}}`,
  events: (taskId: string) => `airlock:events:{${taskId}}`,
  agentTasks: (tenantId: string, agentId: string) => `airlock:agent-tasks:${tenantId}:${agentId}`,
  idempotency: (scope: string) => `airlock:idem:${scope}`,
  /** Contents of files a task wrote under /out: hash of path → base64. */
  outputFiles: (taskId: string) => `airlock:files:{${taskId}}`,
  runners: 'airlock:runners',
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

/** The shard of a routing id: first 4 bytes of SHA-256(id), big-endian, mod AUDIT_SHARDS. */
export function auditShard(id: string): number {
  return createHash('sha256').update(id).digest().readUInt32BE(0) % AUDIT_SHARDS;
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
