import { createHash } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Redis } from 'ioredis';
import { parseItem } from 'structured-headers';
import { redisKeys } from '../../protocol/redis-keys.ts';
import type { Principal } from '../auth/principal.ts';
import {
  IdempotencyInFlightError,
  IdempotencyKeyInvalidError,
  IdempotencyKeyMissingError,
  IdempotencyKeyReusedError,
} from '../problems.ts';

/** Our published key format (IDEM-2): UUIDs and ULIDs fit. */
const KEY_FORMAT = /^[A-Za-z0-9_-]{1,255}$/;

interface StoredAnswer {
  state: 'in_flight' | 'done';
  fingerprint: string;
  status?: number;
  contentType?: string;
  location?: string;
  body?: string;
}

export interface IdempotencyOptions {
  redis: Redis;
  /** How long a finished answer is replayed. */
  ttlMs: number;
  /** How long an in-flight marker lives if the process dies before answering. */
  inFlightTtlMs: number;
}

/** What a request that passed the idempotency check carries until its answer is stored. */
export interface IdempotencyClaim {
  storeKey: string;
  fingerprint: string;
  /** Rewrites the body before it is stored (e.g. drops a secret that must be shown only once). */
  redact?: ((body: string) => string) | undefined;
}

declare module 'fastify' {
  interface FastifyRequest {
    idempotencyClaim?: IdempotencyClaim;
    /**
     * Set when the request was let past the concurrency cap only because an answer (or a first
     * request in flight) was stored under its key (harness/ratelimit): it may replay, never run.
     */
    idempotencyReplayOnly?: boolean;
  }
}

/**
 * Idempotency-Key handling per draft-ietf-httpapi-idempotency-key-header (IDEM-1..8):
 * - `begin` runs after authentication and validation: it parses the key, scopes it by tenant,
 *   principal, method and route, and either claims it (SET NX) or answers from the store:
 *   replay (same request, done), 409 (same request, in flight), 422 (different request).
 * - `finish` runs on send: it stores the answer, except 4xx answers, which are forgotten so a
 *   corrected retry with the same key is a new request.
 */
export class Idempotency {
  readonly #redis: Redis;
  readonly #ttlMs: number;
  readonly #inFlightTtlMs: number;

  constructor(options: IdempotencyOptions) {
    this.#redis = options.redis;
    this.#ttlMs = options.ttlMs;
    this.#inFlightTtlMs = options.inFlightTtlMs;
  }

  /**
   * Returns a claim to finish later, null when no key was sent and none is required, or
   * 'replayed' when the stored answer was sent.
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
    const storeKey = storeKeyOf(request, principal, key);
    const fingerprint = createHash('sha256')
      .update(`${request.method} ${request.url}\n${canonicalJson(request.body ?? null)}`)
      .digest('hex');
    const claim: StoredAnswer = { state: 'in_flight', fingerprint };
    const ok = await this.#redis.set(storeKey, JSON.stringify(claim), 'PX', this.#inFlightTtlMs, 'NX');
    if (ok === 'OK') {
      if (request.idempotencyReplayOnly) {
        // What was stored under the key when the rate limits looked is gone (expired, or the
        // first request ended 4xx): this request holds no concurrency slot, so it must not run.
        await this.#redis.del(storeKey);
        throw new IdempotencyInFlightError('The earlier request with this key just ended; retry');
      }
      return { storeKey, fingerprint };
    }

    const raw = await this.#redis.get(storeKey);
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
    if (stored.state === 'in_flight') {
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

  /** Stores the answer of every claimed request as it is sent. Register once per scope. */
  registerOnSend(app: FastifyInstance): void {
    app.addHook('onSend', async (request, reply, payload) => {
      const claim = request.idempotencyClaim;
      if (claim) {
        request.idempotencyClaim = undefined;
        await this.finish(claim, reply, payload);
      }
      return payload;
    });
  }

  async finish(claim: IdempotencyClaim, reply: FastifyReply, payload: unknown): Promise<void> {
    if (reply.statusCode >= 400 && reply.statusCode < 500) {
      await this.#redis.del(claim.storeKey);
      return;
    }
    const body = typeof payload === 'string' ? payload : Buffer.isBuffer(payload) ? payload.toString('utf8') : '';
    const answer: StoredAnswer = {
      state: 'done',
      fingerprint: claim.fingerprint,
      status: reply.statusCode,
      contentType: String(reply.getHeader('content-type') ?? 'application/json'),
      ...(reply.getHeader('location') ? { location: String(reply.getHeader('location')) } : {}),
      body: claim.redact ? claim.redact(body) : body,
    };
    await this.#redis.set(claim.storeKey, JSON.stringify(answer), 'PX', this.#ttlMs);
  }
}

/** Where a request's key is stored: scoped by tenant, principal, method and route (IDEM-3). */
function storeKeyOf(request: FastifyRequest, principal: Principal, key: string): string {
  const route = request.routeOptions.url ?? request.url;
  const scope = [principal.tenantId, principal.agentId, request.method, route, key].join('\u0000');
  return redisKeys.idempotency(createHash('sha256').update(scope).digest('hex'));
}

/**
 * The Redis key the request's Idempotency-Key is stored under, or null when it sent none or an
 * invalid one (`begin` answers 400 for that later). Never throws; reads nothing.
 */
export function idempotencyStoreKey(request: FastifyRequest, principal: Principal): string | null {
  try {
    const key = parseKey(request.headers['idempotency-key']);
    return key === null ? null : storeKeyOf(request, principal, key);
  } catch {
    return null;
  }
}

/**
 * The key as an RFC 9651 sf-string (`"..."`), or, for clients that send it bare, a value of
 * the published format. Absent → null. Repeated or unparsable → 400 (IDEM-1).
 */
function parseKey(header: string | string[] | undefined): string | null {
  if (header === undefined) return null;
  if (Array.isArray(header)) throw new IdempotencyKeyInvalidError('Send exactly one Idempotency-Key header');
  let value: unknown = header;
  if (header.startsWith('"')) {
    try {
      value = parseItem(header)[0];
    } catch {
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
