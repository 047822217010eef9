/**
 * A task's approval events, beside the state machine (task-store.ts) rather than in it: the
 * record stays `running` while a call waits; a counter on the record (`approvalsPending`) says
 * how many wait, and the API shows the task `waiting_approval` while it is above zero (see
 * {@link viewStatus}). Each script appends the approval event, and a status event when the task
 * starts or stops waiting, to the task's event stream and notifies listeners, in one atomic step
 * on the task's keys; a task that is no longer running gets nothing (its stream ended with its
 * terminal status).
 */
import type { Redis } from 'ioredis';
import { LuaScript } from './lua-script.ts';
import { redisChannels, redisKeys } from './redis-keys.ts';
import type { TaskEvent, TaskStatus } from './task.ts';
import { taskNotification } from './task-store.ts';

/* KEYS: task, events. ARGV: approval event JSON, waiting status event JSON, channel, message. */
const REQUESTED = new LuaScript(`
if redis.call('HGET', KEYS[1], 'status') ~= 'running' then return 0 end
local n = redis.call('HINCRBY', KEYS[1], 'approvalsPending', 1)
redis.call('XADD', KEYS[2], '*', 'e', ARGV[1])
if n == 1 then redis.call('XADD', KEYS[2], '*', 'e', ARGV[2]) end
redis.call('PUBLISH', ARGV[3], ARGV[4])
return n
`);

/* KEYS: task, events. ARGV: approval event JSON, running status event JSON, channel, message. */
const DECIDED = new LuaScript(`
if redis.call('HGET', KEYS[1], 'status') ~= 'running' then return -1 end
redis.call('XADD', KEYS[2], '*', 'e', ARGV[1])
local n = tonumber(redis.call('HGET', KEYS[1], 'approvalsPending') or '0') or 0
if n <= 1 then
  redis.call('HDEL', KEYS[1], 'approvalsPending')
  if n == 1 then redis.call('XADD', KEYS[2], '*', 'e', ARGV[2]) end
  n = 0
else
  n = redis.call('HINCRBY', KEYS[1], 'approvalsPending', -1)
end
redis.call('PUBLISH', ARGV[3], ARGV[4])
return n
`);

type Requested = Extract<TaskEvent, { type: 'approval_requested' }>;
type Decided = Extract<TaskEvent, { type: 'approval_decided' }>;

/** Records that one of the task's calls now waits for a decision (once per request). */
export async function appendApprovalRequested(redis: Redis, taskId: string, event: Requested): Promise<boolean> {
  const waiting: TaskEvent = { type: 'status', status: 'waiting_approval', at: event.at };
  const n = await REQUESTED.run(
    redis,
    [redisKeys.task(taskId), redisKeys.events(taskId)],
    [JSON.stringify(event), JSON.stringify(waiting), redisChannels.taskEvents, taskNotification(taskId, 'waiting_approval')],
  );
  return Number(n) > 0;
}

/** Records that a request of the task left `pending` (once per request). */
export async function appendApprovalDecided(redis: Redis, taskId: string, event: Decided): Promise<void> {
  const running: TaskEvent = { type: 'status', status: 'running', at: event.at };
  await DECIDED.run(
    redis,
    [redisKeys.task(taskId), redisKeys.events(taskId)],
    [JSON.stringify(event), JSON.stringify(running), redisChannels.taskEvents, taskNotification(taskId, 'running')],
  );
}

/** The status the API shows: `waiting_approval` for a running task with a call waiting for a human. */
export function viewStatus(task: { status: TaskStatus; approvalsPending?: number | undefined }): TaskStatus {
  return task.status === 'running' && (task.approvalsPending ?? 0) > 0 ? 'waiting_approval' : task.status;
}
