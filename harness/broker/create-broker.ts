/** Assembles the broker from the harness's collaborators (composition root: server.ts, tests). */
import type { FastifyInstance } from 'fastify';
import type { AppDeps } from '../app.ts';
import { ApprovalStore } from '../approvals/approval-store.ts';
import { ApprovalWaiter } from '../approvals/approval-waiter.ts';
import { CapabilityStore } from '../capabilities/capability-store.ts';
import { CedarPolicyGate } from '../policy/gate.ts';
import { PolicyStore } from '../policy/policy-store.ts';
import { buildBrokerApp } from './broker-app.ts';
import type { BrokerDeps } from './broker-call.ts';
import { TaskFactsMemory } from './call-reads.ts';
import { CallRecords } from './call-records.ts';
import { CircuitBreakers, type BreakerOptions } from './circuit-breakers.ts';
import { InFlight } from './in-flight.ts';
import { ConnectionPool } from './outbound/connection-pool.ts';
import { parsePrivateTargets } from './outbound/private-targets.ts';
import { systemResolver, type Resolver } from './outbound/resolve-target.ts';
import { CapabilityRateLimits } from './stages/rate-limit.ts';
import { StoredValuesMemory } from './stored-values.ts';

export interface CreateBrokerOptions {
  /** Name resolution of outbound targets (tests stub it: no query leaves the machine). */
  resolver?: Resolver;
  breakers?: BreakerOptions;
  /** Where the broker's parts log (the listener's app logs its own requests). */
  log?: BrokerDeps['log'];
}

/** The broker's collaborators, shared by its listener and the rollback (harness/rollback/). */
export interface BrokerParts {
  deps: BrokerDeps;
  /** Closes what the parts opened (approval waiter, keep-alive connections), once the settles in flight are done. Idempotent. */
  close(): Promise<void>;
}

/**
 * The broker's execute path — policy, approvals, rate limits, vault, SSRF guard, circuit
 * breakers, call records — built once per harness: the broker listener and the rollback worker
 * share it (one breaker per target, one connection pool).
 */
export async function createBrokerParts(deps: AppDeps, options: CreateBrokerOptions = {}): Promise<BrokerParts> {
  const { config, redis } = deps;
  const waiter = await ApprovalWaiter.create(redis);
  const policy = new CedarPolicyGate(new PolicyStore(redis), () => {}, async (tenantId, userId) => {
    const user = await deps.identity.getPrincipal(tenantId, 'user', userId);
    return user && !user.disabled ? user.roles : null;
  });
  const pool = new ConnectionPool();
  const breakers = new CircuitBreakers(options.breakers);
  deps.metrics?.attachBroker({ circuits: () => breakers.states(), approvalsWaiting: () => waiter.waiting });
  const brokerDeps: BrokerDeps = {
    redis,
    capabilities: new CapabilityStore(redis, { parsedCacheSize: 256 }),
    credentials: deps.credentials,
    policy,
    identity: deps.identity,
    audit: deps.audit,
    records: new CallRecords(redis, config.TASK_RETENTION_MS, config.CAPABILITY_RECORDS_MAX_BYTES),
    rateLimits: new CapabilityRateLimits(redis),
    exec: {
      breakers,
      pool,
      resolver: options.resolver ?? systemResolver,
      opened: parsePrivateTargets(config.CAPABILITY_PRIVATE_TARGETS),
      maxRequestBytes: config.CAPABILITY_MAX_REQUEST_BYTES,
      maxResponseBytes: config.CAPABILITY_MAX_RESPONSE_BYTES,
    },
    approvals: {
      redis,
      store: new ApprovalStore(redis, { retentionMs: config.TASK_RETENTION_MS, ...(deps.metrics ? { observer: deps.metrics.approvals } : {}) }),
      waiter,
      audit: deps.audit,
      timeoutMs: Math.min(config.APPROVAL_TIMEOUT_MS, config.APPROVAL_MAX_TIMEOUT_MS),
      pollMs: config.APPROVAL_POLL_MS,
      // The code is on the task's job while it is kept (a finished job may be gone: then none).
      codeOf: async (taskId) => {
        for (const queue of [deps.queue, deps.containerQueue]) {
          const job = await queue.getJob(taskId);
          const code = (job?.data as { code?: unknown } | undefined)?.code;
          if (typeof code === 'string') return code;
        }
        return null;
      },
    },
    log: options.log ?? quietLog,
    facts: new TaskFactsMemory(),
    stored: new StoredValuesMemory(),
    inFlight: new InFlight(),
  };
  let closing: Promise<void> | null = null;
  return {
    deps: brokerDeps,
    close() {
      closing ??= (async () => {
        await waiter.close();
        // Settles sent as their calls were answered reach Redis before the harness closes it.
        await brokerDeps.inFlight?.drain();
        pool.destroy();
      })();
      return closing;
    },
  };
}

const quietLog = { warn() {}, error() {} };

/**
 * The broker listener. With `parts` it uses (and leaves open) parts built by the caller, shared
 * with the rollback; without, it builds its own and closes them with the app.
 */
export async function createBrokerApp(deps: AppDeps, options: CreateBrokerOptions = {}, parts?: BrokerParts): Promise<FastifyInstance> {
  const own = parts ?? (await createBrokerParts(deps, options));
  const app = await buildBrokerApp(own.deps, {
    problemBaseUrl: deps.config.PROBLEM_BASE_URL,
    ...(deps.logger !== undefined ? { logger: deps.logger } : {}),
    ...(deps.metrics ? { metrics: deps.metrics } : {}),
  });
  if (!parts) app.addHook('onClose', () => own.close());
  return app;
}
