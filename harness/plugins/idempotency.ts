import { createHash, randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Redis } from 'ioredis';
import { parseItem } from 'structured-headers';
import { LuaScript } from '../../protocol/lua-script.ts';
import { redisKeys, taskKeyPart } from '../../protocol/redis-keys.ts';
import type { TaskBinding } from '../../protocol/task-store.ts';
import type { Principal } from '../auth/principal.ts';
import {
  IdempotencyInFlightError,
  IdempotencyKeyInvalidError,
  IdempotencyKeyMissingError,
  IdempotencyKeyReusedError,
} from '../problems.ts';

/** Our published key format (IDEM-2): UUIDs and ULIDs fit. */
const KEY_FORMAT = /^[A-Za-z0-9_-]{1,255}$/;

/**
 * What is stored under a key (JSON; `fingerprint` is also read by the task store's bound
 * create, protocol/task-store.ts — keep the member name in sync):
 * - `claimed`: a request holds the key and has created nothing yet. A lease: it expires after
 *   `claimTtlMs`, so a holder that died frees the key within seconds, not minutes.
 * - `bound`: the task of the key exists (`taskId`). Written in the same atomic step as the task
 *   record (TaskStore.createBound) and kept `ttlMs`: from then on every retry answers with that
 *   task, whatever became of the request that created it.
 * - `done`: the first answer, stored for replay (2xx only).
 */
interface StoredAnswer {
  state: 'claimed' | 'bound' | 'done';
  fingerprint: string;
  /** Random per claim, so a holder releases only its own claim. */
  token?: string;
  taskId?: string;
  status?: number;
  contentType?: string;
  location?: string;
  body?: string;
}

