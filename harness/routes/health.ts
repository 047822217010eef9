import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Redis } from 'ioredis';
import { z } from 'zod';
import { redisKeys } from '../../protocol/redis-keys.ts';
import { RunnerStatusSchema } from '../../protocol/runner-status.ts';
import { NotReadyError } from '../problems.ts';
import { ProblemSchema } from '../schemas/tasks.ts';

export interface HealthRoutesOptions {
  redis: Redis;
  runnerStaleMs: number;
}

/**
 * Liveness (`/healthz`: the harness answers) and readiness (`/readyz`: Redis answers and at
 * least one live runner has every backend it started ready). Neither is logged per request:
 * probes and `npm start` poll them, and a line per poll buried everything else.
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
          200: z.strictObject({ status: z.literal('ready'), runners: z.number().int() }),
          503: ProblemSchema,
        },
      },
    },
    async () => {
      let live: string[];
      let statuses: (string | null)[];
      try {
        live = await options.redis.zrangebyscore(redisKeys.runners, Date.now() - options.runnerStaleMs, '+inf');
        statuses = await readStatuses(options.redis, live);
      } catch {
        throw new NotReadyError('Redis is not reachable');
      }
      if (live.length < 1) throw new NotReadyError('No runner has reported in; start one with `npm run runner`');
      const problems = statuses.map(unreadyBackends);
      if (problems.every((p) => p.length > 0)) {
        // Each distinct problem once, with how many runners have it (runner ids stay private).
        const counts = new Map<string, number>();
        for (const p of problems.flat()) counts.set(p, (counts.get(p) ?? 0) + 1);
        const detail = [...counts].map(([p, n]) => `${p} (${n} of ${live.length} runners)`).join('; ');
        throw new NotReadyError(`No runner is ready: ${detail}`);
      }
      return { status: 'ready' as const, runners: live.length };
    },
  );
}

/** The status each runner published (null: none, e.g. a runner of an older version). */
async function readStatuses(redis: Redis, runnerIds: readonly string[]): Promise<(string | null)[]> {
  if (runnerIds.length === 0) return [];
  // A pipeline of GETs, not MGET: the keys may lie in different Redis Cluster slots.
  const pipeline = redis.pipeline();
  for (const id of runnerIds) pipeline.get(redisKeys.runnerStatus(id));
  const results = (await pipeline.exec()) ?? [];
  return results.map(([err, value]) => {
    if (err) throw err;
    return typeof value === 'string' ? value : null;
  });
}

/** `<backend> backend not ready: <reason>` for each backend a status reports unready. */
function unreadyBackends(raw: string | null): string[] {
  if (raw === null) return [];
  let parsed;
  try {
    parsed = RunnerStatusSchema.safeParse(JSON.parse(raw));
  } catch {
    return [];
  }
  if (!parsed.success) return [];
  return Object.entries(parsed.data.backends).flatMap(([kind, s]) =>
    s.ready ? [] : [`${kind} backend not ready: ${s.reason ?? 'no reason given'}`],
  );
}
