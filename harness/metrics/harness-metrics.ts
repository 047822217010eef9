/**
 * The harness's Prometheus metrics (prom-client), one registry per app so that several apps in
 * one process (tests, benches) never share counters. What is counted where:
 * - every HTTP answer: route template (never the raw URL: ids would explode the series), method,
 *   status, latency — from an onResponse hook;
 * - tasks created, by runtime — the 201 answers of POST /v1/tasks;
 * - 429 answers by the quota policy that refused them (read from the `RateLimit` header: the
 *   policies with nothing remaining);
 * - queue depth by queue and state — read from BullMQ when scraped, not kept up to date;
 * - capability calls answered by the broker, by capability and outcome (`success` or the error
 *   code), with their latency; the circuit breakers' states (read when scraped);
 * - approval requests made and resolved (by status), decision latency (request → decision), and
 *   the requests this process's broker holds calls waiting on.
 * One instance per harness process serves both listeners (API and broker): created with the deps.
 */
import type { Queue } from 'bullmq';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { parseList } from 'structured-headers';
import type { ApprovalObserver } from '../approvals/approval-store.ts';

export interface HarnessMetricsOptions {
  queues: Queue[];
}

/** What the metrics read from the broker when scraped (attached when the broker is built). */
export interface BrokerGauges {
  /** Circuit state per target (circuit-breakers.ts). */
  circuits?: () => Map<string, string>;
  /** Approval requests calls wait on now (approval-waiter.ts). */
  approvalsWaiting?: () => number;
}

const CIRCUIT_STATES = ['closed', 'open', 'half_open', 'isolated'] as const;

export class HarnessMetrics {
  readonly registry = new Registry();
  readonly #requests: Counter<'method' | 'route' | 'status'>;
  readonly #latency: Histogram<'method' | 'route'>;
  readonly #tasksCreated: Counter<'runtime'>;
  readonly #rateLimited: Counter<'policy' | 'route'>;
  readonly #calls: Counter<'capability' | 'outcome'>;
  readonly #callLatency: Histogram<'capability'>;
  readonly #approvalsRequested: Counter;
  readonly #approvalsResolved: Counter<'status'>;
  readonly #decisionLatency: Histogram<'decision'>;
  readonly #broker: BrokerGauges = {};

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
    this.#calls = new Counter({
      name: 'airlock_capability_calls_total',
      help: 'Capability calls answered by the broker, by capability and outcome (success, or the error code)',
      labelNames: ['capability', 'outcome'],
      registers,
    });
    this.#callLatency = new Histogram({
      name: 'airlock_capability_call_duration_seconds',
      help: 'Time the broker took to answer a capability call (approval waits included), by capability',
      labelNames: ['capability'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10, 30, 60],
      registers,
    });
    const broker = this.#broker;
    new Gauge({
      name: 'airlock_capability_circuits',
      help: 'Capability targets by circuit-breaker state (read when scraped)',
      labelNames: ['state'],
      registers,
      collect() {
        this.reset();
        const counts = new Map<string, number>(CIRCUIT_STATES.map((s) => [s, 0]));
        for (const state of broker.circuits?.().values() ?? []) counts.set(state, (counts.get(state) ?? 0) + 1);
        for (const [state, n] of counts) this.set({ state }, n);
      },
    });
    new Gauge({
      name: 'airlock_capability_circuit_open',
      help: 'Targets whose circuit is not closed (1 = open or isolated, 0.5 = half open), by target host',
      labelNames: ['target'],
      registers,
      collect() {
        this.reset();
        for (const [target, state] of broker.circuits?.() ?? []) {
          if (state !== 'closed') this.set({ target }, state === 'half_open' ? 0.5 : 1);
        }
      },
    });
    this.#approvalsRequested = new Counter({
      name: 'airlock_approvals_requested_total',
      help: 'Approval requests made (capability calls that need a human)',
      registers,
    });
    this.#approvalsResolved = new Counter({
      name: 'airlock_approvals_resolved_total',
      help: 'Approval requests that left pending, by status (approved, denied, expired, cancelled)',
      labelNames: ['status'],
      registers,
    });
    this.#decisionLatency = new Histogram({
      name: 'airlock_approval_decision_seconds',
      help: 'Time from an approval request to a human decision, by decision',
      labelNames: ['decision'],
      buckets: [1, 5, 15, 30, 60, 120, 300, 900, 1800, 3600, 4 * 3600, 24 * 3600],
      registers,
    });
    new Gauge({
      name: 'airlock_approvals_pending',
      help: "Pending approval requests this harness's broker holds capability calls waiting on now",
      registers,
      collect() {
        this.set(broker.approvalsWaiting?.() ?? 0);
      },
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

  /** Lets the scrape read the broker's breakers and waiting calls. */
  attachBroker(gauges: BrokerGauges): void {
    Object.assign(this.#broker, gauges);
  }

  /** One answered capability call (`capability`: a name the task declared, else `undeclared`). */
  capabilityCall(capability: string, outcome: string, seconds: number): void {
    this.#calls.inc({ capability, outcome });
    this.#callLatency.observe({ capability }, seconds);
  }

  /** The approval store's observer (approval-store.ts). */
  readonly approvals: ApprovalObserver = {
    requested: () => this.#approvalsRequested.inc(),
    resolved: (approval, status, mode) => {
      this.#approvalsResolved.inc({ status });
      if (mode === 'decide' && approval.decidedAt) {
        const seconds = (Date.parse(approval.decidedAt) - Date.parse(approval.createdAt)) / 1000;
        if (Number.isFinite(seconds)) this.#decisionLatency.observe({ decision: status }, Math.max(0, seconds));
      }
    },
  };

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
