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
import { AirlockRefusal, describeTask, RUN_WAIT_SECONDS, type AirlockTask } from './task-store.ts';

/** One REST request on behalf of the MCP caller: status and parsed JSON body. */
export interface AirlockApi {
  call(method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown, idempotencyKey?: string): Promise<{ status: number; body: unknown }>;
}

const text = (value: unknown, isError = false): CallToolResult => ({
  content: [{ type: 'text', text: typeof value === 'string' ? value : JSON.stringify(value, null, 2) }],
  ...(isError ? { isError: true } : {}),
});

/** A problem answer as a tool error the model can read (execution faults are results, not protocol errors). */
function problemResult(status: number, body: unknown): CallToolResult {
  return text(new AirlockRefusal(status, body).message, true);
}

const RuntimeSchema = z.enum(['javascript', 'typescript', 'python', 'node', 'bash']);
const TaskIdSchema = z.string().uuid().describe('The task id run_code returned');

export function registerAirlockTools(server: McpServer, api: AirlockApi): void {
  // run_code is task-capable (MCP tasks, execution.taskSupport "optional"): a client that
  // augments the call with `task` gets the task at once and follows it with tasks/get, where a
  // task waiting for a human's approval is `input_required`; a plain call answers within
  // RUN_WAIT_SECONDS as before. The tasks are Airlock's own (task-store.ts).
  server.experimental.tasks.registerToolTask(
    'run_code',
    {
      title: 'Run code in an Airlock sandbox',
      description:
        'Runs code in a sandbox with no network: javascript/typescript in a V8 isolate, python/node/bash in a container. ' +
        'It can reach the outside world only through the capabilities it declares (caps.<name>(input) in code); ' +
        'a call may need a human\'s approval first (the task then waits: status waiting_approval, MCP task input_required). ' +
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
      execution: { taskSupport: 'optional' },
    },
    {
      createTask: async (args, extra) => ({
        task: await extra.taskStore.createTask({ pollInterval: 1000, context: { args } }),
      }),
      getTask: async (_args, extra) => extra.taskStore.getTask(extra.taskId),
      getTaskResult: async (_args, extra) => (await extra.taskStore.getTaskResult(extra.taskId)) as CallToolResult,
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
      return res.status === 200 ? describeTask(res.body as AirlockTask) : problemResult(res.status, res.body);
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
      return res.status === 200 ? describeTask(res.body as AirlockTask) : problemResult(res.status, res.body);
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
