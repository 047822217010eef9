import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { LuaScript } from '../../protocol/lua-script.ts';
import { redisKeys, taskKeyPart } from '../../protocol/redis-keys.ts';
import { TERMINAL_STATUSES } from '../../protocol/task.ts';

/*
 * Prunes, then adds: drops members that can never be active again (tasks whose record is
 * terminal or gone, reservations older than the cutoff), adds the member, and returns how many
 * members there are then. The caller compares that with the cap (which it learns in the same
 * round trip, so the script cannot know it) and removes the member again when it is over: a
 * request is admitted only if, counting itself, at most `cap` were there when it was added, so
 * concurrent admissions never exceed the cap (at worst one is refused while another's refused
 * member is still being removed). One atomic step, one round trip. Task records are read by name
 * (not declared in KEYS): fine on a standalone Redis, which is what Airlock runs on. An empty
 * member only prunes.
 * ARGV: now, member, set TTL ms, reservation cutoff ms, task key prefix, (unused), terminal
 * statuses (comma-separated).
 */
const ADMIT = new LuaScript(`
local terminal = {}
for s in string.gmatch(ARGV[7], '[^,]+') do terminal[s] = true end
local members = redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
for i = 1, #members, 2 do
  local m = members[i]
  if string.sub(m, 1, 2) == 'r:' then
    if tonumber(members[i + 1]) < tonumber(ARGV[4]) then redis.call('ZREM', KEYS[1], m) end
  else
    local status = redis.call('HGET', ARGV[5] .. m, 'status')
    if (not status) or terminal[status] then redis.call('ZREM', KEYS[1], m) end
  end
end
if ARGV[2] ~= '' then
  redis.call('ZADD', KEYS[1], ARGV[1], ARGV[2])
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
end
return redis.call('ZCARD', KEYS[1])
`);

/**
 * `airlock:task:`: members are the task-key part after it (`{s07}:<id>`, protocol's
 * `taskKeyPart`): the hash tag depends on the id, and Lua cannot compute it.
 */
const TASK_KEY_PREFIX = redisKeys.task('x').slice(0, -taskKeyPart('x').length);
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
   * Reserves a slot if, with it, at most `cap` are taken (`cap` may still be unknown when this
   * is called: it is a promise resolved in the same round trip). Returns the count after the
   * call (including the new reservation when admitted).
   */
  async admit(partition: string, cap: number | Promise<number>): Promise<{ reservation: Reservation | null; active: number }> {
    const key = ActiveTasks.key(partition);
    const member = `${RESERVATION_PREFIX}${randomUUID()}`;
    const [n, limit] = await Promise.all([this.#run(key, member), cap]);
    if (n <= limit) return { reservation: { key, member }, active: n };
    await this.#redis.zrem(key, member);
    return { reservation: null, active: n - 1 };
  }

  /** The reservation's request created `taskId`: the task now holds the slot until it ends. */
  async confirm(reservation: Reservation, taskId: string): Promise<void> {
    await CONFIRM.run(this.#redis, [reservation.key], [reservation.member, Date.now(), taskKeyPart(taskId), this.#setTtlMs]);
  }

  /** The reservation's request created nothing: free the slot. */
  async release(reservation: Reservation): Promise<void> {
    await this.#redis.zrem(reservation.key, reservation.member);
  }

  /** Members counted now, after pruning (for tests and diagnostics). */
  async count(partition: string): Promise<number> {
    return this.#run(ActiveTasks.key(partition), '');
  }

  async #run(key: string, member: string): Promise<number> {
    const now = Date.now();
    return (await ADMIT.run(
      this.#redis,
      [key],
      [now, member, this.#setTtlMs, now - this.#reservationTtlMs, TASK_KEY_PREFIX, '', TERMINAL_LIST],
    )) as number;
  }
}
