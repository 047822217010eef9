/**
 * What a runner reports beside its heartbeat (`redisKeys.runners`): the backends it started and
 * whether each can take tasks now, with the reason when not (e.g. isolate hosts that die at
 * start). The harness's /readyz reads it. Keep in sync: runner/readiness.ts writes it,
 * harness/routes/health.ts reads it.
 */
import { z } from 'zod';

export const RunnerStatusSchema = z.object({
  version: z.literal('v1'),
  /** Backend kind (`isolate`, `docker`) → its state. */
  backends: z.record(z.string(), z.object({ ready: z.boolean(), reason: z.string().optional() })),
});
export type RunnerStatus = z.infer<typeof RunnerStatusSchema>;

/**
 * How long a status stays in Redis without being rewritten (runners rewrite it with every
 * heartbeat). Longer than any sensible RUNNER_STALE_MS: readers only look at the status of
 * runners whose heartbeat is fresh, so an old status is never believed.
 */
export const RUNNER_STATUS_TTL_MS = 60_000;
