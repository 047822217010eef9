/**
 * Building blocks of a {@link RunSession}: the deadline, and the call handler of a task that may
 * call nothing. The job processor assembles a session per run; tests assemble their own.
 */
import type { CallResult, RunDeadline, RunSession } from './backends/types.ts';
import type { FileChange, OutputStream } from '../protocol/task.ts';

/** A wall clock that starts when the backend says the code starts. */
export class WallDeadline implements RunDeadline {
  readonly timeoutMs: number;
  #startedAt: number | null = null;

  constructor(timeoutMs: number) {
    this.timeoutMs = timeoutMs;
  }

  start(): void {
    this.#startedAt ??= performance.now();
  }

  remainingMs(): number {
    if (this.#startedAt === null) return this.timeoutMs;
    return Math.max(0, this.timeoutMs - (performance.now() - this.#startedAt));
  }
}

/** Call handler of a task that declared no capability: every call is refused, nothing is sent. */
export function noCalls(name: string): Promise<CallResult> {
  return Promise.resolve({
    ok: false,
    error: { code: 'capability_denied', message: `${String(name).slice(0, 128)}: this task declared no capabilities` },
  });
}

export interface RunSessionParts {
  signal: AbortSignal;
  timeoutMs: number;
  output: (stream: OutputStream, data: string | Uint8Array) => void;
  /** @defaultValue {@link noCalls} */
  call?: (name: string, input: unknown) => Promise<CallResult>;
  /** @defaultValue a new {@link WallDeadline} of `timeoutMs` */
  deadline?: RunDeadline;
  /** See {@link RunSession.beforeGrantApply}. */
  beforeGrantApply?: (planned: readonly FileChange[]) => Promise<void>;
}

/** A session from its parts. */
export function createRunSession(parts: RunSessionParts): RunSession {
  return {
    signal: parts.signal,
    deadline: parts.deadline ?? new WallDeadline(parts.timeoutMs),
    output: parts.output,
    call: parts.call ?? noCalls,
    ...(parts.beforeGrantApply ? { beforeGrantApply: parts.beforeGrantApply } : {}),
  };
}
