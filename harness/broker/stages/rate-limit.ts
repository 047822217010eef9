/**
 * Stage: the capability's per-agent rate limit (`rateLimit.perMinute`): each agent of the tenant
 * has its own budget per capability, in Redis (shared by every harness). Replayed calls do not
 * count (they run nothing).
 */
import type { Redis } from 'ioredis';
import { RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import { refuse, type CallContext, type Stop } from './context.ts';

export class CapabilityRateLimits {
  readonly #redis: Redis;
  readonly #limiters = new Map<number, RateLimiterRedis>();

  constructor(redis: Redis) {
    this.#redis = redis;
  }

  #limiter(perMinute: number): RateLimiterRedis {
    let l = this.#limiters.get(perMinute);
    if (!l) {
      l = new RateLimiterRedis({ storeClient: this.#redis, keyPrefix: `airlock:caprl:${perMinute}`, points: perMinute, duration: 60 });
      this.#limiters.set(perMinute, l);
    }
    return l;
  }

  async stage(ctx: CallContext): Promise<Stop | null> {
    const limit = ctx.capability!.rateLimit;
    if (!limit) return null;
    try {
      await this.#limiter(limit.perMinute).consume(`${ctx.task.tenantId}:${ctx.task.agentId}:${ctx.call.name}`);
      return null;
    } catch (err) {
      if (!(err instanceof RateLimiterRes)) throw err;
      const seconds = Math.ceil(err.msBeforeNext / 1000);
      return refuse('rate_limit', 'capability_rate_limited', `${ctx.call.name}: at most ${limit.perMinute} calls per minute per agent; try again in ${seconds} s`);
    }
  }
}
