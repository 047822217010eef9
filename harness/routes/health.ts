import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Redis } from 'ioredis';
import { z } from 'zod';
import { redisKeys } from '../../protocol/redis-keys.ts';
import { NotReadyError } from '../problems.ts';
import { ProblemSchema } from '../schemas/tasks.ts';

export interface HealthRoutesOptions {
  redis: Redis;
  runnerStaleMs: number;
}

/** Liveness (`/healthz`: the harness answers) and readiness (`/readyz`: Redis and a runner). */
export async function healthRoutes(app: FastifyInstance, options: HealthRoutesOptions): Promise<void> {
  const api = app.withTypeProvider<ZodTypeProvider>();
  api.get('/healthz', { schema: { response: { 200: z.strictObject({ status: z.literal('ok') }) } } }, async () => ({
    status: 'ok' as const,
  }));

  api.get(
    '/readyz',
    {
      schema: {
        response: {
          200: z.strictObject({ status: z.literal('ready'), runners: z.number().int() }),
          503: ProblemSchema,
        },
      },
    },
    async () => {
      let runners: number;
      try {
        runners = await options.redis.zcount(redisKeys.runners, Date.now() - options.runnerStaleMs, '+inf');
      } catch {
        throw new NotReadyError('Redis is not reachable');
      }
      if (runners < 1) throw new NotReadyError('No runner has reported in; start one with `npm run runner`');
      return { status: 'ready' as const, runners };
    },
  );
}
