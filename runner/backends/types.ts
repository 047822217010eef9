import type { JobPayload } from '../../protocol/job.ts';
import type { ExecuteResult, OutputStream } from '../../protocol/task.ts';

/** Where a backend sends output while the code runs. Must not throw. */
export interface ExecuteSink {
  output(stream: OutputStream, data: string): void;
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
