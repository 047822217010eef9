import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Redis } from 'ioredis';
import { RateLimiterRedis } from 'rate-limiter-flexible';
import { idempotencyStoreKey } from '../plugins/idempotency.ts';
import type { ProblemBody } from '../plugins/problem-handler.ts';
import type { Config } from '../config.ts';
import { PROBLEMS } from '../problems.ts';
import { ActiveTasks, type Reservation } from './active-tasks.ts';
import {
  partitionKey,
  rateLimitHeader,
  rateLimitPolicyHeader,
  retryAfterSeconds,
  type PolicyState,
} from './headers.ts';
import { QuotaOverridesStore } from './overrides-store.ts';
import {
  POLICY_NAMES,
  QUOTA_OF,
  RATE_WINDOW_SECONDS,
  classify,
  resolveQuotas,
  type Quotas,
  type RequestClass,
} from './policies.ts';

/** RFC 9457 type registered for this (draft-ietf-httpapi-ratelimit-headers §5, RL-4). */
export const QUOTA_EXCEEDED_TYPE = 'https://iana.org/assignments/http-problem-types#quota-exceeded';

export interface RateLimitsOptions {
  redis: Redis;
  /** Quotas of a principal without overrides. */
  defaults: Quotas;
  /** Failed authentications (401) one client IP may cause per minute before it gets 429. */
  authFailuresPerMin: number;
  /** Key of the partition-key HMAC (RL-3); '' = a fixed key. */
  partitionSalt: string;
  /** How long a create request in progress may hold a concurrency slot (covers `wait`). */
  reservationTtlMs: number;
  /** How long an agent's set of active tasks lives after its last admission. */
  activeSetTtlMs: number;
}

/** What the rate-limit hooks keep on a request between hooks. */
interface RateLimitContext {
  quotas: Quotas;
  agentPartition: Buffer;
  /** Policies reported in the headers: the budgets drawn, then the concurrency cap if checked. */
  states: PolicyState[];
  /** The budget units this request took (given back if it is refused). */
  draws: Draw[];
  reservation?: Reservation;
}

/** One unit taken from one budget counter. */
interface Draw {
  limiter: RateLimiterRedis;
  key: string;
  state: PolicyState;
  over: boolean;
}

declare module 'fastify' {
  interface FastifyRequest {
    rateLimit?: RateLimitContext;
  }
}

type Scope = 'agent' | 'key';
/** At most this many failing IPs are remembered per harness (see #failedHere). */
const MAX_REMEMBERED_FAILING_IPS = 100_000;
const CLASSES: readonly RequestClass[] = ['read', 'write', 'task-create'];

/**
 * Rate limits and quotas of the /v1 API (rate-limiter-flexible counters on Redis):
 *
 * - before authentication (onRequest): a client IP that caused too many 401s in the current
 *   window gets 429 without its credential even being looked at (checked for the IPs this
 *   harness answered 401 in the window; see #failedHere);
 * - after authentication, before the body is parsed (preParsing): the request draws one unit
 *   from its agent's budget and, when it came with an API key (or a token minted from one), from
 *   that key's budget, in its class: reads (GET/HEAD), task creations (`POST /v1/tasks`) or
 *   writes (everything else);
 * - in the same round trip, task creation only: a slot under the agent's cap of active
 *   (queued or running) tasks (see ActiveTasks).
 *
 * A throttled request gets 429 quota-exceeded before any handler ran: nothing is created, and no
 * Idempotency-Key is claimed, so the same request can be retried unchanged.
 *
 * A task creation whose Idempotency-Key already has an answer (or a first request in flight)
 * stored is not held to the concurrency cap: it can only replay that answer (or get 409/422),
 * never create a task, so it takes no slot — a client retrying to learn what became of its task
 * must not be refused because that very task holds a slot (IDEM-6). It still draws from the
 * request budgets like every request: a replay is traffic (else a retry loop is unmetered), and
 * a 429 is safe to retry, since the stored answer stays (IDEM-8, RL-4).
 *
 * Every response of an authenticated request carries `RateLimit-Policy` and `RateLimit` for the
 * budgets it drew from.
 *
 * Counters are fixed one-minute windows. A request counts even when it fails later (400, 403,
 * 404): it is the principal's own traffic. A 429 is given back to every budget it did not
 * exceed. 401s count only against the client IP.
 */
