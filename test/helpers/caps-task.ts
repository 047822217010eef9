/**
 * Queues a task that declared capabilities, the way the harness does once it accepts
 * `capabilities` in POST /v1/tasks (being built in parallel): the real task record (TaskStore)
 * and the real BullMQ job with the payload of protocol/job.ts, on the stack's own queues. The
 * runner, the task API (GET, events) and Redis are all real.
 */
import { randomUUID } from 'node:crypto';
import type { JobPayload } from '../../protocol/job.ts';
import type { Limits, Runtime } from '../../protocol/task.ts';
import type { TaskRecord } from '../../protocol/task-store.ts';
import { AGENTS, pollTask, TERMINAL, type Stack } from './stack.ts';

export const CAPS_LIMITS: Limits = { timeoutMs: 20_000, cpuMs: 20_000, memoryMb: 64, outputBytes: 1024 * 1024 };

export async function queueCapsTask(
  stack: Stack,
  runtime: Runtime,
  code: string,
  capabilities: readonly string[],
  limits: Partial<Limits> = {},
): Promise<{ id: string; payload: JobPayload }> {
  const id = randomUUID();
  const isolate = runtime === 'javascript' || runtime === 'typescript';
  const fullLimits = { ...CAPS_LIMITS, ...(isolate ? {} : { memoryMb: 256 }), ...limits };
  const record: TaskRecord = {
    id,
    tenantId: AGENTS.alice.tenantId,
    agentId: AGENTS.alice.agentId,
    status: 'queued',
    runtime,
    createdAt: new Date().toISOString(),
    limits: fullLimits,
    metadata: {},
    attempts: 0,
  };
  await stack.deps.store.create(record);
  const payload: JobPayload = {
    version: 'v1',
    taskId: id,
    tenantId: record.tenantId,
    agentId: record.agentId,
    runtime,
    code,
    limits: fullLimits,
    ...(capabilities.length ? { capabilities: [...capabilities] } : {}),
  };
  const queue = isolate ? stack.deps.queue : stack.deps.containerQueue;
  await queue.add('run', payload, { jobId: id, attempts: 1, removeOnComplete: true, removeOnFail: { age: 3600 } });
  return { id, payload };
}

/** Waits for the task to end; returns it as GET /v1/tasks/:id shows it. */
export async function finished(stack: Stack, id: string, timeoutMs = 60_000): Promise<Record<string, unknown> & { status: string }> {
  const task = await pollTask(stack, id, (t) => TERMINAL.has(t.status), 'alice', timeoutMs);
  if (!TERMINAL.has(task.status)) throw new Error(`task ${id} did not end: ${JSON.stringify(task)}`);
  return task;
}
