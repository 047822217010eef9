/**
 * The capability calls of one task attempt, as the runner makes them for the sandbox: numbers
 * them in the order the code makes them (`seq` 0, 1, …: a deterministic program makes the same
 * calls in the same order on a retried attempt, so they line up with the broker's records),
 * refuses what the task did not declare without asking anybody, bounds how many run at once,
 * sends each with the attempt's broker token (kept here, in memory only), and aborts them when
 * the task is cancelled or its run is stopped.
 */
import type { CallResult, RunDeadline } from '../backends/types.ts';
import type { BrokerClient } from './broker-client.ts';

/** The calls of one attempt, as the job processor uses them. */
export interface AttemptCalls {
  /** One call of the code. Never rejects. */
  call(name: string, input: unknown): Promise<CallResult>;
  /**
   * After the run: waits for the calls still in flight (the code need not await them), or aborts
   * them at once when `stop` (the run was cancelled or timed out). Idempotent.
   */
  finish(stop: boolean): Promise<void>;
  /** The first call answered `capability_uncertain`, if any (see {@link withUncertainCall}). */
  readonly uncertain: { seq: number; name: string } | null;
}

export interface TaskCallsOptions {
  client: BrokerClient;
  taskId: string;
  attempt: number;
  /** The attempt's broker token; null when none could be issued (the task left this attempt). */
  token: string | null;
  /** The capabilities the task declared: nothing else is sent. */
  capabilities: readonly string[];
  deadline: RunDeadline;
  /** Cancel: aborts every call in flight or waiting. */
  signal: AbortSignal;
  /** Calls sent at once; the rest wait in order. @defaultValue 16 */
  maxInFlight?: number;
  /** Calls waiting at most; more are refused `capability_rate_limited`. @defaultValue 1024 */
  maxWaiting?: number;
  /** Largest input, as JSON bytes. @defaultValue 1 MiB */
  maxInputBytes?: number;
}

type Refusal = { ok: false; error: { code: 'capability_denied' | 'capability_invalid_input' | 'capability_rate_limited' | 'capability_unavailable'; message: string } };

export class TaskCalls implements AttemptCalls {
  readonly #o: Required<Omit<TaskCallsOptions, 'token'>>;
  readonly #token: string | null;
  readonly #declared: ReadonlySet<string>;
  readonly #controller = new AbortController();
  readonly #running = new Set<Promise<CallResult>>();
  readonly #waiting: (() => void)[] = [];
  #inFlight = 0;
  #nextSeq = 0;
  #uncertain: { seq: number; name: string } | null = null;

  constructor(options: TaskCallsOptions) {
    this.#o = { maxInFlight: 16, maxWaiting: 1024, maxInputBytes: 1024 * 1024, ...options };
    this.#token = options.token;
    this.#declared = new Set(options.capabilities);
    if (options.signal.aborted) this.#controller.abort();
    else options.signal.addEventListener('abort', () => this.#controller.abort(), { once: true });
  }

  get uncertain(): { seq: number; name: string } | null {
    return this.#uncertain;
  }

  /** How many calls were numbered so far (the next `seq`). */
  get count(): number {
    return this.#nextSeq;
  }

  readonly call = (name: string, input: unknown): Promise<CallResult> => {
    // Refused here, before a number is taken: only calls that reach the broker are numbered, so
    // the numbering depends on the program alone, never on timing.
    const refusal = this.#refuse(name, input);
    if (refusal) return Promise.resolve(refusal);
    const seq = this.#nextSeq++;
    const done = this.#send(seq, name, input);
    this.#running.add(done);
    void done.finally(() => this.#running.delete(done));
    return done;
  };

  async finish(stop: boolean): Promise<void> {
    if (stop) this.#controller.abort();
    while (this.#running.size > 0) await Promise.all(this.#running);
  }

  #refuse(name: string, input: unknown): Refusal | null {
    const shown = String(name).slice(0, 128);
    if (typeof name !== 'string' || !this.#declared.has(name)) {
      return refusal('capability_denied', `${shown}: not among the capabilities this task declared`);
    }
    let json: string | undefined;
    try {
      json = JSON.stringify(input ?? null);
    } catch (err) {
      return refusal('capability_invalid_input', `${shown}: the input is not JSON (${(err as Error).message})`);
    }
    if (json === undefined || Buffer.byteLength(json) > this.#o.maxInputBytes) {
      return refusal('capability_invalid_input', `${shown}: the input is larger than ${this.#o.maxInputBytes} bytes as JSON`);
    }
    if (this.#token === null || this.#controller.signal.aborted) {
      return refusal('capability_unavailable', `${shown}: the task is no longer running this attempt`);
    }
    if (this.#waiting.length >= this.#o.maxWaiting) {
      return refusal('capability_rate_limited', `${shown}: more than ${this.#o.maxWaiting} calls are waiting`);
    }
    return null;
  }

  async #send(seq: number, name: string, input: unknown): Promise<CallResult> {
    if (this.#inFlight >= this.#o.maxInFlight) await new Promise<void>((r) => this.#waiting.push(r));
    this.#inFlight++;
    try {
      const result = await this.#o.client.call(
        { version: 'v1', taskId: this.#o.taskId, attempt: this.#o.attempt, seq, name, input: input ?? null },
        this.#token as string,
        this.#controller.signal,
        // The task's clock: it stands still while the call waits for a human's approval.
        this.#o.deadline,
      );
      if (!result.ok && result.error.code === 'capability_uncertain') this.#uncertain ??= { seq, name };
      return result;
    } finally {
      this.#inFlight--;
      this.#waiting.shift()?.();
    }
  }
}

function refusal(code: Refusal['error']['code'], message: string): Refusal {
  return { ok: false, error: { code, message } };
}
