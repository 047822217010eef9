import { createHmac, randomInt } from 'node:crypto';
import { serializeList, type Item, type List } from 'structured-headers';

/**
 * The state of one quota policy for one request, as advertised in `RateLimit-Policy` and
 * `RateLimit` (draft-ietf-httpapi-ratelimit-headers-11, RL-1/RL-2).
 */
export interface PolicyState {
  /** Policy name (an sf-string), e.g. `agent-reads`. */
  name: string;
  /** `q`: the quota. */
  quota: number;
  /** `w`: the window in seconds; absent for the concurrency policy, which has none. */
  windowSeconds?: number;
  /** `qu`: omitted for `requests` (the default unit). */
  unit?: 'concurrent-requests';
  /** `pk`: partition key, a hash (never a raw id or secret, RL-3). */
  partitionKey: Uint8Array;
  /** `r`: what is left of the quota after this request. */
  remaining: number;
  /** `t`: seconds until the window ends; absent for the concurrency policy. */
  resetSeconds?: number;
}

/** Bytes of a partition key: 96 bits of an HMAC, enough to be unique, too short to be worth inverting. */
const PARTITION_KEY_BYTES = 12;

/**
 * The partition key of a budget: HMAC-SHA256 over the parts (e.g. tenant and agent id), keyed
 * with RATE_LIMIT_PK_SALT, truncated. It names the partition without revealing whose it is; with
 * a salt, ids cannot be confirmed by guessing either. Also used for the Redis counter keys.
 */
export function partitionKey(salt: string, ...parts: string[]): Buffer {
  return createHmac('sha256', salt || 'airlock-ratelimit')
    .update(parts.join('\u0000'))
    .digest()
    .subarray(0, PARTITION_KEY_BYTES);
}

/** `RateLimit-Policy`: `"name";q=..;qu="..";w=..;pk=:..:` per policy (RL-1). */
export function rateLimitPolicyHeader(states: readonly PolicyState[]): string {
  const list: List = states.map((s): Item => {
    const params = new Map<string, number | string | Uint8Array>([['q', s.quota]]);
    if (s.unit) params.set('qu', s.unit);
    if (s.windowSeconds !== undefined) params.set('w', s.windowSeconds);
    params.set('pk', s.partitionKey);
    return [s.name, params];
  });
  return serializeList(list);
}

/** `RateLimit`: `"name";r=..;t=..;pk=:..:` per policy (RL-2). */
export function rateLimitHeader(states: readonly PolicyState[]): string {
  const list: List = states.map((s): Item => {
    const params = new Map<string, number | string | Uint8Array>([['r', Math.max(0, s.remaining)]]);
    if (s.resetSeconds !== undefined) params.set('t', s.resetSeconds);
    params.set('pk', s.partitionKey);
    return [s.name, params];
  });
  return serializeList(list);
}

/** Seconds a client should wait after hitting a full concurrency cap (a task has to end first). */
export const CONCURRENCY_RETRY_SECONDS = 2;

/**
 * `Retry-After` delay-seconds for a 429 (RL-5/RL-6): never earlier than the end of the longest
 * violated window, plus a little jitter (up to a tenth of it) so throttled clients do not all
 * come back in the same second.
 */
export function retryAfterSeconds(violated: readonly PolicyState[]): number {
  const base = Math.max(
    1,
    ...violated.map((s) => s.resetSeconds ?? CONCURRENCY_RETRY_SECONDS),
  );
  return base + randomInt(0, Math.floor(base / 10) + 1);
}
