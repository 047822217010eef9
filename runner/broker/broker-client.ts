/**
 * The runner's HTTP client of the harness broker: one capability call = one
 * `POST <BROKER_URL>/v1/broker/calls` (protocol/capability.ts), authenticated with the broker
 * token of the task attempt (`Authorization: Bearer`, never logged, never anywhere else).
 *
 * Transport faults (refused or reset connections, 502/503/504) are retried a bounded number of
 * times: the broker's exactly-once key (task, seq, name, input hash) makes a resent call safe —
 * a call it already ran is answered from its record. A call that gets no answer in time is not
 * resent (it may be running): the code gets `capability_timeout`. A call that waits for a human's
 * approval is answered `approval_pending` (at once the first time: the runner asks so, to stop
 * the task's wall clock before the wait; then after the broker held it a while): it is sent
 * again, the same, until it gets another answer or the task is cancelled. The task's clock
 * stands still meanwhile; the wait's own cap is the approval request's deadline
 * (`approval_expired`).
 * Nothing here throws: every outcome is a {@link CallResult} with a stable code.
 */
import { SpanKind } from '@opentelemetry/api';
import { Pool } from 'undici';
import { exchangeOn, ResponseTooLargeError, type CollectedAnswer } from '../../protocol/undici-exchange.ts';
import { inSpan, traceparentOf } from '../../protocol/telemetry/tracing.ts';
import { BrokerCallResultSchema, type BrokerCallRequest } from '../../protocol/capability.ts';
import type { CallResult, RunDeadline } from '../backends/types.ts';

export interface BrokerClientOptions {
  /** The broker's base URL (runner config BROKER_URL), e.g. `http://127.0.0.1:8081`. */
  url: string;
  /** Longest wait for one answer, whatever the task's deadline allows. @defaultValue 60000 */
  callTimeoutMs?: number;
  /** Resends after a transport fault. @defaultValue 2 */
  retries?: number;
  /** Wait before the first resend (doubled each time). @defaultValue 100 */
  retryDelayMs?: number;
  /** Largest answer accepted, in bytes. @defaultValue 8 MiB */
  maxResponseBytes?: number;
}

const CALLS_PATH = '/v1/broker/calls';
/** Least time between two sends of a call that waits for approval. */
const PENDING_RESEND_MIN_MS = 250;

/** What caps a call: the task's deadline (runner/backends/types.ts RunDeadline). */
export type CallClock = Pick<RunDeadline, 'held' | 'remainingMs' | 'hold'>;

/** An answer as read, with how long the broker held it waiting for a decision. */
type Answer = CallResult & { approvalWaitMs?: number };

/** A fault worth resending the call for (the broker may never have seen it, or failed before answering). */
class TransportFault extends Error {}
/** No answer in the time left: not resent (the call may be running). */
class TimeoutFault extends Error {}

export class BrokerClient {
  readonly #url: URL;
  readonly #pool: Pool;
  readonly #callTimeoutMs: number;
  readonly #retries: number;
  readonly #retryDelayMs: number;
  readonly #maxResponseBytes: number;
  /** How long the broker may hold a call waiting for approval (it caps it by its own setting). */
  readonly #approvalWaitMs: number;

  constructor(options: BrokerClientOptions) {
    this.#url = new URL(CALLS_PATH, options.url);
    if (this.#url.protocol !== 'http:' && this.#url.protocol !== 'https:') {
      throw new Error(`BROKER_URL must be http(s), not ${this.#url.protocol}`);
    }
    // Keep-alive connections (a call should not pay a TCP handshake: the broker is one hop away),
    // through undici: lighter per call than node:http's client, which was a fifth of the
    // runner's busy time in a calls bench.
    this.#pool = new Pool(this.#url.origin, { connections: 64 });
    this.#callTimeoutMs = options.callTimeoutMs ?? 60_000;
    this.#retries = options.retries ?? 2;
    this.#retryDelayMs = options.retryDelayMs ?? 100;
    this.#maxResponseBytes = options.maxResponseBytes ?? 8 * 1024 * 1024;
    // Well inside one send's timeout: a held request must come back before the runner gives up.
    this.#approvalWaitMs = Math.floor(this.#callTimeoutMs / 2);
  }

  /**
   * Sends one call and returns the broker's answer. `clock` caps the whole call, resends
   * included: the task's deadline (or a fixed budget in ms); `signal` aborts it (cancel, end of
   * the run). A call the broker says waits for a human's approval holds the clock (the time
   * waited does not count against the task) until it has any other answer.
   */
  call(request: BrokerCallRequest, token: string, signal: AbortSignal, clock: number | CallClock): Promise<CallResult> {
    // A span per call of the code (traces on): the broker's span and the target's request are
    // its children, through the `traceparent` each request to the broker carries.
    return inSpan(`capability ${request.name}`, {
      kind: SpanKind.CLIENT,
      attributes: { 'airlock.capability': request.name, 'airlock.task.id': request.taskId, 'airlock.call.seq': request.seq },
    }, async (span) => {
      const result = await this.#call(request, token, signal, clock);
      span.setAttribute('airlock.call.outcome', result.ok ? 'success' : result.error.code);
      return result;
    });
  }