export class RateLimits {
  readonly overrides: QuotaOverridesStore;
  readonly activeTasks: ActiveTasks;
  readonly #redis: Redis;
  readonly #defaults: Quotas;
  readonly #salt: string;
  readonly #authFailuresPerMin: number;
  readonly #authFailures: RateLimiterRedis;
  readonly #counters: Record<Scope, Record<RequestClass, RateLimiterRedis>>;
  /** IP partition keys that failed authentication through this harness → end of that window. */
  readonly #recentFailures = new Map<string, number>();
  /**
   * Records each refusal (the audit log) before the 429 is sent; a rejection fails the request
   * instead (503), so no refusal goes unrecorded.
   */
  onReject: ((request: FastifyRequest, violated: readonly PolicyState[]) => Promise<void>) | null = null;

  constructor(options: RateLimitsOptions) {
    this.#defaults = options.defaults;
    this.#redis = options.redis;
    this.#salt = options.partitionSalt;
    this.#authFailuresPerMin = options.authFailuresPerMin;
    this.overrides = new QuotaOverridesStore(options.redis);
    this.activeTasks = new ActiveTasks({
      redis: options.redis,
      reservationTtlMs: options.reservationTtlMs,
      setTtlMs: options.activeSetTtlMs,
    });
    const limiter = (name: string, points: number) =>
      new RateLimiterRedis({
        storeClient: options.redis,
        keyPrefix: `airlock:ratelimit:${name}`,
        points,
        duration: RATE_WINDOW_SECONDS,
      });
    this.#authFailures = limiter(POLICY_NAMES.authFailures, options.authFailuresPerMin);
    // Budget quotas vary per tenant/agent/key, so these limiters only count (penalty) and the
    // decision against the effective quota is made here; `points` is never used by them.
    const counters = (scope: Scope) =>
      Object.fromEntries(CLASSES.map((c) => [c, limiter(POLICY_NAMES[scope][c], 1)])) as Record<
        RequestClass,
        RateLimiterRedis
      >;
    this.#counters = { agent: counters('agent'), key: counters('key') };
  }

  get defaults(): Quotas {
    return this.#defaults;
  }

