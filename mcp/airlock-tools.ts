/**
 * The MCP tools of Airlock, shared by both transports (stdio: mcp/stdio.ts; streamable HTTP:
 * harness/mcp/mcp-route.ts). A tool never touches Redis or a runner itself: it calls the REST
 * API through `AirlockApi` with the caller's own credential, so every tool call gets exactly the
 * authentication, policies, rate limits and audit entries of the equivalent REST request.
 *
 * Protocol revision: @modelcontextprotocol/sdk 1.x speaks 2025-11-25 (and negotiates the
 * earlier 2025-06-18 and 2025-03-26), which is what most MCP clients speak today.
 */
import { randomUUID } from 'node:crypto';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';

/** One REST request on behalf of the MCP caller: status and parsed JSON body. */
export interface AirlockApi {
  call(method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown, idempotencyKey?: string): Promise<{ status: number; body: unknown }>;
}

const TERMINAL = new Set(['succeeded', 'failed', 'timed_out', 'cancelled']);
/** How long run_code waits inside one tool call before answering with the task still running. */
const RUN_WAIT_SECONDS = 55;

const text = (value: unknown, isError = false): CallToolResult => ({
  content: [{ type: 'text', text: typeof value === 'string' ? value : JSON.stringify(value, null, 2) }],
  ...(isError ? { isError: true } : {}),
});

/** A problem answer as a tool error the model can read (execution faults are results, not protocol errors). */
function problemResult(status: number, body: unknown): CallToolResult {
  const p = body as { code?: string; title?: string; detail?: string } | null;
  return text(`Airlock refused (${status} ${p?.code ?? 'error'}): ${p?.detail ?? p?.title ?? ''}`.trim(), true);
}

/** What a model needs of a task: status, the error, output, value, and what to do next. */
function describeTask(task: Record<string, unknown>): CallToolResult {
  const status = String(task['status']);
  const view: Record<string, unknown> = { id: task['id'], status, runtime: task['runtime'] };
  if (task['error']) view['error'] = task['error'];
  if (task['result']) view['result'] = task['result'];
  if (status === 'waiting_approval' || task['approval']) {
    view['note'] = 'The task is waiting for a human to approve a capability call; call get_task later.';
  } else if (!TERMINAL.has(status)) {
    view['note'] = 'The task is still running; call get_task with its id to see the result.';
  }
  return {
    ...text(view, status === 'failed' || status === 'timed_out'),
    structuredContent: view,
  };
}

const RuntimeSchema = z.enum(['javascript', 'typescript', 'python', 'node', 'bash']);
const TaskIdSchema = z.string().uuid().describe('The task id run_code returned');

export function registerAirlockTools(server: McpServer, api: AirlockApi): void {
  server.registerTool(
    'run_code',
    {
      title: 'Run code in an Airlock sandbox',
      description:
        'Runs code in a sandbox with no network: javascript/typescript in a V8 isolate, python/node/bash in a container. ' +
        'It can reach the outside world only through the capabilities it declares (caps.<name>(input) in code). ' +
        `Waits up to ${RUN_WAIT_SECONDS} s for the result; a longer task is returned running (use get_task).`,
      inputSchema: {
        runtime: RuntimeSchema,
        code: z.string().min(1).describe('The program'),
        timeoutMs: z.number().int().positive().optional(),
        memoryMb: z.number().int().positive().optional(),
        files: z.array(z.object({ path: z.string(), contentBase64: z.string() })).optional().describe('Input files (containers)'),
        stdin: z.string().optional().describe('Standard input (containers)'),
        capabilities: z.array(z.string()).optional().describe('Capabilities the code may call (see list_capabilities)'),
      },
      annotations: { readOnlyHint: false, openWorldHint: false, destructiveHint: false, idempotentHint: false },
    },
    async (args) => {
      // One key for this tool call: a transport retry of the REST request cannot run the code twice.
      const res = await api.call('POST', '/v1/tasks', { ...args, wait: RUN_WAIT_SECONDS }, randomUUID());
      if (res.status !== 201 && res.status !== 200) return problemResult(res.status, res.body);
      return describeTask(res.body as Record<string, unknown>);
    },
  );

  server.registerTool(
    'get_task',
    {
      title: 'Get a task',
      description: 'The task as it is now: status, result (stdout, stderr, value) or error.',
      inputSchema: { id: TaskIdSchema },
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    async ({ id }) => {
      const res = await api.call('GET', `/v1/tasks/${id}`);
      return res.status === 200 ? describeTask(res.body as Record<string, unknown>) : problemResult(res.status, res.body);
    },
  );

  server.registerTool(
    'cancel_task',
    {
      title: 'Cancel a task',
      description: 'Stops a queued or running task; a finished one is returned unchanged.',
      inputSchema: { id: TaskIdSchema },
      annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
    },
    async ({ id }) => {
      const res = await api.call('DELETE', `/v1/tasks/${id}`, undefined, randomUUID());
      return res.status === 200 ? describeTask(res.body as Record<string, unknown>) : problemResult(res.status, res.body);
    },
  );

  server.registerTool(
    'list_capabilities',
    {
      title: 'List capabilities',
      description: 'The capabilities you may call from code, with their input schemas and risk.',
      inputSchema: {},
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    async () => {
      const res = await api.call('GET', '/v1/capabilities');
      return res.status === 200 ? text(res.body) : problemResult(res.status, res.body);
    },
  );

  server.registerTool(
    'get_trace',
    {
      title: "Get a task's audit trace",
      description: 'Every audit entry about the task, in order (tamper-evident, signed).',
      inputSchema: { id: TaskIdSchema },
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    async ({ id }) => {
      const res = await api.call('GET', `/v1/tasks/${id}/trace`);
      return res.status === 200 ? text(res.body) : problemResult(res.status, res.body);
    },
  );
}
