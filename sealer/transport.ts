/**
 * Reading and trimming the audit streams (see protocol/audit/producer.ts for the fields). The
 * sealer reads each shard with XRANGE after the last id it durably sealed, so a restart resumes
 * exactly there; after a commit it trims each stream up to that id (entries it has sealed).
 */
import type { Redis } from 'ioredis';
import { AUDIT_SHARDS, auditStreamKey } from '../protocol/redis-keys.ts';

export interface TransportEntry {
  shard: number;
  /** Stream id `<ms>-<seq>`. */
  id: string;
  fields: Map<string, string>;
}

/** Orders stream ids (`ms-seq`) numerically. */
export function compareStreamIds(a: string, b: string): number {
  const [am = '0', as = '0'] = a.split('-');
  const [bm = '0', bs = '0'] = b.split('-');
  return Number(am) - Number(bm) || Number(as) - Number(bs);
}

/** Up to `count` entries of every shard after `positions[shard]`, merged in stream-id order. */
export async function readShards(redis: Redis, positions: readonly string[], count: number): Promise<TransportEntry[]> {
  // One command per shard, sent together (not a pipeline: on a Redis Cluster the shards live on
  // different nodes, and a pipeline must stay on one).
  const results = await Promise.all(
    Array.from({ length: AUDIT_SHARDS }, (_, s) => redis.xrange(auditStreamKey(s), `(${positions[s] ?? '0-0'}`, '+', 'COUNT', count)),
  );
  const out: TransportEntry[] = [];
  results.forEach((rows, shard) => {
    for (const [id, flat] of rows) {
      const fields = new Map<string, string>();
      for (let i = 0; i + 1 < flat.length; i += 2) if (!fields.has(flat[i] as string)) fields.set(flat[i] as string, flat[i + 1] as string);
      out.push({ shard, id, fields });
    }
  });
  return out.sort((a, b) => compareStreamIds(a.id, b.id));
}

/** The smallest stream id after `id`. */
export function nextStreamId(id: string): string {
  const [ms = '0', seq = '0'] = id.split('-');
  return `${ms}-${BigInt(seq) + 1n}`;
}

/**
 * Removes the entries up to and including `positions[shard]` (all sealed) from each listed shard:
 * XTRIM MINID removes ids below its argument, and ids only grow, so no unsealed entry can go.
 */
export async function trimShards(redis: Redis, positions: readonly string[], shards: Iterable<number>): Promise<void> {
  // Not a pipeline, for a Redis Cluster (see readShards). A failed trim is retried after the next commit.
  await Promise.allSettled([...shards].map((s) => redis.xtrim(auditStreamKey(s), 'MINID', nextStreamId(positions[s] ?? '0-0'))));
}
