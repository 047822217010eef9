import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Redis } from 'ioredis';
import { z } from 'zod';
import { RuntimeSchema } from '../../protocol/task.ts';
import { NotReadyError } from '../problems.ts';
import { liveRunners, unreadyBackends, type LiveRunner } from '../runners/runner-directory.ts';
import { runtimesServed, whyUnavailable } from '../runners/runtime-availability.ts';
import { ProblemSchema } from '../schemas/tasks.ts';

export interface HealthRoutesOptions {
  redis: Redis;
  runnerStaleMs: number;
}

/**
 * Liveness (`/healthz`: the harness answers) and readiness (`/readyz`: Redis answers and at
 * least one live runner has every backend it started ready; the answer says which runtimes some
 * runner can run now, e.g. none of the container ones where no runner has Docker). Neither is
 * logged per request: probes and `npm start` poll them, and a line per poll buried everything.
 */
export async function healthRoutes(app: FastifyInstance, options: HealthRoutesOptions): Promise<void> {
  const api = app.withTypeProvider<ZodTypeProvider>();
  api.get(
    '/healthz',
    { logLevel: 'warn', schema: { response: { 200: z.strictObject({ status: z.literal('ok') }) } } },
    async () => ({ status: 'ok' as const }),
  );

  api.get(
    '/readyz',
    {
      logLevel: 'warn',
      schema: {
        response: {
          200: z.strictObject({
            status: z.literal('ready'),
            runners: z.number().int(),
            /** Each runtime and whether some live runner can run it now. */
            runtimes: z.record(RuntimeSchema, z.boolean()),
            /** Why the runtimes that cannot run now cannot (absent when all can). */
            unavailable: z.array(z.string()).optional(),
          }),
          503: ProblemSchema,
        },
      },
    },
    async () => {
      // A fresh look (not task creation's cached one): a probe must see a runner that just came.
      let live: LiveRunner[];
      try {
        live = await liveRunners(options.redis, options.runnerStaleMs);
      } catch {
        throw new NotReadyError('Redis is not reachable');
      }
      if (live.length < 1) throw new NotReadyError('No runner has reported in; start one with `npm run runner`');
      const problems = live.map(unreadyBackends);
      if (problems.every((p) => p.length > 0)) {
        // Each distinct problem once, with how many runners have it (runner ids stay private).
        const counts = new Map<string, number>();
        for (const p of problems.flat()) counts.set(p, (counts.get(p) ?? 0) + 1);
        const detail = [...counts].map(([p, n]) => `${p} (${n} of ${live.length} runners)`).join('; ');
        throw new NotReadyError(`No runner is ready: ${detail}`);
      }
      const runtimes = runtimesServed(live);
      const unavailable = RuntimeSchema.options
        .filter((rt) => !runtimes[rt])
        .map((rt) => `${rt}: ${whyUnavailable(live, rt) ?? 'unavailable'}`);
      return {
        status: 'ready' as const,
        runners: live.length,
        runtimes,
        ...(unavailable.length > 0 ? { unavailable } : {}),
      };
    },
  );
}
