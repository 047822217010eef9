import { z } from 'zod';
import { TaskErrorSchema } from './errors.ts';

export const RuntimeSchema = z.enum(['javascript', 'typescript', 'python', 'node', 'bash']);
export type Runtime = z.infer<typeof RuntimeSchema>;

/** Runtimes that run in a V8 isolate; the others run in a container. */
export const ISOLATE_RUNTIMES: readonly Runtime[] = ['javascript', 'typescript'];
export type Backend = 'isolate' | 'container';
export function backendOf(runtime: Runtime): Backend {
  return ISOLATE_RUNTIMES.includes(runtime) ? 'isolate' : 'container';
}

/**
 * A relative path inside a sandbox folder: no `..`, no absolute path, no empty or dot segments,
 * printable characters only. Checked on both sides; the file layer checks again on disk.
 */
export const RelativePathSchema = z
  .string()
  .min(1)
  .max(1024)
  .refine(
    (p) =>
      !p.startsWith('/') &&
      !/[\x00-\x1f\x7f\\]/.test(p) &&
      p.split('/').every((seg) => seg !== '' && seg !== '.' && seg !== '..'),
    { message: 'must be a relative path without "..", "." or empty segments' },
  );

export const InputFileSchema = z.strictObject({
  path: RelativePathSchema,
  contentBase64: z.base64(),
});
export type InputFile = z.infer<typeof InputFileSchema>;

