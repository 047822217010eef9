import type { JobPayload } from '../../protocol/job.ts';
import type { ExecuteResult, OutputStream } from '../../protocol/task.ts';

/**
 * Where a backend sends output while the code runs. Must not throw. Bytes go as they are (a
 * string is UTF-8 text); a backend never splits a UTF-8 character across two calls.
 */
export interface ExecuteSink {
  output(stream: OutputStream, data: string | Uint8Array): void;
}

/**
 * Runs one task in a sandbox. Contract:
 * - `execute` never throws for faults of the code (syntax error, throw, timeout, OOM, output
 *   flood, cancel): it returns them in `ExecuteResult.error` with a stable code. It throws only
 *   for infrastructure faults (and then the job may be retried).
 * - Aborting `signal` stops the run promptly and resolves with status `cancelled`.
 * - Nothing (isolate, context, container) is reused across calls.
 * - `dispose` is idempotent and stops everything the backend started.
 */
export interface RunnerBackend {
  readonly name: string;
  execute(job: JobPayload, signal: AbortSignal, sink: ExecuteSink): Promise<ExecuteResult>;
  dispose(): Promise<void>;
}
