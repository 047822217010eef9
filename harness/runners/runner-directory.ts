/**
 * What the harness knows of the runners: who heartbeats (`redisKeys.runners`) and what each
 * reports of its backends (`redisKeys.runnerStatus`, protocol/runner-status.ts). Read by /readyz
 * and by task creation (a runtime no live runner serves is refused at once).
 */
import type { Redis } from 'ioredis';
import { redisKeys } from '../../protocol/redis-keys.ts';
import { RunnerStatusSchema, type RunnerStatus } from '../../protocol/runner-status.ts';
import { backendOf, type Runtime } from '../../protocol/task.ts';

export interface LiveRunner {
  id: string;
  /**
   * Null when the runner has published none yet: it heartbeats from the start (so other runners
   * leave its containers alone) but reports its backends only once they have started.
   */
  status: RunnerStatus | null;
}

/** Runners whose last heartbeat is within `staleMs`, with their published status. */
export async function liveRunners(redis: Redis, staleMs: number): Promise<LiveRunner[]> {
  const ids = await redis.zrangebyscore(redisKeys.runners, Date.now() - staleMs, '+inf');
  if (ids.length === 0) return [];
  // A pipeline of GETs, not MGET: the keys may lie in different Redis Cluster slots.
  const pipeline = redis.pipeline();
  for (const id of ids) pipeline.get(redisKeys.runnerStatus(id));
  const results = (await pipeline.exec()) ?? [];
  return ids.map((id, i) => {
    const [err, raw] = results[i] ?? [null, null];
    if (err) throw err;
    return { id, status: typeof raw === 'string' ? parseStatus(raw) : null };
  });
}

function parseStatus(raw: string): RunnerStatus | null {
  try {
    const parsed = RunnerStatusSchema.safeParse(JSON.parse(raw));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}

/** `<backend> backend not ready: <reason>` for each backend a runner reports unready. */
export function unreadyBackends(runner: LiveRunner): string[] {
  if (runner.status === null) return ['runner starting: its backends have not reported yet'];
  return Object.entries(runner.status?.backends ?? {}).flatMap(([kind, s]) =>
    s.ready ? [] : [`${kind} backend not ready: ${s.reason ?? 'no reason given'}`],
  );
}

/** The runner backend (as runners name it in their status) that runs a runtime. */
export function runnerBackendOf(runtime: Runtime): 'isolate' | 'docker' {
  return backendOf(runtime) === 'isolate' ? 'isolate' : 'docker';
}

/** Whether some live runner serves `backend` now: it reports that backend ready. */
export function serves(runners: readonly LiveRunner[], backend: string): boolean {
  return runners.some((r) => r.status?.backends[backend]?.ready === true);
}