/** A file the code wrote under /out; its content is at GET /v1/tasks/:id/files/<path>. */
export const OutputFileSchema = z.strictObject({
  path: RelativePathSchema,
  size: z.number().int().nonnegative(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
});
export type OutputFile = z.infer<typeof OutputFileSchema>;

/** A change a task made to a writable grant, applied only because the task succeeded. */
export const FileChangeSchema = z.strictObject({
  grant: z.string(),
  path: RelativePathSchema,
  change: z.enum(['created', 'modified', 'deleted']),
  size: z.number().int().nonnegative().optional(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/).optional(),
});
export type FileChange = z.infer<typeof FileChangeSchema>;

/** A grant mounted into a task, as the harness resolved and authorized it. */
export const ResolvedMountSchema = z.strictObject({
  grant: z.string(),
  hostPath: z.string().startsWith('/'),
  /** Absolute mount point inside the sandbox (containers) or `fs` path prefix (isolates). */
  path: z.string().startsWith('/'),
  mode: z.enum(['ro', 'rw']),
  maxBytes: z.number().int().positive(),
});
export type ResolvedMount = z.infer<typeof ResolvedMountSchema>;

/**
 * `waiting_approval` is a view of `running`: the record stays `running` (the state machine and
 * its scripts are unchanged) while one of its calls waits for a human (`approvalsPending` > 0 on
 * the record); the API shows it as this status, the event stream carries it as a status event.
 */
export const TaskStatusSchema = z.enum([
  'queued',
  'running',
  'waiting_approval',
  'succeeded',
  'failed',
  'timed_out',
  'cancelled',
]);
export type TaskStatus = z.infer<typeof TaskStatusSchema>;

export const TERMINAL_STATUSES: ReadonlySet<TaskStatus> = new Set([
  'succeeded',
  'failed',
  'timed_out',
  'cancelled',
]);

export function isTerminal(status: TaskStatus): boolean {
  return TERMINAL_STATUSES.has(status);
}

/** Limits in force for one task, after defaults and caps were applied by the harness. */
export const LimitsSchema = z.strictObject({
  /** Wall-clock limit for the whole run. */
  timeoutMs: z.number().int().positive(),
  /** CPU time the code may burn (isolates: V8 CPU time). */
  cpuMs: z.number().int().positive(),
  /** Memory the sandbox may use. */
  memoryMb: z.number().int().positive(),
  /** Bytes kept per output stream; past this the task ends with `output_limit`. */
  outputBytes: z.number().int().positive(),
});
export type Limits = z.infer<typeof LimitsSchema>;

export const MetadataSchema = z.strictObject({
  userId: z.string().min(1).max(200).optional(),
  promptSnippet: z.string().max(2000).optional(),
  sessionId: z.string().min(1).max(200).optional(),
});
export type Metadata = z.infer<typeof MetadataSchema>;

/**
 * How `stdout`/`stderr` (and SSE output `data`) carry bytes: absent = the text itself (the bytes
 * were valid UTF-8), `base64` = the bytes were not valid UTF-8 and are given as base64.
 */
export const OutputEncodingSchema = z.literal('base64');

export const TaskResultSchema = z.strictObject({
  /** The code's completion value as JSON (null when it had none). */
  value: z.unknown(),
  stdout: z.string(),
  stderr: z.string(),
  /** Set when stdout was not valid UTF-8: `stdout` is then the base64 of its bytes. */
  stdoutEncoding: OutputEncodingSchema.optional(),
  /** Set when stderr was not valid UTF-8: `stderr` is then the base64 of its bytes. */
  stderrEncoding: OutputEncodingSchema.optional(),
  stdoutTruncated: z.boolean(),
  stderrTruncated: z.boolean(),
  /** Exit status of a container program (null when it was killed). */
  exitCode: z.number().int().nullable().optional(),
  /** Files written under /out (containers). */
  files: z.array(OutputFileSchema).optional(),
  /** Changes applied to writable grants. */
  changes: z.array(FileChangeSchema).optional(),
});
export type TaskResult = z.infer<typeof TaskResultSchema>;

/** The output fields of a result: stored once, in the task's output key, never in the record. */
export const OUTPUT_FIELDS = ['stdout', 'stderr', 'stdoutEncoding', 'stderrEncoding'] as const;

/** A result as the task record stores it: everything but the output (see task-output.ts). */
export type StoredTaskResult = Omit<TaskResult, (typeof OUTPUT_FIELDS)[number]>;

/** Cap on the bytes of all files a container task may leave under /out (the /out tmpfs size). */
export const OUT_FILES_MAX_BYTES = 8 * 1024 * 1024;

export const UsageSchema = z.strictObject({
  wallMs: z.number().nonnegative(),
  cpuMs: z.number().nonnegative(),
  /** Peak memory of the sandbox (containers). */
  peakMemoryBytes: z.number().int().nonnegative().optional(),
});
export type Usage = z.infer<typeof UsageSchema>;

/** What a backend returns for one run. `error` is set exactly when the run did not succeed. */
export const ExecuteResultSchema = z.strictObject({
  status: z.enum(['succeeded', 'failed', 'timed_out', 'cancelled']),
  result: TaskResultSchema,
  error: TaskErrorSchema.optional(),
  usage: UsageSchema,
  /**
   * Contents of `result.files`, for the runner to store (served by GET /v1/tasks/:id/files/*).
   * Never part of the task record.
   */
  fileContents: z.array(InputFileSchema).optional(),
});
export type ExecuteResult = z.infer<typeof ExecuteResultSchema>;

export const OutputStreamSchema = z.enum(['stdout', 'stderr']);
export type OutputStream = z.infer<typeof OutputStreamSchema>;

/** Events of one task, in order, as stored in its event stream and sent over SSE. */
export const TaskEventSchema = z.discriminatedUnion('type', [
  z.strictObject({
    type: z.literal('status'),
    status: TaskStatusSchema,
    at: z.string(),
    error: TaskErrorSchema.optional(),
  }),
  z.strictObject({
    type: z.literal('output'),
    stream: OutputStreamSchema,
    /** The chunk's text, or (with `encoding: "base64"`) the base64 of bytes that are not UTF-8. */
    data: z.string(),
    encoding: OutputEncodingSchema.optional(),
  }),
  /** A call of the task waits for a human's decision (GET /v1/approvals/:id). */
  z.strictObject({
    type: z.literal('approval_requested'),
    approvalId: z.string(),
    capability: z.string(),
    seq: z.number().int().nonnegative(),
    deadline: z.string(),
    at: z.string(),
  }),
  /** The request left `pending`. */
  z.strictObject({
    type: z.literal('approval_decided'),
    approvalId: z.string(),
    capability: z.string(),
    seq: z.number().int().nonnegative(),
    status: z.enum(['approved', 'denied', 'expired', 'cancelled']),
    reason: z.string().optional(),
    at: z.string(),
  }),
]);
export type TaskEvent = z.infer<typeof TaskEventSchema>;
