import { randomUUID } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';
import { LuaScript } from '../../protocol/lua-script.ts';
import { redisKeys, taskKeyPart } from '../../protocol/redis-keys.ts';
import { TERMINAL_STATUSES, type TaskStatus } from '../../protocol/task.ts';

/*
 * Prunes, then adds: drops members that can never be active again (reservations older than the
 * cutoff, and the task ids the caller found terminal or gone), adds the member, and returns how
 * many members there are then. The caller compares that with the cap (which it learns in the
 * same round trip, so the script cannot know it) and removes the member again when it is over: a
 * request is admitted only if, counting itself, at most `cap` were there when it was added, so
 * concurrent admissions never exceed the cap (at worst one is refused while another's refused
 * member is still being removed). An empty member only prunes.
 *
 * The task records are read by the caller, one command each, not here: a script may only touch
 * the keys it declares, and on a Redis Cluster each task's record lives in a slot of its own
 * (this script touches only the set). Reading first is safe because both verdicts are final (a
 * terminal status never changes; an expired task never comes back), and members added meanwhile
 * are simply not in the list.
 * ARGV: now, member, set TTL ms, reservation cutoff ms, then the task ids to drop.
 */
const ADMIT = new LuaScript(`
local members = redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
for i = 1, #members, 2 do
  local m = members[i]
  if string.sub(m, 1, 2) == 'r:' and tonumber(members[i + 1]) < tonumber(ARGV[4]) then redis.call('ZREM', KEYS[1], m) end
end
for i = 5, #ARGV do redis.call('ZREM', KEYS[1], ARGV[i]) end
if ARGV[2] ~= '' then
  redis.call('ZADD', KEYS[1], ARGV[1], ARGV[2])
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
end
return redis.call('ZCARD', KEYS[1])
`);

/**
 * `airlock:task:`: members are the task-key part after it (`{s07}:<id>`, protocol's
 * `taskKeyPart`): the hash tag depends on the id. The record of member `m` is this + `m`.
 */
const TASK_KEY_PREFIX = redisKeys.task('x').slice(0, -taskKeyPart('x').length);

/* Replaces a reservation by the task it became. */
const CONFIRM = new LuaScript(`
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return 1
`);

const RESERVATION_PREFIX = 'r:';

export interface ActiveTasksOptions {
  /** A standalone Redis or a Redis Cluster. */
  redis: Redis | Cluster;
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
  readonly #redis: Redis | Cluster;
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

  /**
   * Reads which admitted tasks have ended (the set's task ids, then each one's status: one
   * command per record, sent together; on a cluster each goes to its own node), then prunes them
   * and adds `member` in one step. Three round trips; an agent with no task in the set skips
   * the status reads.
   */
  async #run(key: string, member: string): Promise<number> {
    const taskIds = (await this.#redis.zrange(key, 0, -1)).filter((m) => !m.startsWith(RESERVATION_PREFIX));
    const statuses = await Promise.all(taskIds.map((m) => this.#redis.hget(`${TASK_KEY_PREFIX}${m}`, 'status')));
    const ended = taskIds.filter((_, i) => {
      const status = statuses[i];
      return status === null || status === undefined || TERMINAL_STATUSES.has(status as TaskStatus);
    });
    const now = Date.now();
    return (await ADMIT.run(this.#redis, [key], [now, member, this.#setTtlMs, now - this.#reservationTtlMs, ...ended])) as number;
  }
}
