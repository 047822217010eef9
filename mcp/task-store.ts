/**
 * MCP tasks (revision 2025-11-25, `tasks` capability; experimental in @modelcontextprotocol/sdk
 * 1.x) backed by Airlock's own tasks: the MCP task id IS the Airlock task id, and every method
 * reads or changes the task through the REST API with the caller's credential. Nothing is kept
 * here, so both transports (the stateless HTTP one builds a server per request) see the same
 * tasks, and a caller sees exactly the tasks REST shows them (another tenant's is "not found").
 *
 * Status mapping: queued/running → `working`; `waiting_approval` → `input_required` (a human
 * must approve a capability call: the approver decides through the approvals API, not the MCP
 * client, so `tasks/result` simply waits until the task ends); succeeded → `completed`;
 * failed/timed_out → `failed`; cancelled → `cancelled`.
 */
import { randomUUID } from 'node:crypto';
import type { CreateTaskOptions, TaskStore } from '@modelcontextprotocol/sdk/experimental/tasks';
import type { CallToolResult, Request, RequestId, Result, Task } from '@modelcontextprotocol/sdk/types.js';
import type { AirlockApi } from './airlock-tools.ts';

/** How long run_code waits inside one plain (not task-augmented) tool call before answering with the task still running. */
export const RUN_WAIT_SECONDS = 55;
/** What a client is told to wait between two `tasks/get`. */
const POLL_INTERVAL_MS = 1000;

export const TERMINAL = new Set(['succeeded', 'failed', 'timed_out', 'cancelled']);

export type AirlockTask = Record<string, unknown> & { id: string; status: string; createdAt: string };

/** A problem answer as an Error whose message a model can read. */
export class AirlockRefusal extends Error {
  constructor(status: number, body: unknown) {
    const p = body as { code?: string; title?: string; detail?: string } | null;
    super(`Airlock refused (${status} ${p?.code ?? 'error'}): ${p?.detail ?? p?.title ?? ''}`.trim());
  }
}

type PendingApproval = { id: string; capability: string; deadline: string };

/** What a model (and the human it asks) needs to know about a task waiting for approval. */
export function approvalNote(task: AirlockTask): string {
  const pending = (task['pendingApprovals'] as PendingApproval[] | undefined) ?? [];
  const which = pending.length > 0
    ? pending.map((a) => `approval ${a.id} of ${a.capability} (decide before ${a.deadline})`).join('; ')
    : 'a capability call it made';
  const how = pending.length > 0 ? `\`airlock approvals approve ${pending[0]!.id}\` or POST /v1/approvals/${pending[0]!.id}/approve` : '`airlock approvals ls`';
  return (
    `The task is waiting for a human to approve ${which}. An approver or admin of the tenant decides it (${how}). ` +
    'It continues once approved; the call fails if denied or not decided before its deadline.'
  );
}

export function mcpStatus(status: string): Task['status'] {
  switch (status) {
    case 'waiting_approval':
      return 'input_required';
    case 'succeeded':
      return 'completed';
    case 'failed':
    case 'timed_out':
      return 'failed';
    case 'cancelled':
      return 'cancelled';
    default:
      return 'working';
  }
}

export function toMcpTask(task: AirlockTask): Task {
  const status = mcpStatus(task.status);
  const error = task['error'] as { message?: string } | undefined;
  const statusMessage =
    task.status === 'waiting_approval' ? approvalNote(task)
    : task.status === 'timed_out' ? `Timed out${error?.message ? `: ${error.message}` : ''}`
    : error?.message ? error.message
    : `Airlock task ${task.status}`;
  return {
    taskId: task.id,
    status,
    statusMessage,
    ttl: null,
    createdAt: task.createdAt,
    lastUpdatedAt: String(task['finishedAt'] ?? task['startedAt'] ?? task.createdAt),
    pollInterval: POLL_INTERVAL_MS,
  };
}

