/**
 * The task record as stored in Redis (a hash, `airlock:task:{sNN}:<id>`): its schema and how it is
 * encoded, and how a stored output event is told from a status event. Output is never part of
 * the stored record: `decode` rebuilds `result.stdout`/`stderr` from the output key.
 */
import { z } from 'zod';
import { CapabilityNameSchema } from './capability.ts';
import { CompensationSchema } from './compensation.ts';
import { TaskErrorSchema } from './errors.ts';
import { OutputRefSchema, resultOutput, streamBytes, type OutputRef } from './task-output.ts';
import {
  LimitsSchema,
  MetadataSchema,
  OUTPUT_FIELDS,
  RuntimeSchema,
  TaskEventSchema,
  TaskResultSchema,
  TaskStatusSchema,
  UsageSchema,
  type StoredTaskResult,
  type TaskEvent,
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
  /** How long the task is kept once terminal (the tenant's retention when it was created). */
  retentionMs: z.number().int().positive().optional(),
  /**
   * Where the last attempt's output starts in each stream (set when a retried job starts after
   * an attempt that wrote output: its bytes stay for the event stream, not for the result).
   */
  outputBase: z.strictObject({ stdout: z.number().int().nonnegative(), stderr: z.number().int().nonnegative() }).optional(),
  /**
   * SHA-256 (hex) of the broker token of the running attempt (protocol/broker-token.ts): only
   * the runner that started the attempt knows the token. Never shown by the API.
   */
  brokerTokenSha256: z.string().regex(/^[0-9a-f]{64}$/).optional(),
  /**
   * The capabilities the task declared (checked against policy at creation): the broker refuses
   * any other. With `principalKind` and `actingFor`, who the broker asks Cedar about per call.
   */
  capabilities: z.array(CapabilityNameSchema).max(256).optional(),
  /** Whether the task's owner (`agentId`) is an agent or a user. Absent on older records: agent. */
  principalKind: z.enum(['agent', 'user']).optional(),
  /** The user the creating agent acted for (RFC 8693 delegation), if any. */
  actingFor: z.string().min(1).max(200).optional(),
  /** Where the harness POSTs the task when it ends (harness/webhooks/). */
  callbackUrl: z.string().max(2048).optional(),
  /**
   * How many of the task's calls wait for a human's approval now (protocol/task-approval-events.ts);
   * while > 0 and the task runs, the API shows it `waiting_approval`.
   */
  approvalsPending: z.number().int().nonnegative().optional(),
  /** Bytes the task's capability call records hold (harness/broker/call-records.ts keeps it). Internal. */
  callRecordBytes: z.number().int().nonnegative().optional(),
  /**
   * The rollback of a task that ended `failed`, `timed_out` or `cancelled` (protocol/compensation.ts):
   * written by the harness once it planned it, then per compensation as each one settles.
   */
  compensations: z.array(CompensationSchema).max(1024).optional(),
  /**
   * Id of the last status change (protocol/task-store.ts): a change whose command is resent after
   * its answer was lost is recognised and answered again, not made twice. Internal.
   */
  changeId: z.string().max(64).optional(),
  /** Producer and counter of the `task.grants.applying` entry appended, so a resend adds none. Internal. */
  grantPlanStamp: z.string().max(64).optional(),
});
export type TaskRecord = z.infer<typeof TaskRecordSchema>;

/**
 * Fields a transition may set besides `status`. The result carries no output: output is stored
 * once, by `appendOutput`, and `get` puts it back into the result.
 */
export type TaskPatch = Partial<Pick<TaskRecord, 'startedAt' | 'finishedAt' | 'error' | 'usage' | 'attempts' | 'compensations'>> & {
  result?: StoredTaskResult;
};

/** An event with its stream id. */
export interface StoredEvent {
  /** The Redis stream id, used as the SSE event id. */
  id: string;
  event: TaskEvent;
}

const JSON_FIELDS = ['limits', 'metadata', 'result', 'error', 'usage', 'attempts', 'retentionMs', 'outputBase', 'capabilities', 'approvalsPending', 'callRecordBytes', 'compensations'] as const;

/** A stored event: a status event, an output reference, or (stored by an older version) inline output. */
export function parseStoredEvent(raw: string): TaskEvent | OutputRef {
  const json: unknown = JSON.parse(raw);
  const ref = OutputRefSchema.safeParse(json);
  return ref.success ? ref.data : TaskEventSchema.parse(json);
}

export function encode(fields: Partial<TaskRecord> | TaskPatch): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(fields)) {
    if (v === undefined) continue;
    // Output is never stored in the record: it lives once, in the output key.
    const value = k === 'result' ? withoutOutput(v as Record<string, unknown>) : v;
    out[k] = (JSON_FIELDS as readonly string[]).includes(k) ? JSON.stringify(value) : String(value);
  }
  return out;
}

function withoutOutput(result: Record<string, unknown>): Record<string, unknown> {
  const copy = { ...result };
  for (const f of OUTPUT_FIELDS) delete copy[f];
  return copy;
}

export function decode(hash: Record<string, string>, output: Record<string, Buffer>): TaskRecord {
  const raw: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(hash)) {
    raw[k] = (JSON_FIELDS as readonly string[]).includes(k) ? JSON.parse(v) : v;
  }
  const result = raw['result'] as Record<string, unknown> | undefined;
  // A record stored by an older version has its output inline: keep it.
  if (result && typeof result['stdout'] !== 'string') {
    const base = (raw['outputBase'] as { stdout: number; stderr: number } | undefined) ?? { stdout: 0, stderr: 0 };
    raw['result'] = {
      ...result,
      ...resultOutput(streamBytes(output, 'stdout', base.stdout), streamBytes(output, 'stderr', base.stderr)),
    };
  }
  return TaskRecordSchema.parse(raw);
}
