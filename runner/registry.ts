/**
 * The runner registry in Redis: the installation id every runner on one Redis shares, and the
 * heartbeats (`airlock:runners`, runner id → last beat in epoch ms) by which the harness knows
 * runners are alive and runners know whose containers are leftovers.
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import { redisKeys } from '../protocol/redis-keys.ts';

/** How often a runner says it is alive (the harness's /readyz looks for this). */
export const HEARTBEAT_MS = 2000;

/** Entries older than this are dropped from the registry (a runner gone for a day). */
const REGISTRY_KEEP_MS = 24 * 3600 * 1000;

/** The installation's id: made by the first runner on this Redis and kept there for good. */
export async function installationIdOf(redis: Redis): Promise<string> {
  await redis.set(redisKeys.installation, `inst-${randomUUID()}`, 'NX');
  const id = await redis.get(redisKeys.installation);
  if (!id) throw new Error(`Redis key ${redisKeys.installation} vanished right after it was set`);
  return id;
}

/**
 * Last heartbeat (epoch ms) of every runner registered in this Redis. Drops entries a day old
 * first: a crashed runner never deregisters, and every process has its own id.
 */
export async function heartbeats(redis: Redis): Promise<Map<string, number>> {
  await redis.zremrangebyscore(redisKeys.runners, '-inf', Date.now() - REGISTRY_KEEP_MS);
  const flat = await redis.zrange(redisKeys.runners, 0, -1, 'WITHSCORES');
  const beats = new Map<string, number>();
  for (let i = 0; i + 1 < flat.length; i += 2) beats.set(flat[i]!, Number(flat[i + 1]));
  return beats;
}

/**
 * Throws when another runner with this id is heartbeating. A recent entry alone may be this
 * runner's previous life (crashed without deregistering): wait past two heartbeats and look again.
 */
export async function assertRunnerIdFree(redis: Redis, runnerId: string): Promise<void> {
  const seen = Number(await redis.zscore(redisKeys.runners, runnerId));
  if (!seen || Date.now() - seen > 2 * HEARTBEAT_MS) return;
  await sleep(2 * HEARTBEAT_MS + 500);
  const again = Number(await redis.zscore(redisKeys.runners, runnerId));
  if (again > seen) {
    throw new Error(
      `another live runner uses RUNNER_ID ${runnerId}; give each runner on a host its own RUNNER_ID`,
    );
  }
}