/** What a model needs of a task: status, the error, output, value, and what to do next. */
export function describeTask(task: AirlockTask): CallToolResult {
  const status = task.status;
  const view: Record<string, unknown> = { id: task.id, status, runtime: task['runtime'] };
  if (task['error']) view['error'] = task['error'];
  if (task['result']) view['result'] = task['result'];
  if (task['pendingApprovals']) view['pendingApprovals'] = task['pendingApprovals'];
  if (status === 'waiting_approval') view['note'] = `${approvalNote(task)} Call get_task later to see the result.`;
  else if (!TERMINAL.has(status)) view['note'] = 'The task is still running; call get_task with its id to see the result.';
  return {
    content: [{ type: 'text', text: JSON.stringify(view, null, 2) }],
    structuredContent: view,
    ...(status === 'failed' || status === 'timed_out' ? { isError: true } : {}),
  };
}

export class AirlockTaskStore implements TaskStore {
  readonly #api: AirlockApi;

  constructor(api: AirlockApi) {
    this.#api = api;
  }

  /**
   * Creates the Airlock task of a `run_code` call (its validated arguments come in
   * `context.args`). A task-augmented call answers at once with the task working; a plain call
   * waits up to {@link RUN_WAIT_SECONDS} in the create request, and its MCP task is reported
   * `completed`, meaning the TOOL CALL is complete: the SDK's automatic polling of a plain call
   * then reads the result (which says if the Airlock task still runs or waits for approval)
   * instead of holding the call past the client's request timeout.
   */
  async createTask(options: CreateTaskOptions, _requestId: RequestId, request: Request): Promise<Task> {
    const augmented = (request.params as { task?: unknown } | undefined)?.task !== undefined;
    const args = (options.context?.['args'] ?? {}) as Record<string, unknown>;
    // One key for this tool call: a transport retry of the REST request cannot run the code twice.
    const res = await this.#api.call('POST', '/v1/tasks', augmented ? args : { ...args, wait: RUN_WAIT_SECONDS }, randomUUID());
    if (res.status !== 201 && res.status !== 200) throw new AirlockRefusal(res.status, res.body);
    const task = toMcpTask(res.body as AirlockTask);
    return augmented ? task : { ...task, status: 'completed' };
  }

  async getTask(taskId: string): Promise<Task | null> {
    const task = await this.#read(taskId);
    return task ? toMcpTask(task) : null;
  }

  /** Airlock keeps the result itself: nothing to store. */
  async storeTaskResult(): Promise<void> {}

  async getTaskResult(taskId: string): Promise<Result> {
    const task = await this.#read(taskId);
    if (!task) throw new Error(`Task ${taskId} not found`);
    return describeTask(task);
  }

  /** Only a cancel changes an Airlock task from here: `tasks/cancel` → DELETE /v1/tasks/:id. */
  async updateTaskStatus(taskId: string, status: Task['status']): Promise<void> {
    if (status !== 'cancelled') return;
    const res = await this.#api.call('DELETE', `/v1/tasks/${encodeURIComponent(taskId)}`, undefined, randomUUID());
    if (res.status !== 200) throw new AirlockRefusal(res.status, res.body);
  }

  async listTasks(cursor?: string): Promise<{ tasks: Task[]; nextCursor?: string }> {
    const query = new URLSearchParams({ limit: '50', ...(cursor ? { cursor } : {}) });
    const res = await this.#api.call('GET', `/v1/tasks?${query}`);
    if (res.status !== 200) throw new AirlockRefusal(res.status, res.body);
    const page = res.body as { items: AirlockTask[]; nextCursor: string | null };
    return { tasks: page.items.map(toMcpTask), ...(page.nextCursor ? { nextCursor: page.nextCursor } : {}) };
  }

  async #read(taskId: string): Promise<AirlockTask | null> {
    const res = await this.#api.call('GET', `/v1/tasks/${encodeURIComponent(taskId)}`);
    if (res.status === 404) return null;
    if (res.status !== 200) throw new AirlockRefusal(res.status, res.body);
    return res.body as AirlockTask;
  }
}
