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
  /**
   * Id of the installation (all runners sharing this Redis), made by the first runner; it labels
   * every container, so runners of another installation on the same Docker engine leave them alone.
   */
  installation: 'airlock:installation',
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
