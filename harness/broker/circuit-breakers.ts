/**
 * One circuit breaker (cockatiel) per target origin: after `threshold` consecutive failures of a
 * target (no connection, no answer in time, a 5xx) its calls are refused at once with
 * `capability_unavailable` for `halfOpenAfterMs`, then one call tries it again. Refusals of the
 * guard (a refused address) are not the target's fault and do not count. Per harness process.
 */
import { circuitBreaker, CircuitState, ConsecutiveBreaker, handleWhen, isBrokenCircuitError, type CircuitBreakerPolicy } from 'cockatiel';

/** A failure that counts against the target (the exchange itself may have completed: a 5xx). */
export class TargetFailure extends Error {
  override readonly name = 'TargetFailure';
}

export interface BreakerOptions {
  /** Consecutive failures that open a target's circuit. @defaultValue 5 */
  threshold?: number;
  /** How long an open circuit refuses calls before trying one. @defaultValue 30 000 */
  halfOpenAfterMs?: number;
  /** Targets remembered at most (least recently used forgotten). @defaultValue 1000 */
  maxTargets?: number;
}

export class CircuitBreakers {
  readonly #breakers = new Map<string, CircuitBreakerPolicy>();
  readonly #threshold: number;
  readonly #halfOpenAfterMs: number;
  readonly #maxTargets: number;

  constructor(options: BreakerOptions = {}) {
    this.#threshold = options.threshold ?? 5;
    this.#halfOpenAfterMs = options.halfOpenAfterMs ?? 30_000;
    this.#maxTargets = options.maxTargets ?? 1000;
  }

  /** Each remembered target's circuit state: `closed`, `open`, `half_open` or `isolated` (metrics). */
  states(): Map<string, string> {
    const names: Record<number, string> = { [CircuitState.Closed]: 'closed', [CircuitState.Open]: 'open', [CircuitState.HalfOpen]: 'half_open', [CircuitState.Isolated]: 'isolated' };
    return new Map([...this.#breakers].map(([target, b]) => [target, names[b.state] ?? 'unknown']));
  }

  /** Runs `fn` through the target's breaker. Throws BrokenCircuitError when it is open. */
  run<T>(target: string, fn: (signal: AbortSignal) => Promise<T>, signal: AbortSignal): Promise<T> {
    let breaker = this.#breakers.get(target);
    if (breaker) {
      this.#breakers.delete(target);
    } else {
      breaker = circuitBreaker(handleWhen((e) => e instanceof TargetFailure), {
        halfOpenAfter: this.#halfOpenAfterMs,
        breaker: new ConsecutiveBreaker(this.#threshold),
      });
      if (this.#breakers.size >= this.#maxTargets) this.#breakers.delete(this.#breakers.keys().next().value as string);
    }
    this.#breakers.set(target, breaker);
    return breaker.execute(({ signal: s }) => fn(s), signal);
  }
}

export { isBrokenCircuitError };
