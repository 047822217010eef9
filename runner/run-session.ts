/**
 * Building blocks of a {@link RunSession}: the deadline, and the call handler of a task that may
 * call nothing. The job processor assembles a session per run; tests assemble their own.
 */
import type { CallResult, RunDeadline, RunSession } from './backends/types.ts';
import type { FileChange, OutputStream } from '../protocol/task.ts';

/**
 * A wall clock that starts when the backend says the code starts and stands still while held
 * (a capability call waiting for a human's approval): elapsed = now − start − time held.
 */
export class WallDeadline implements RunDeadline {
  readonly timeoutMs: number;
  #startedAt: number | null = null;
  /** Time held so far, not counting the hold in force. */
  #heldMs = 0;
  #holds = 0;
  #heldSince = 0;
  readonly #listeners = new Set<() => void>();

  constructor(timeoutMs: number) {
    this.timeoutMs = timeoutMs;
  }

  start(): void {
    this.#startedAt ??= performance.now();
  }

  get held(): boolean {
    return this.#holds > 0;
  }

  elapsedMs(): number {
    if (this.#startedAt === null) return 0;
    const now = this.#holds > 0 ? Math.max(this.#heldSince, this.#startedAt) : performance.now();
    return Math.max(0, now - this.#startedAt - this.#heldMs);
  }

  remainingMs(): number {
    return Math.max(0, this.timeoutMs - this.elapsedMs());
  }

  hold(): (endedAt?: number) => void {
    if (this.#holds++ === 0) this.#heldSince = performance.now();
    this.#changed();
    let released = false;
    return (endedAt) => {
      if (released) return;
      released = true;
      if (--this.#holds === 0 && this.#startedAt !== null) {
        // Only time held after the clock started counts as held (a hold made before it is none).
        const since = Math.max(this.#heldSince, this.#startedAt);
        const now = performance.now();
        this.#heldMs += Math.max(0, Math.min(now, endedAt ?? now) - since);
      }
      this.#changed();
    };
  }

  whenElapsed(ms: number, expire: () => void): () => void {
    let timer: NodeJS.Timeout | undefined;
    let done = false;
    const arm = () => {
      clearTimeout(timer);
      timer = undefined;
      if (done || this.held) return;
      timer = setTimeout(() => {
        // Time still left: a hold that began and ended meanwhile moved the deadline, or the timer
        // fired a fraction of a millisecond early on the performance clock (Node's timers count
        // whole milliseconds of the loop's clock). Look again: the next timer waits at least 1 ms,
        // so this ends, and the clock has run `ms` whenever `expire` is called.
        if (ms - this.elapsedMs() > 0 && !this.held) return arm();
        done = true;
        stop();
        expire();
      }, Math.max(0, ms - this.elapsedMs()));
    };
    const stop = this.onChange(arm);
    arm();
    return () => {
      done = true;
      clearTimeout(timer);
      stop();
    };
  }

  onChange(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #changed(): void {
    for (const listener of [...this.#listeners]) listener();
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
