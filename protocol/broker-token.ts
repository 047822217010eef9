/**
 * Broker tokens: how a runner proves to the harness broker that it runs a task attempt now, so it
 * may make that attempt's capability calls (protocol/capability.ts). The runner that starts an
 * attempt makes a random token, keeps it in memory, and stores only its SHA-256 on the task record
 * — and only while the task is running that very attempt. The broker accepts a call when the
 * token hashes to the record's, the attempt matches, and the task is still live. So the token
 * dies with the attempt (a retry on another runner replaces it; a terminal task refuses it), no
 * other runner can learn it from Redis, and it never enters the sandbox or the job payload.
 */
import { hash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Redis } from 'ioredis';
import { LuaScript } from './lua-script.ts';
import { redisKeys } from './redis-keys.ts';

/** `bt_` + 43 base64url characters (256 random bits). */
const TOKEN_FORMAT = /^bt_[A-Za-z0-9_-]{43}$/;

/** Statuses in which a task's calls may run (it awaits its calls while running; issue 11 adds waiting_approval). */
export const CALLABLE_STATUSES: readonly string[] = ['running', 'waiting_approval'];

/*
 * Stores the token's hash only while the task runs exactly this attempt.
 * KEYS: task. ARGV: attempt, sha256. Returns 1 stored, 0 not running that attempt.
 */
const STORE = new LuaScript(`
local rec = redis.call('HMGET', KEYS[1], 'status', 'attempts')
if rec[1] ~= 'running' or rec[2] ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'brokerTokenSha256', ARGV[2])
return 1
`);

export function brokerTokenSha256(token: string): string {
  return hash('sha256', token, 'hex');
}

/**
 * Runner side: makes the token of an attempt it just started and stores its hash on the record.
 * Null when the task is no longer running that attempt (cancelled meanwhile: no calls).
 */
export async function issueBrokerToken(redis: Redis, taskId: string, attempt: number): Promise<string | null> {
  const token = `bt_${randomBytes(32).toString('base64url')}`;
  const stored = await STORE.run(redis, [redisKeys.task(taskId)], [String(attempt), brokerTokenSha256(token)]);
  return stored === 1 ? token : null;
}

/**
 * The SHA-256 of the token in an `Authorization: Bearer <token>` header, when it has the token's
 * form (null otherwise): what the broker's claim script compares with the record's, when it
 * checks the token itself (harness/broker/call-records.ts ClaimChecks).
 */
export function bearerTokenSha256(authorization: string | undefined): string | null {
  const m = /^Bearer ([^\s]+)$/.exec(authorization ?? '');
  return m && TOKEN_FORMAT.test(m[1] as string) ? brokerTokenSha256(m[1] as string) : null;
}

/** Why a broker token was refused (for the broker's audit entry; never shown to the caller). */
export type BrokerTokenRefusal = 'malformed' | 'no_task' | 'not_live' | 'wrong_attempt' | 'wrong_token';

/** The task record fields a token check reads, in this order (one HMGET). */
export const BROKER_TOKEN_FIELDS = ['status', 'attempts', 'brokerTokenSha256'] as const;

/**
 * Harness side: whether `token` is the live token of `taskId`'s attempt `attempt`. Reads the
 * record's status, attempts and token hash (one round trip); compares in constant time.
 */
export async function checkBrokerToken(
  redis: Redis,
  taskId: string,
  attempt: number,
  token: string,
): Promise<{ ok: true } | { ok: false; reason: BrokerTokenRefusal }> {
  if (!TOKEN_FORMAT.test(token)) return { ok: false, reason: 'malformed' };
  const [status, attempts, stored] = await redis.hmget(redisKeys.task(taskId), ...BROKER_TOKEN_FIELDS);
  return verifyBrokerToken({ status: status ?? null, attempts: attempts ?? null, stored: stored ?? null }, attempt, token);
}

/**
 * The same check on fields already read from the record ({@link BROKER_TOKEN_FIELDS}), for a
 * caller that reads them together with other fields of the record in one command.
 */
export function verifyBrokerToken(
  record: { status: string | null; attempts: string | null; stored: string | null },
  attempt: number,
  token: string,
): { ok: true } | { ok: false; reason: BrokerTokenRefusal } {
  if (!TOKEN_FORMAT.test(token)) return { ok: false, reason: 'malformed' };
  const { status, attempts, stored } = record;
  if (status === null) return { ok: false, reason: 'no_task' };
  if (!CALLABLE_STATUSES.includes(status)) return { ok: false, reason: 'not_live' };
  if (attempts !== String(attempt)) return { ok: false, reason: 'wrong_attempt' };
  const given = Buffer.from(brokerTokenSha256(token), 'hex');
  const want = Buffer.from(stored ?? '', 'hex');
  if (want.length !== given.length || !timingSafeEqual(want, given)) return { ok: false, reason: 'wrong_token' };
  return { ok: true };
}
