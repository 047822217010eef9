import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import { z } from 'zod';

/**
 * How harness and runner reach Redis, in one place: a standalone server (`REDIS_URL`) or a Redis
 * Cluster (`REDIS_CLUSTER_NODES`, managed or self-run), and the prefix of every BullMQ key.
 * See docs/scaling.md.
 */

/**
 * BullMQ's key prefix (`<prefix>:<queue>:…`). BullMQ's scripts touch several keys of a queue at
 * once, so on a Redis Cluster the prefix must be a hash tag (`{airlock}`): every key of every
 * queue then lives in one slot. On a standalone Redis the default stays BullMQ's own (`bull`),
 * so an upgrade finds the jobs already queued; changing it on a live installation orphans them.
 */
export const DEFAULT_QUEUE_PREFIX = 'bull';
export const CLUSTER_QUEUE_PREFIX = '{airlock}';

/** Whether `prefix` holds a hash tag (a non-empty `{…}`): the part Redis Cluster hashes. */
export function hasHashTag(prefix: string): boolean {
  return /\{[^{}]+\}/.test(prefix);
}

/** `host:port` or `redis://host:port` entries, comma-separated; empty = not a cluster. */
export const ClusterNodesSchema = z
  .string()
  .default('')
  .transform((v, ctx) =>
    v
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean)
      .map((entry) => {
        const url = new URL(entry.includes('://') ? entry : `redis://${entry}`);
        const port = Number(url.port || 6379);
        if (!url.hostname || !Number.isInteger(port)) {
          ctx.addIssue({ code: 'custom', message: `not host:port: ${entry}` });
          return { host: '', port: 0 };
        }
        return { host: url.hostname, port };
      }),
  );
export type ClusterNodes = z.infer<typeof ClusterNodesSchema>;

export interface RedisConnectionConfig {
  REDIS_URL: string;
  /** Seed nodes of a Redis Cluster; empty = the standalone server at REDIS_URL. */
  REDIS_CLUSTER_NODES?: ClusterNodes;
}

/**
 * A client for the configured Redis: an ioredis `Cluster` (following MOVED/ASK redirections and
 * topology changes) when cluster nodes are configured, else a `Redis` on REDIS_URL. `options`
 * apply to every connection either way (for a cluster: each node's). The user name and password
 * of REDIS_URL are used for the cluster's nodes too (one ACL user per role, as on a standalone
 * server).
 */
export function createRedisClient(config: RedisConnectionConfig, options: RedisOptions = {}): Redis | Cluster {
  const nodes = config.REDIS_CLUSTER_NODES ?? [];
  if (nodes.length === 0) return new Redis(config.REDIS_URL, options);
  const url = new URL(config.REDIS_URL);
  const auth: RedisOptions = {
    ...(url.username ? { username: decodeURIComponent(url.username) } : {}),
    ...(url.password ? { password: decodeURIComponent(url.password) } : {}),
  };
  const clusterOptions: ClusterOptions = {
    // Each node's connection gets the options (BullMQ checks maxRetriesPerRequest there too);
    // the offline queue is also the cluster's own, in front of the node connections.
    redisOptions: { ...auth, ...options },
    ...(options.enableOfflineQueue !== undefined ? { enableOfflineQueue: options.enableOfflineQueue } : {}),
  };
  return new Cluster(nodes, clusterOptions);
}

/**
 * The client as the stores see it. They are written against ioredis' command API, which `Redis`
 * and `Cluster` share (a Cluster routes each command, and each script by its declared keys, to
 * the node serving its slot); what differs — `duplicate` — goes through duplicateClient. That
 * they run unchanged on a real cluster is what test/integration/cluster-stack.test.ts checks.
 */
export function asCommandClient(client: Redis | Cluster): Redis {
  return client as Redis;
}

/**
 * A second connection like `client` (for a subscriber or a blocking consumer), with `options`
 * on top of its own. `Redis#duplicate(options)` and `Cluster#duplicate(nodes, options)` differ:
 * an options object given to the latter would be taken for its node list.
 */
export function duplicateClient(client: Redis | Cluster, options: RedisOptions = {}): Redis {
  if (client instanceof Cluster) {
    return asCommandClient(
      client.duplicate([], {
        redisOptions: { ...client.options.redisOptions, ...options },
        ...(options.enableOfflineQueue !== undefined ? { enableOfflineQueue: options.enableOfflineQueue } : {}),
      }),
    );
  }
  return client.duplicate(options);
}

/** Config refinement: on a cluster, a queue prefix without a hash tag cannot work. */
export function checkQueuePrefix(c: RedisConnectionConfig & { AIRLOCK_QUEUE_PREFIX?: string | undefined }, ctx: z.RefinementCtx): void {
  if ((c.REDIS_CLUSTER_NODES ?? []).length > 0 && c.AIRLOCK_QUEUE_PREFIX !== undefined && !hasHashTag(c.AIRLOCK_QUEUE_PREFIX)) {
    ctx.addIssue({
      code: 'custom',
      path: ['AIRLOCK_QUEUE_PREFIX'],
      message: `on a Redis Cluster it must hold a hash tag, e.g. ${CLUSTER_QUEUE_PREFIX} (or leave it unset)`,
    });
  }
}

/** The BullMQ `prefix` option for this configuration (see DEFAULT_QUEUE_PREFIX). */
export function queuePrefixFor(config: RedisConnectionConfig, configured: string | undefined): string {
  return configured ?? ((config.REDIS_CLUSTER_NODES ?? []).length > 0 ? CLUSTER_QUEUE_PREFIX : DEFAULT_QUEUE_PREFIX);
}

/**
 * Calls `issue`, which sends several commands without awaiting between them, with the
 * connection's socket corked: the commands leave in one write instead of one each. Each write to
 * Redis wakes it and costs the writer a system call; commands that arrive together are also
 * answered together, so the caller is woken once for all the replies. Results are the same
 * either way. On a Cluster (a connection per node) it only calls `issue`.
 */
export function inOneWrite<T>(client: Redis | Cluster, issue: () => T): T {
  // `stream` is unset until the first connection attempt.
  const socket = client instanceof Cluster ? undefined : (client.stream as Redis['stream'] | undefined);
  if (!socket) return issue();
  socket.cork();
  try {
    return issue();
  } finally {
    socket.uncork();
  }
}
