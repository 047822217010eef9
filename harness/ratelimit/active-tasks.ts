import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { LuaScript } from '../../protocol/lua-script.ts';
import { redisKeys } from '../../protocol/redis-keys.ts';
import { TERMINAL_STATUSES } from '../../protocol/task.ts';

/*
 * Prunes, then admits: drops members that can never be active again (tasks whose record is
 * terminal or gone, reservations older than the cutoff), then adds the member if fewer than the
 * cap remain. One atomic step, one round trip. Task records are read by name (not declared in
 * KEYS): fine on a standalone Redis, which is what Airlock runs on. An empty member only prunes.
 * ARGV: cap, now, member, set TTL ms, reservation cutoff ms, task key prefix, task key suffix,
 * terminal statuses (comma-separated).
 */
const ADMIT = new LuaScript(`
local terminal = {}
for s in string.gmatch(ARGV[8], '[^,]+') do terminal[s] = true end
local members = redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
for i = 1, #members, 2 do
  local m = members[i]
  if string.sub(m, 1, 2) == 'r:' then
    if tonumber(members[i + 1]) < tonumber(ARGV[5]) then redis.call('ZREM', KEYS[1], m) end
  else
    local status = redis.call('HGET', ARGV[6] .. m .. ARGV[7], 'status')
    if (not status) or terminal[status] then redis.call('ZREM', KEYS[1], m) end
  end
end
local n = redis.call('ZCARD', KEYS[1])
if ARGV[3] == '' or n >= tonumber(ARGV[1]) then return {0, n} end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return {1, n + 1}
`);

/** `airlock:task:{` and `}`: the task key around an id, from protocol (kept in sync by construction). */
const [TASK_KEY_PREFIX = '', TASK_KEY_SUFFIX = ''] = redisKeys.task('\u0000').split('\u0000');
const TERMINAL_LIST = [...TERMINAL_STATUSES].join(',');

/* Replaces a reservation by the task it became. */
const CONFIRM = new LuaScript(`
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return 1
`);

const RESERVATION_PREFIX = 'r:';

export interface ActiveTasksOptions {
  redis: Redis;
  /**
   * How long a reservation (a create request in progress) may hold a slot before it is presumed
   * lost (process died mid-request). Must cover the longest `wait` a POST can hold.
   */
  reservationTtlMs: number;
  /** How long an agent's set lives after its last admission (longer than any task lives). */
  setTtlMs: number;
}

/** A slot held by a create request until it answers. */
export interface Reservation {
  key: string;
  member: string;
}

/**
 * Counts an agent's active (queued or running) tasks to cap them, without a counter that could
 * leak: the set holds the ids of the tasks admitted, and before each admission the ids whose task
 * is terminal or gone (expired) are pruned. Every way a task ends — finishing, failing, timing
 * out, cancel while queued or running, a lost job failed by the reconciler — is a terminal
 * status in the task store, so nothing needs to decrement anything, and retries of the same job
 * never add a member (only an accepted create does).
 *
 * A create request first reserves a slot (`r:<uuid>`, scored with its time); when it answers 201
 * the reservation becomes the task id, otherwise it is released. A reservation whose request
 * never answered (crash) is pruned after `reservationTtlMs`.
 */
export class ActiveTasks {
  readonly #redis: Redis;
  readonly #reservationTtlMs: number;
  readonly #setTtlMs: number;

  constructor(options: ActiveTasksOptions) {
    this.#redis = options.redis;
    this.#reservationTtlMs = options.reservationTtlMs;
    this.#setTtlMs = options.setTtlMs;
  }

  static key(partition: string): string {
    return `airlock:ratelimit:active:${partition}`;
  }

  /**
   * Reserves a slot if fewer than `cap` are taken. Returns the count after the call (including
   * the new reservation when admitted).
   */
  async admit(partition: string, cap: number): Promise<{ reservation: Reservation | null; active: number }> {
    const key = ActiveTasks.key(partition);
    const member = `${RESERVATION_PREFIX}${randomUUID()}`;
    const [admitted, active] = await this.#run(key, cap, member);
    return { reservation: admitted === 1 ? { key, member } : null, active };
  }

  /** The reservation's request created `taskId`: the task now holds the slot until it ends. */
  async confirm(reservation: Reservation, taskId: string): Promise<void> {
    await CONFIRM.run(this.#redis, [reservation.key], [reservation.member, Date.now(), taskId, this.#setTtlMs]);
  }

  /** The reservation's request created nothing: free the slot. */
  async release(reservation: Reservation): Promise<void> {
    await this.#redis.zrem(reservation.key, reservation.member);
  }

  /** Members counted now, after pruning (for tests and diagnostics). */
  async count(partition: string): Promise<number> {
    return (await this.#run(ActiveTasks.key(partition), 0, ''))[1];
  }

  async #run(key: string, cap: number, member: string): Promise<[number, number]> {
    const now = Date.now();
    return (await ADMIT.run(
      this.#redis,
      [key],
      [cap, now, member, this.#setTtlMs, now - this.#reservationTtlMs, TASK_KEY_PREFIX, TASK_KEY_SUFFIX, TERMINAL_LIST],
    )) as [number, number];
  }
}