  /**
   * Adds the hooks to a /v1 scope. Call it BEFORE the authentication hook is added: the
   * failed-auth check must run first; the budget hooks run at later lifecycle stages anyway.
   */
  register(app: FastifyInstance): void {
    app.addHook('onRequest', async (request, reply) => {
      const ipPartition = partitionKey(this.#salt, 'ip', request.ip);
      // Only an IP that failed authentication here in the current window is looked up: the
      // round trip is spared for every other request (see #failedHere).
      if (!this.#failedHere(ipPartition.toString('hex'))) return undefined;
      const res = await this.#authFailures.get(ipPartition.toString('hex'));
      if (res && res.consumedPoints >= this.#authFailuresPerMin) {
        const state: PolicyState = {
          name: POLICY_NAMES.authFailures,
          quota: this.#authFailuresPerMin,
          windowSeconds: RATE_WINDOW_SECONDS,
          partitionKey: ipPartition,
          remaining: 0,
          resetSeconds: seconds(res.msBeforeNext),
        };
        return this.#reject(request, reply, null, [state]);
      }
      return undefined;
    });

    app.addHook('preParsing', async (request, reply, payload) => {
      const principal = request.principal;
      if (!principal) return payload;
      const cls = classify(request.method, request.routeOptions.url);
      const agentPartition = partitionKey(this.#salt, 'agent', principal.tenantId, principal.agentId);
      const keyPartition = principal.keyId ? partitionKey(this.#salt, 'key', principal.tenantId, principal.keyId) : null;
      // One round trip: the overrides are read, both counters bumped and, for a task creation, a
      // slot under the concurrency cap reserved (checked against the cap the overrides give).
      const overridesRead = this.overrides.forRequest(principal.tenantId, principal.agentId, principal.keyId);
      const quotasRead = overridesRead.then((o) => resolveQuotas(this.#defaults, o.tenant, o.agent));
      // Also in that round trip: whether an answer is already stored under the Idempotency-Key.
      const storedUnder = cls === 'task-create' ? idempotencyStoreKey(request, principal) : null;
      const [overrides, quotas, agentCount, keyCount, admission, answered] = await Promise.all([
        overridesRead,
        quotasRead,
        this.#counters.agent[cls].penalty(agentPartition.toString('hex')),
        keyPartition ? this.#counters.key[cls].penalty(keyPartition.toString('hex')) : null,
        cls === 'task-create'
          ? this.activeTasks.admit(agentPartition.toString('hex'), quotasRead.then((q) => q.concurrentTasks))
          : null,
        storedUnder ? this.#redis.exists(storedUnder) : 0,
      ]);
      const draws: Draw[] = [
        {
          limiter: this.#counters.agent[cls],
          key: agentPartition.toString('hex'),
          state: windowState(POLICY_NAMES.agent[cls], quotas[QUOTA_OF[cls]], agentPartition, agentCount),
          over: agentCount.consumedPoints > quotas[QUOTA_OF[cls]],
        },
      ];
      if (keyPartition && keyCount) {
        const keyQuota = resolveQuotas(quotas, overrides.key)[QUOTA_OF[cls]];
        draws.push({
          limiter: this.#counters.key[cls],
          key: keyPartition.toString('hex'),
          state: windowState(POLICY_NAMES.key[cls], keyQuota, keyPartition, keyCount),
          over: keyCount.consumedPoints > keyQuota,
        });
      }
      const context: RateLimitContext = { quotas, agentPartition, states: draws.map((d) => d.state), draws };
      request.rateLimit = context;
      const violated = draws.filter((d) => d.over).map((d) => d.state);
      if (admission && answered > 0) {
        // Replay only (see the class comment): not held to the cap, and its slot goes back.
        request.idempotencyReplayOnly = true;
        if (admission.reservation) await this.activeTasks.release(admission.reservation);
      } else if (admission) {
        const cap = quotas.concurrentTasks;
        const state: PolicyState = {
          name: POLICY_NAMES.concurrency,
          quota: cap,
          unit: 'concurrent-requests',
          partitionKey: agentPartition,
          remaining: cap - admission.active,
        };
        context.states.push(state);
        if (admission.reservation) context.reservation = admission.reservation;
        else violated.push(state);
      }
      if (violated.length > 0) {
        // A slot reserved by a request refused for its budget goes back at once.
        if (context.reservation) {
          await this.activeTasks.release(context.reservation);
          context.reservation = undefined;
        }
        return this.#reject(request, reply, context, violated);
      }
      setHeaders(reply, context.states);
      return payload;
    });

    app.addHook('onSend', async (request, reply, payload) => {
      if (reply.statusCode === 401) {
        const ip = partitionKey(this.#salt, 'ip', request.ip).toString('hex');
        const res = await this.#authFailures.penalty(ip);
        this.#rememberFailure(ip, Date.now() + res.msBeforeNext);
      }
      const reservation = request.rateLimit?.reservation;
      if (reservation) {
        request.rateLimit!.reservation = undefined;
        const taskId = reply.statusCode === 201 ? createdTaskId(reply) : null;
        // Not awaited (off the answer's path): the reservation already holds the slot, so the
        // count is right before and after the swap. The command is written now, on the shared
        // connection, so this harness's next admission of the agent runs after it.
        const settled = taskId ? this.activeTasks.confirm(reservation, taskId) : this.activeTasks.release(reservation);
        settled.catch((err: unknown) => request.log.warn({ err }, 'could not settle a concurrency reservation'));
      }
      return payload;
    });
  }

  /**
   * Did this IP (its partition key) cause a 401 through this harness in the current window?
   * The failure counters live in Redis and are shared by every harness, but a harness checks
   * them only for IPs it has itself answered 401, so the check costs nothing for clients that
   * authenticate. The price, with several harnesses behind a load balancer: an IP whose failures
   * all went through other harnesses gets one more 401 from this one before this one throttles
   * it too (its first failure here is recorded, and from then on it is checked). With one
   * harness (or after a restart, for the first failure), nothing changes.
   */
  #failedHere(ip: string): boolean {
    const until = this.#recentFailures.get(ip);
    if (until === undefined) return false;
    if (until > Date.now()) return true;
    this.#recentFailures.delete(ip);
    return false;
  }

  #rememberFailure(ip: string, until: number): void {
    // Bounded: past the cap, forget the entries that expire first (Map keeps insertion order;
    // every entry lives one window, so the oldest inserted expire first).
    if (this.#recentFailures.size >= MAX_REMEMBERED_FAILING_IPS) {
      const now = Date.now();
      for (const [key, expires] of this.#recentFailures) {
        if (expires > now && this.#recentFailures.size < MAX_REMEMBERED_FAILING_IPS) break;
        this.#recentFailures.delete(key);
      }
    }
    this.#recentFailures.delete(ip);
    this.#recentFailures.set(ip, until);
  }

  /**
   * Answers 429 quota-exceeded (RL-4..6); the handler never runs. The request is given back to
   * the budgets it did not exceed, so a key hammered past its own quota does not use up its
   * agent's budget (and its other keys') with requests that were refused anyway.
   */
  async #reject(request: FastifyRequest, reply: FastifyReply, context: RateLimitContext | null, violated: PolicyState[]) {
    if (this.onReject) await this.onReject(request, violated);
    const states = context?.states ?? violated;
    const refunds = (context?.draws ?? []).filter((d) => !violated.includes(d.state));
    await Promise.all(refunds.map((d) => d.limiter.reward(d.key)));
    for (const d of refunds) d.state.remaining += 1;
    const names = violated.map((s) => s.name);
    const retryAfter = retryAfterSeconds(violated);
    const body: ProblemBody = {
      type: QUOTA_EXCEEDED_TYPE,
      title: PROBLEMS.quota_exceeded.title,
      status: 429,
      detail: `Quota exceeded (${names.join(', ')}); retry after ${retryAfter} seconds`,
      instance: `urn:uuid:${request.id}`,
      code: 'quota_exceeded',
      'violated-policies': names,
    };
    setHeaders(reply, states);
    return reply
      .code(429)
      .header('retry-after', String(retryAfter))
      // RFC 6585 §4: a 429 must not be stored by a cache.
      .header('cache-control', 'no-store')
      .header('content-type', 'application/problem+json')
      .send(JSON.stringify(body));
  }
}

function seconds(ms: number): number {
  return Math.max(1, Math.ceil(ms / 1000));
}

function windowState(
  name: string,
  quota: number,
  partition: Buffer,
  count: { consumedPoints: number; msBeforeNext: number },
): PolicyState {
  return {
    name,
    quota,
    windowSeconds: RATE_WINDOW_SECONDS,
    partitionKey: partition,
    remaining: quota - count.consumedPoints,
    resetSeconds: seconds(count.msBeforeNext),
  };
}

/**
 * Set on the raw response, so they are also sent by routes that write the response themselves
 * (the SSE stream hijacks the reply).
 */
function setHeaders(reply: FastifyReply, states: PolicyState[]): void {
  reply.raw.setHeader('ratelimit-policy', rateLimitPolicyHeader(states));
  reply.raw.setHeader('ratelimit', rateLimitHeader(states));
}

/** The id of the task a 201 created, from its `Location: /v1/tasks/<id>`. */
function createdTaskId(reply: FastifyReply): string | null {
  const location = reply.getHeader('location');
  const match = typeof location === 'string' ? /^\/v1\/tasks\/([A-Za-z0-9-]{1,64})$/.exec(location) : null;
  return match?.[1] ?? null;
}

/** The rate limits the harness config asks for. */
export function rateLimitsFromConfig(config: Config, redis: Redis): RateLimits {
  return new RateLimits({
    redis,
    defaults: {
      readsPerMin: config.RATE_LIMIT_READS_PER_MIN,
      writesPerMin: config.RATE_LIMIT_WRITES_PER_MIN,
      taskCreatesPerMin: config.RATE_LIMIT_TASK_CREATES_PER_MIN,
      concurrentTasks: config.RATE_LIMIT_CONCURRENT_TASKS,
    },
    authFailuresPerMin: config.RATE_LIMIT_AUTH_FAILURES_PER_MIN,
    partitionSalt: config.RATE_LIMIT_PK_SALT,
    // A create request holds its slot at most for its `wait`, plus slack for a slow answer.
    reservationTtlMs: (config.MAX_WAIT_SECONDS + 60) * 1000,
    // Longer than any task stays active; refreshed on every admission.
    activeSetTtlMs: config.TASK_RETENTION_MS,
  });
}