  async #call(request: BrokerCallRequest, token: string, signal: AbortSignal, clock: number | CallClock): Promise<CallResult> {
    const c = typeof clock === 'number' ? fixedClock(clock) : clock;
    // First send: "answer at once if it waits for a human", so the clock stops before any hold.
    let waitMs = 0;
    let release: ((endedAt?: number) => void) | null = null;
    try {
      for (;;) {
        const sentAt = performance.now();
        // While the clock stands still, one send may last as long as the broker holds it.
        const budgetMs = c.held ? this.#callTimeoutMs : c.remainingMs();
        const body = JSON.stringify({ ...request, approvalWaitMs: waitMs });
        const answer = await this.#once(body, request.name, token, signal, Math.max(0, budgetMs));
        const { approvalWaitMs: waited, ...result } = answer;
        if (result.ok || result.error.code !== 'approval_pending') {
          // What followed the decision (running the call) counts again.
          release?.(waited !== undefined ? sentAt + waited : undefined);
          release = null;
          return result;
        }
        // The call waits for a human: the same call again (same seq and key, so the broker
        // finds the same approval request), never shown to the code; held by the broker.
        if (signal.aborted) return aborted();
        const first = release === null;
        release ??= c.hold();
        waitMs = this.#approvalWaitMs;
        if (c.remainingMs() <= 0) {
          return { ok: false, error: { code: 'capability_timeout', message: `${request.name}: still waiting for a human's approval when the task's time ran out` } };
        }
        // A broker that answered at once though asked to hold is not asked again in a tight loop.
        if (!first && performance.now() - sentAt < PENDING_RESEND_MIN_MS) await sleep(PENDING_RESEND_MIN_MS, signal);
      }
    } finally {
      release?.();
    }
  }

  /** One call as sent once to the broker, with bounded resends after transport faults. */
  async #once(body: string, name: string, token: string, signal: AbortSignal, budgetMs: number): Promise<Answer> {
    const giveUpAt = performance.now() + Math.min(budgetMs, this.#callTimeoutMs);
    for (let attempt = 0; ; attempt++) {
      const leftMs = giveUpAt - performance.now();
      if (signal.aborted) return aborted();
      if (leftMs <= 0) return timedOut(name, budgetMs);
      try {
        return await this.#post(body, token, signal, leftMs, name);
      } catch (err) {
        if (signal.aborted) return aborted();
        if (err instanceof TimeoutFault) return timedOut(name, Math.round(Math.min(budgetMs, this.#callTimeoutMs)));
        if (!(err instanceof TransportFault) || attempt >= this.#retries) {
          return unavailable(`${name}: the broker could not be reached (${(err as Error).message})`);
        }
        const waitMs = Math.min(this.#retryDelayMs * 2 ** attempt, Math.max(0, giveUpAt - performance.now()));
        await sleep(waitMs, signal);
      }
    }
  }

  /** Closes idle keep-alive connections. Idempotent. */
  dispose(): void {
    void this.#pool.destroy().catch(() => undefined);
  }

  /** One POST to the broker: its answer, or a {@link TransportFault} / {@link TimeoutFault}, or the abort. */
  async #post(body: string, token: string, signal: AbortSignal, timeoutMs: number, name: string): Promise<Answer> {
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      authorization: `Bearer ${token}`,
      ...traceHeaders(),
    };
    let answer: CollectedAnswer;
    try {
      answer = await exchangeOn(this.#pool, { path: this.#url.pathname, method: 'POST', headers, body }, {
        signal,
        maxResponseBytes: this.#maxResponseBytes,
        timeout: { ms: timeoutMs, error: () => new TimeoutFault('timeout') },
      });
    } catch (err) {
      if (err instanceof ResponseTooLargeError) return failed(`${name}: the broker's answer is larger than ${this.#maxResponseBytes} bytes`);
      if (err instanceof TimeoutFault || signal.aborted) throw err;
      throw new TransportFault((err as NodeJS.ErrnoException).code ?? (err as Error).message);
    }
    const { status } = answer;
    if (status === 502 || status === 503 || status === 504) throw new TransportFault(`HTTP ${status}`);
    // The broker's body limit is below the runner's input cap: the input is too large.
    if (status === 413) return { ok: false, error: { code: 'capability_invalid_input', message: `${name}: the input is too large for the broker (HTTP 413)` } };
    // 401/403: the token is not (or no longer) this attempt's — the task ended or moved.
    if (status !== 200) return unavailable(`${name}: the broker refused the call (HTTP ${status})`);
    return parseAnswer(answer.body, name);
  }
}

function parseAnswer(raw: Buffer, name: string): Answer {
  let json: unknown;
  try {
    json = JSON.parse(raw.toString('utf8'));
  } catch {
    return unavailable(`${name}: the broker's answer is not JSON`);
  }
  const parsed = BrokerCallResultSchema.safeParse(json);
  if (!parsed.success) return unavailable(`${name}: the broker's answer does not follow the protocol`);
  const waited = parsed.data.approvalWaitMs !== undefined ? { approvalWaitMs: parsed.data.approvalWaitMs } : {};
  return parsed.data.ok ? { ok: true, output: parsed.data.output ?? null, ...waited } : { ok: false, error: parsed.data.error, ...waited };
}

/** A fixed budget of `ms` from now, which never stands still. */
function fixedClock(ms: number): CallClock {
  const endAt = performance.now() + ms;
  return { held: false, remainingMs: () => Math.max(0, endAt - performance.now()), hold: () => () => {} };
}

function unavailable(message: string): CallResult {
  return { ok: false, error: { code: 'capability_unavailable', message } };
}

function failed(message: string): CallResult {
  return { ok: false, error: { code: 'capability_failed', message } };
}

function timedOut(name: string, ms: number): CallResult {
  return { ok: false, error: { code: 'capability_timeout', message: `${name}: no answer within ${ms} ms` } };
}

function aborted(): CallResult {
  return unavailable('the call was aborted: the task was cancelled or has ended');
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}

/** `traceparent` of the active span, when traces are on. */
function traceHeaders(): Record<string, string> {
  const traceparent = traceparentOf();
  return traceparent ? { traceparent } : {};
}
