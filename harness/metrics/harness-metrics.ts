/**
 * The harness's Prometheus metrics (prom-client), one registry per app so that several apps in
 * one process (tests, benches) never share counters. What is counted where:
 * - every HTTP answer: route template (never the raw URL: ids would explode the series), method,
 *   status, latency — from an onResponse hook;
 * - tasks created, by runtime — the 201 answers of POST /v1/tasks;
 * - 429 answers by the quota policy that refused them (read from the `RateLimit` header: the
 *   policies with nothing remaining);
 * - queue depth by queue and state — read from BullMQ when scraped, not kept up to date.
 */
import type { Queue } from 'bullmq';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { parseList } from 'structured-headers';

export interface HarnessMetricsOptions {
  queues: Queue[];
}

export class HarnessMetrics {
  readonly registry = new Registry();
  readonly #requests: Counter<'method' | 'route' | 'status'>;
  readonly #latency: Histogram<'method' | 'route'>;
  readonly #tasksCreated: Counter<'runtime'>;
  readonly #rateLimited: Counter<'policy' | 'route'>;

  constructor(options: HarnessMetricsOptions) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: 'airlock_harness_' });
    this.#requests = new Counter({
      name: 'airlock_http_requests_total',
      help: 'HTTP answers by route template, method and status',
      labelNames: ['method', 'route', 'status'],
      registers,
    });
    this.#latency = new Histogram({
      name: 'airlock_http_request_duration_seconds',
      help: 'Time from request to answer, by route template and method',
      labelNames: ['method', 'route'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10, 60],
      registers,
    });
    this.#tasksCreated = new Counter({
      name: 'airlock_tasks_created_total',
      help: 'Tasks created (201 answers of POST /v1/tasks), by runtime',
      labelNames: ['runtime'],
      registers,
    });
    this.#rateLimited = new Counter({
      name: 'airlock_rate_limited_total',
      help: '429 answers, by the quota policy that was used up and the route',
      labelNames: ['policy', 'route'],
      registers,
    });
    const queues = options.queues;
    new Gauge({
      name: 'airlock_queue_jobs',
      help: 'Jobs in the task queues by state (read from Redis when scraped)',
      labelNames: ['queue', 'state'],
      registers,
      async collect() {
        const counts = await Promise.all(
          queues.map((q) => q.getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'failed')),
        );
        this.reset();
        counts.forEach((byState, i) => {
          for (const [state, n] of Object.entries(byState)) this.set({ queue: queues[i]!.name, state }, n);
        });
      },
    });
  }

  /** onResponse hook: one observation per answer (problems included). */
  observe(request: FastifyRequest, reply: FastifyReply): void {
    const route = request.routeOptions.url ?? 'unmatched';
    const method = request.method;
    const status = reply.statusCode;
    this.#requests.inc({ method, route, status: String(status) });
    this.#latency.observe({ method, route }, reply.elapsedTime / 1000);
    if (status === 201 && method === 'POST' && route === '/v1/tasks') {
      const runtime = (request.body as { runtime?: unknown } | undefined)?.runtime;
      this.#tasksCreated.inc({ runtime: typeof runtime === 'string' ? runtime : 'unknown' });
    }
    if (status === 429) {
      for (const policy of usedUp(reply.raw.getHeader('ratelimit') ?? reply.getHeader('ratelimit'))) this.#rateLimited.inc({ policy, route });
    }
  }
}

/** Names of the policies with `r=0` in a `RateLimit` header value; `unknown` if there is none. */
function usedUp(header: unknown): string[] {
  if (typeof header !== 'string') return ['unknown'];
  try {
    const names = parseList(header)
      .filter(([, params]) => params.get('r') === 0)
      .map(([name]) => String(name));
    return names.length > 0 ? names : ['unknown'];
  } catch {
    return ['unknown'];
  }
}
