/**
 * A runner's Prometheus metrics (prom-client), one registry per runner, served on its own
 * loopback listener when RUNNER_METRICS_PORT is set (protocol/telemetry/metrics-listener.ts):
 * - tasks this runner finished, by runtime, status and `error.code` (`none` when it succeeded);
 * - queue wait (enqueue → picked up, first attempts) and sandbox wall and CPU time, by runtime;
 * - isolate host restarts and the warm container pool (ready containers, misses) — read from the
 *   backends when scraped, not kept up to date.
 * No task id is ever a label.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { ExecuteResult, Runtime } from '../../protocol/task.ts';
import { CONTAINER_RUNTIMES } from '../backends/supervisor-protocol.ts';

/** What the metrics read from the backends when scraped. */
export interface BackendGauges {
  /** Isolate hosts replaced so far (host-pool.ts). */
  isolateRestarts?: () => number;
  /** Warm containers ready per runtime, and tasks that found none (docker.ts). */
  warmPool?: () => { ready: Record<string, number>; misses: number };
}

const SECONDS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];

export class RunnerMetrics {
  readonly registry = new Registry();
  readonly #finished: Counter<'runtime' | 'status' | 'error_code'>;
  readonly #queueWait: Histogram<'runtime'>;
  readonly #wall: Histogram<'runtime'>;
  readonly #cpu: Histogram<'runtime'>;
  readonly #sources: BackendGauges = {};

  /** `processMetrics`: also the process's own (`airlock_runner_*`: CPU, memory, event loop, GC), only when served. */
  constructor(options: { processMetrics?: boolean } = {}) {
    const registers = [this.registry];
    const sources = this.#sources;
    if (options.processMetrics) collectDefaultMetrics({ register: this.registry, prefix: 'airlock_runner_' });
    this.#finished = new Counter({
      name: 'airlock_tasks_finished_total',
      help: 'Tasks this runner finished, by runtime, status and error.code (none: succeeded)',
      labelNames: ['runtime', 'status', 'error_code'],
      registers,
    });
    this.#queueWait = new Histogram({
      name: 'airlock_queue_wait_seconds',
      help: 'Time from enqueue to a runner taking the task (first attempts), by runtime',
      labelNames: ['runtime'],
      buckets: [0.001, 0.0025, ...SECONDS],
      registers,
    });
    this.#wall = new Histogram({
      name: 'airlock_sandbox_wall_seconds',
      help: 'Wall time of sandbox runs, by runtime',
      labelNames: ['runtime'],
      buckets: [0.001, 0.0025, ...SECONDS],
      registers,
    });
    this.#cpu = new Histogram({
      name: 'airlock_sandbox_cpu_seconds',
      help: 'CPU time of sandbox runs, by runtime',
      labelNames: ['runtime'],
      buckets: [0.001, 0.0025, ...SECONDS],
      registers,
    });
    new Counter({
      name: 'airlock_isolate_host_restarts_total',
      help: 'Isolate host processes that died (killed on cancel or a limit, crashed) and were replaced',
      registers,
      collect() {
        this.reset();
        this.inc(sources.isolateRestarts?.() ?? 0);
      },
    });
    new Gauge({
      name: 'airlock_warm_pool_containers',
      help: 'Warm containers ready, by runtime (read when scraped)',
      labelNames: ['runtime'],
      registers,
      collect() {
        this.reset();
        const pool = sources.warmPool?.();
        for (const runtime of CONTAINER_RUNTIMES) this.set({ runtime }, pool?.ready[runtime] ?? 0);
      },
    });
    new Counter({
      name: 'airlock_warm_pool_misses_total',
      help: 'Container tasks that could have taken a warm container but found none ready',
      registers,
      collect() {
        this.reset();
        this.inc(sources.warmPool?.().misses ?? 0);
      },
    });
  }

  /** Lets the scrape read a backend's counters (called once per backend as it starts). */
  attach(gauges: BackendGauges): void {
    Object.assign(this.#sources, gauges);
  }

  queueWait(runtime: Runtime, seconds: number): void {
    this.#queueWait.observe({ runtime }, Math.max(0, seconds));
  }

  finished(runtime: Runtime, status: string, errorCode: string | undefined, usage: ExecuteResult['usage'] | undefined): void {
    this.#finished.inc({ runtime, status, error_code: errorCode ?? 'none' });
    if (usage) {
      this.#wall.observe({ runtime }, usage.wallMs / 1000);
      this.#cpu.observe({ runtime }, usage.cpuMs / 1000);
    }
  }
}

/**
 * BENCHMARK ONLY (startRunner's `metrics: false`, bench/runner-without-telemetry.ts): records
 * nothing per task, so the bench can show what the task metrics cost end to end.
 */
export class UnrecordedRunnerMetrics extends RunnerMetrics {
  override queueWait(): void {}
  override finished(): void {}
}
