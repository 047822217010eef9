import { z } from 'zod';

/**
 * Why a task ended badly. One stable string per cause, the same set for every backend, so an
 * agent can branch on it. Keep in sync with docs/errors.md.
 */
export const ErrorCodeSchema = z.enum([
  /** Wall-clock or CPU time limit reached. */
  'timeout',
  /** The sandbox used more memory than its limit. */
  'memory_limit',
  /** stdout or stderr grew past its byte limit (output is truncated and flagged). */
  'output_limit',
  /** The code could not be parsed (JavaScript) or type-stripped (TypeScript). */
  'syntax_error',
  /** The code threw, or its top-level promise rejected, or its result was not JSON. */
  'runtime_error',
  /** Cancelled by the agent (DELETE /v1/tasks/:id). */
  'cancelled',
  /** A container program exited with a non-zero status. */
  'nonzero_exit',
  /** A container hit its process-count limit. */
  'pids_limit',
  /** A container filled its scratch space. */
  'disk_limit',
  /**
   * The code failed after a capability call was answered `capability_uncertain`: an earlier
   * attempt started that call and it never settled, so it may or may not have taken effect and
   * was not run again. A human resolves it (the trace says which call).
   */
  'capability_uncertain',
  /** Airlock itself failed (runner lost, sandbox host crashed for no reason of the task's). */
  'internal',
]);
export type ErrorCode = z.infer<typeof ErrorCodeSchema>;

/** An error as plain data: what crosses queues, processes and HTTP. */
export const TaskErrorSchema = z.strictObject({
  code: ErrorCodeSchema,
  message: z.string(),
});
export type TaskError = z.infer<typeof TaskErrorSchema>;
