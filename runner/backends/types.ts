import type { CapabilityError } from '../../protocol/capability.ts';
import type { JobPayload } from '../../protocol/job.ts';
import type { ExecuteResult, FileChange, OutputStream } from '../../protocol/task.ts';

/** What one capability call gives back to the code: its output, or an error with a stable code. */
export type CallResult = { ok: true; output: unknown } | { ok: false; error: CapabilityError };

/**
 * The wall clock of one run, shared by the backend (whose own timers stop the code) and the
 * capability calls (a call never outlives the run that made it). It stands still while a call
 * waits for a human's approval ({@link hold}): that time does not count against `timeoutMs`
 * (the wait has its own cap, the approval request's deadline).
 */
export interface RunDeadline {
  /** The run's wall-time limit (`limits.timeoutMs` of the job). */
  readonly timeoutMs: number;
  /** Marks the moment the code starts, when the backend's own wall timer starts. Idempotent. */
  start(): void;
  /** Milliseconds left before the wall time is up (`timeoutMs` until {@link start}); frozen while held. */
  remainingMs(): number;
  /** Whether the clock stands still now (at least one hold is in force). */
  readonly held: boolean;
  /**
   * Stops the clock until the returned release is called (holds nest: it runs again when the
   * last is released). `release(endedAt?)` may date the end of the hold back to an earlier
   * `performance.now()` (the time after it counts again). Releasing twice is a no-op.
   */
  hold(): (endedAt?: number) => void;
  /** Milliseconds the clock has run since {@link start} (time held not counted; 0 before start). */
  elapsedMs(): number;
  /**
   * Calls `expire` once the clock has run `ms` (e.g. the job's `timeoutMs`, plus a grace), never
   * before, re-arming its timer whenever the clock stops or runs again; never while held. Returns a
   * cancel. The backends' wall timers.
   */
  whenElapsed(ms: number, expire: () => void): () => void;
  /** Called after every hold and release (e.g. to tell a child process the new remaining time). */
  onChange(listener: () => void): () => void;
}

/**
 * One run as a two-way session between a backend and the job processor, which makes it: output
 * goes out, capability calls go out and their results come back, and both sides see the same
 * cancel signal and deadline. Every member is safe to use from any backend callback: none throws.
 */
export interface RunSession {
  /** Aborts when the task is cancelled: the backend stops the run promptly (status `cancelled`). */
  readonly signal: AbortSignal;
  readonly deadline: RunDeadline;
  /**
   * Where output goes while the code runs. Never throws. Bytes go as they are (a string is UTF-8
   * text); a backend never splits a UTF-8 character across two calls.
   */
  output(stream: OutputStream, data: string | Uint8Array): void;
  /**
   * Performs one capability call the code made, numbered in the order calls are made (so a
   * backend calls it in the order the code did). Never throws and never rejects: a refused,
   * failed or unreachable call resolves `{ ok: false, error }` with a stable code.
   */
  call(name: string, input: unknown): Promise<CallResult>;
  /**
   * Called with every change a succeeded task's grants are about to receive, after all were
   * diffed and before the first is written; if it rejects, nothing is applied and the backend
   * throws (infrastructure). The job processor records them in the audit log here, so no grant
   * changes on the host without an entry (fail closed). Absent: nothing to do.
   */
  beforeGrantApply?(planned: readonly FileChange[]): Promise<void>;
}

/**
 * Runs one task in a sandbox. Contract:
 * - `execute` never throws for faults of the code (syntax error, throw, timeout, OOM, output
 *   flood, cancel): it returns them in `ExecuteResult.error` with a stable code. It throws only
 *   for infrastructure faults (and then the job may be retried).
 * - Aborting `session.signal` stops the run promptly and resolves with status `cancelled`.
 * - Nothing (isolate, context, container) is reused across calls.
 * - `dispose` is idempotent and stops everything the backend started.
 */
export interface RunnerBackend {
  readonly name: string;
  execute(job: JobPayload, session: RunSession): Promise<ExecuteResult>;
  dispose(): Promise<void>;
}