/* Deletes the key only while it still holds exactly this claim (not a bound task, not another's claim). */
const RELEASE = new LuaScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`);

export interface IdempotencyOptions {
  redis: Redis;
  /** How long a finished answer, or the binding of a key to its task, is kept. */
  ttlMs: number;
  /**
   * How long a claim lives before the request made anything (validation, policy, mounts): the
   * longest a holder that died blocks its key. @defaultValue 15 000
   */
  claimTtlMs?: number | undefined;
}

/** What a request that passed the idempotency check carries until its answer is stored. */
export interface IdempotencyClaim {
  storeKey: string;
  fingerprint: string;
  /** The id of the task a task-creating request makes (derived from the scoped key). */
  boundId: string;
  /** The stored claim (JSON) when this request holds it; null when it joins a bound task. */
  claimValue: string | null;
  /** Rewrites the body before it is stored (e.g. drops a secret that must be shown only once). */
  redact?: ((body: string) => string) | undefined;
  /**
   * Set once the request's key was handed to the task store as a binding (`bindingOf`): the key
   * then names its task, and every retry answers with that task as it is now, so no answer body
   * is stored (a task's answer can hold megabytes of output, which would be a second copy).
   */
  bound?: boolean;
}

declare module 'fastify' {
  interface FastifyRequest {
    idempotencyClaim?: IdempotencyClaim;
    /**
     * Set when the request was let past the concurrency cap only because something was stored
     * under its key (harness/ratelimit): it may replay or join that task, never create one.
     */
    idempotencyReplayOnly?: boolean;
  }
}

/**
 * Idempotency-Key handling per draft-ietf-httpapi-idempotency-key-header (IDEM-1..8):
 * - `begin` runs after authentication and validation: it parses the key, scopes it by tenant,
 *   principal, method and route, and either claims it (SET NX, a short lease) or answers from
 *   the store: replay (same request, done), join (same request, its task exists: the route
 *   answers with the task as it is now), 409 (same request, nothing made yet), 422 (different
 *   request).
 * - a task-creating route binds the key to its task in the task's own atomic write (see
 *   `bindingOf`); the task id is derived from the scoped key, so every replica finds it.
 * - `finish` runs on send: the holder stores a 2xx answer; any other answer releases its claim
 *   (4xx: a corrected retry is a new request; 5xx: a transient failure is never replayed) —
 *   a key already bound to a task stays bound.
 */
export class Idempotency {
  readonly #redis: Redis;
  readonly #ttlMs: number;
  readonly #claimTtlMs: number;

  constructor(options: IdempotencyOptions) {
    this.#redis = options.redis;
    this.#ttlMs = options.ttlMs;
    this.#claimTtlMs = options.claimTtlMs ?? 15_000;
  }

  /**
   * Returns a claim to finish later (also for a request that joins a bound task), null when
   * no key was sent and none is required, or 'replayed' when the stored answer was sent.
   */
  async begin(
    request: FastifyRequest,
    reply: FastifyReply,
    principal: Principal,
    required: boolean,
  ): Promise<IdempotencyClaim | null | 'replayed'> {
    const key = parseKey(request.headers['idempotency-key']);
    if (key === null) {
      if (required) {
        throw new IdempotencyKeyMissingError(
          'Send an Idempotency-Key header (a quoted UUID, e.g. Idempotency-Key: "8e03978e-...") on this request',
        );
      }
      return null;
    }
    const { storeKey, boundId } = scopedKey(request, principal, key);
    const fingerprint = createHash('sha256')
      .update(`${request.method} ${request.url}\n${canonicalJson(request.body ?? null)}`)
      .digest('hex');
    const claimed: StoredAnswer = { state: 'claimed', fingerprint, token: randomUUID() };
    const claimValue = JSON.stringify(claimed);
    const ok = await this.#redis.set(storeKey, claimValue, 'PX', this.#claimTtlMs, 'NX');
    if (ok === 'OK') {
      if (request.idempotencyReplayOnly) {
        // What was stored under the key when the rate limits looked is gone (expired, or the
        // first request ended 4xx/5xx): this request holds no concurrency slot, so it must not run.
        await RELEASE.run(this.#redis, [storeKey], [claimValue]);
        throw new IdempotencyInFlightError('The earlier request with this key just ended; retry');
      }
      return { storeKey, fingerprint, boundId, claimValue };
    }

    const [raw, ttlMs] = await Promise.all([this.#redis.get(storeKey), this.#redis.pttl(storeKey)]);
    if (raw === null) {
      // Expired between the two calls: the caller may simply retry.
      throw new IdempotencyInFlightError('The earlier request with this key just ended; retry');
    }
    const stored = JSON.parse(raw) as StoredAnswer;
    if (stored.fingerprint !== fingerprint) {
      throw new IdempotencyKeyReusedError(
        'This Idempotency-Key was used for a different request; use a new key for a new request',
      );
    }
    if (stored.state === 'bound') return { storeKey, fingerprint, boundId, claimValue: null };
    if (stored.state !== 'done') {
      reply.header('retry-after', String(Math.max(1, Math.ceil(ttlMs / 1000))));
      throw new IdempotencyInFlightError('A request with this Idempotency-Key is still being processed; retry later');
    }
    reply.code(stored.status ?? 200).header('idempotent-replayed', 'true');
    if (stored.contentType) reply.header('content-type', stored.contentType);
    if (stored.location) reply.header('location', stored.location);
    await reply.send(stored.body ?? '');
    return 'replayed';
  }

  /**
   * For a write route's handler: claims the key (stored on the request for `registerOnSend`) or
   * sends the stored answer. Returns true when the answer was replayed and the handler must stop.
   */
  async guard(
    request: FastifyRequest,
    reply: FastifyReply,
    principal: Principal,
    required: boolean,
    options: { redact?: (body: string) => string } = {},
  ): Promise<boolean> {
    const result = await this.begin(request, reply, principal, required);
    if (result && result !== 'replayed') request.idempotencyClaim = { ...result, redact: options.redact };
    return result === 'replayed';
  }

  /**
   * How a task-creating request binds its key to its task: the task id, and the marker the task
   * store writes in the same atomic step as the task record (TaskStore.createBound).
   */
  bindingOf(claim: IdempotencyClaim): { taskId: string; binding: TaskBinding } {
    claim.bound = true;
    const bound: StoredAnswer = { state: 'bound', fingerprint: claim.fingerprint, taskId: claim.boundId };
    return {
      taskId: claim.boundId,
      binding: { key: claim.storeKey, fingerprint: claim.fingerprint, value: JSON.stringify(bound), ttlMs: this.#ttlMs },
    };
  }

  /** Stores the answer of every claimed request as it is sent. Register once per scope. */
  registerOnSend(app: FastifyInstance): void {
    app.addHook('onSend', async (request, reply, payload) => {
      const claim = request.idempotencyClaim;
      if (claim) {
        request.idempotencyClaim = undefined;
        // Storing is best effort: the answer goes out either way (a 503 from a Redis that just
        // went away must not turn into a 500). Unstored, a retry joins the key's task, or gets
        // 409 until the claim's lease ends.
        await this.finish(claim, reply, payload).catch((err: unknown) =>
          request.log.warn({ err }, 'the idempotency answer could not be stored'),
        );
      }
      return payload;
    });
  }

  async finish(claim: IdempotencyClaim, reply: FastifyReply, payload: unknown): Promise<void> {
    // A request that joined a bound task answers from the task and stores nothing: the first
    // request's answer (if it ever comes) is the one kept.
    if (claim.claimValue === null) return;
    // A key bound to its task stays bound: retries answer from the task, nothing is stored.
    if (claim.bound && reply.statusCode < 400) return;
    if (reply.statusCode >= 400) {
      // Not stored: a 4xx is corrected and retried as a new request; a 5xx is transient and
      // must not be replayed for a day. A key already bound to its task stays bound.
      await RELEASE.run(this.#redis, [claim.storeKey], [claim.claimValue]);
      return;
    }
    const body = typeof payload === 'string' ? payload : Buffer.isBuffer(payload) ? payload.toString('utf8') : '';
    const location = reply.getHeader('location');
    const answer: StoredAnswer = {
      state: 'done',
      fingerprint: claim.fingerprint,
      status: reply.statusCode,
      contentType: String(reply.getHeader('content-type') ?? 'application/json'),
      ...(location ? { location: String(location) } : {}),
      body: claim.redact ? claim.redact(body) : body,
    };
    await this.#redis.set(claim.storeKey, JSON.stringify(answer), 'PX', this.#ttlMs);
  }
}

/**
 * Where a request's key is stored, scoped by tenant, principal, method and route (IDEM-3), and
 * the id of the task it creates (task routes): a UUIDv8 (RFC 9562 §5.8) from a hash of the same
 * scope, so a retry on any replica, before or after a crash, names the same task, and nobody
 * else's key can name it. The store key carries that id's hash tag (taskKeyPart), so the marker, the task
 * hash and its events share a cluster slot (one atomic step, see TaskStore.createBound).
 */
function scopedKey(request: FastifyRequest, principal: Principal, key: string): { storeKey: string; boundId: string } {
  const route = request.routeOptions.url ?? request.url;
  const scope = [principal.tenantId, principal.agentId, request.method, route, key].join('\u0000');
  const boundId = uuidV8(createHash('sha256').update(`airlock/idempotency/v2\u0000${scope}`).digest());
  return { storeKey: redisKeys.idempotency(taskKeyPart(boundId)), boundId };
}

/** A UUIDv8 from the first 16 bytes of a hash: version 8, variant 10, the rest hash bits. */
function uuidV8(hash: Buffer): string {
  const b = Buffer.from(hash.subarray(0, 16));
  b[6] = (b[6]! & 0x0f) | 0x80;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const hex = b.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/**
 * The Redis key the request's Idempotency-Key is stored under, or null when it sent none or an
 * invalid one (`begin` answers 400 for that later). Never throws; reads nothing.
 */
export function idempotencyStoreKey(request: FastifyRequest, principal: Principal): string | null {
  try {
    const key = parseKey(request.headers['idempotency-key']);
    return key === null ? null : scopedKey(request, principal, key).storeKey;
  } catch {
    return null;
  }
}

/**
 * The key as an RFC 9651 sf-string (`"..."`), or, for clients that send it bare, a value of
 * the published format. Absent → null. Repeated, unparsable or with parameters (`"abc";x=1`,
 * which must not silently mean `"abc"`) → 400 (IDEM-1).
 */
function parseKey(header: string | string[] | undefined): string | null {
  if (header === undefined) return null;
  if (Array.isArray(header)) throw new IdempotencyKeyInvalidError('Send exactly one Idempotency-Key header');
  let value: unknown = header;
  if (header.startsWith('"')) {
    try {
      const [item, params] = parseItem(header);
      if (params.size > 0) {
        throw new IdempotencyKeyInvalidError(
          'Idempotency-Key must be a plain string without parameters (nothing after the closing quote)',
        );
      }
      value = item;
    } catch (err) {
      if (err instanceof IdempotencyKeyInvalidError) throw err;
      value = null;
    }
  }
  if (typeof value !== 'string' || !KEY_FORMAT.test(value)) {
    throw new IdempotencyKeyInvalidError(
      'Idempotency-Key must be 1-255 characters of A-Z a-z 0-9 _ - (a UUID is recommended), sent once',
    );
  }
  return value;
}

/** JSON with object keys sorted, so semantically equal bodies fingerprint the same. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value ?? null);
}

/**
 * For `guard`'s `redact`: an answer that carried a secret (`secret`: an API key, a webhook
 * signing secret) is stored with `secret: null`, so a replay never shows it and the secret
 * exists only in the first answer, never in Redis.
 */
export function redactSecret(body: string): string {
  try {
    const parsed = JSON.parse(body) as Record<string, unknown>;
    if ('secret' in parsed) parsed['secret'] = null;
    return JSON.stringify(parsed);
  } catch {
    return body;
  }
}
