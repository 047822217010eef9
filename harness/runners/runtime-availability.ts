import type { Redis } from 'ioredis';
import { RuntimeSchema, type Runtime } from '../../protocol/task.ts';
import { liveRunners, runnerBackendOf, serves, type LiveRunner } from './runner-directory.ts';

export interface RuntimeAvailabilityOptions {
  redis: Redis;
  /** A runner whose last heartbeat is older than this is gone (RUNNER_STALE_MS). */
  runnerStaleMs: number;
  /**
   * How long one look at the runners is reused. Task creation asks on every request; a second's
   * staleness only delays noticing a runner that just came or went. @defaultValue 1000
   */
  cacheMs?: number;
}

/** Why none of `runners` can run `runtime` now, or null when one can. */
export function whyUnavailable(runners: readonly LiveRunner[], runtime: Runtime): string | null {
  const backend = runnerBackendOf(runtime);
  if (serves(runners, backend)) return null;
  if (runners.length === 0) return 'no runner is running';
  return backend === 'isolate'
    ? 'no live runner has its isolate backend ready'
    : 'no live runner has a Docker engine and the sandbox images (container runtimes: python, node, bash)';
}

/** Every runtime and whether one of `runners` can run it now (for /readyz). */
export function runtimesServed(runners: readonly LiveRunner[]): Record<Runtime, boolean> {
  return Object.fromEntries(RuntimeSchema.options.map((rt) => [rt, serves(runners, runnerBackendOf(rt))])) as Record<
    Runtime,
    boolean
  >;
}

/** Whether a task of `runtime` could be taken now: null if so, else why not. */
export interface RuntimeCheck {
  whyUnavailable(runtime: Runtime): Promise<string | null>;
}

/** TASKS_REQUIRE_LIVE_RUNNER=false: every runtime is accepted (tasks wait queued for a runner). */
export const anyRuntime: RuntimeCheck = { whyUnavailable: async () => null };

/**
 * Which runtimes some live runner can run now, so that `POST /v1/tasks` refuses a task nobody
 * would take (503 runtime_unavailable) instead of queueing it forever. Looks at the runner
 * registry at most once per `cacheMs` (two Redis round trips), shared by all requests.
 */
export class RuntimeAvailability implements RuntimeCheck {
  readonly #redis: Redis;
  readonly #runnerStaleMs: number;
  readonly #cacheMs: number;
  #cached: { at: number; runners: Promise<LiveRunner[]> } | null = null;

  constructor(options: RuntimeAvailabilityOptions) {
    this.#redis = options.redis;
    this.#runnerStaleMs = options.runnerStaleMs;
    this.#cacheMs = options.cacheMs ?? 1000;
  }

  /** Null when `runtime` can run now; otherwise why not (for the problem's detail). */
  async whyUnavailable(runtime: Runtime): Promise<string | null> {
    return whyUnavailable(await this.#runners(), runtime);
  }

  #runners(): Promise<LiveRunner[]> {
    const now = Date.now();
    if (!this.#cached || now - this.#cached.at >= this.#cacheMs) {
      const runners = liveRunners(this.#redis, this.#runnerStaleMs);
      // A failed look is not cached: the next request asks again.
      runners.catch(() => {
        if (this.#cached?.runners === runners) this.#cached = null;
      });
      this.#cached = { at: now, runners };
    }
    return this.#cached.runners;
  }
}
