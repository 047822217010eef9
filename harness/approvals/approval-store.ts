/**
 * Approval requests in Redis (protocol/approval.ts keys, all in the tenant's slot):
 * - find-or-create by call key (CREATE): a resent or retried call finds its request, never a second;
 * - a request leaves `pending` once (SETTLE): approve/deny only before its deadline, expire only
 *   after it, cancel any time; the clock is Redis's own (TIME), so every harness agrees on when a
 *   deadline passed and nobody approves during an expiry;
 * - expiry happens on read: reading or listing a request past its deadline expires it first;
 * - every move out of `pending` is published on APPROVALS_CHANNEL (the broker's waiting calls)
 *   and appended to the task's events (protocol/task-approval-events.ts).
 */
import type { Redis } from 'ioredis';
import {
  APPROVALS_CHANNEL,
  ApprovalRequestSchema,
  approvalKeys,
  ApprovalStatusSchema,
  type Approval,
  type ApprovalRequest,
  type ApprovalStatus,
} from '../../protocol/approval.ts';
import { LuaScript } from '../../protocol/lua-script.ts';
import { redisKeys } from '../../protocol/redis-keys.ts';
import { appendApprovalDecided, appendApprovalRequested } from '../../protocol/task-approval-events.ts';

/* KEYS: call mapping, record, pending zset, deadlines zset, task set. ARGV: id, request JSON, createdMs, deadlineMs, ttl ms. */
const CREATE = new LuaScript(`
local existing = redis.call('GET', KEYS[1])
if existing then return {0, existing} end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[5])
redis.call('HSET', KEYS[2], 'request', ARGV[2], 'status', 'pending', 'createdMs', ARGV[3], 'deadlineMs', ARGV[4])
redis.call('PEXPIRE', KEYS[2], ARGV[5])
redis.call('ZADD', KEYS[3], ARGV[3], ARGV[1])
redis.call('ZADD', KEYS[4], ARGV[4], ARGV[1])
redis.call('SADD', KEYS[5], ARGV[1])
redis.call('PEXPIRE', KEYS[5], ARGV[5])
return {1, ARGV[1]}
`);

/*
 * KEYS: record, deadlines, pending zset, target zset, expired zset.
 * ARGV: to, mode (decide | expire | cancel), decidedBy, reason, channel, id.
 * Returns {-1} missing, {0, status} not moved (not pending, or not yet due for expire),
 * {1, status} moved — `expired` when a decision came at or after the deadline.
 */
const SETTLE = new LuaScript(`
local st = redis.call('HGET', KEYS[1], 'status')
if not st then return {-1} end
if st ~= 'pending' then return {0, st} end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local deadline = tonumber(redis.call('HGET', KEYS[1], 'deadlineMs'))
local to = ARGV[1]
local mode = ARGV[2]
if mode == 'expire' and now < deadline then return {0, 'pending'} end
if mode == 'decide' and now >= deadline then to = 'expired' end
local target = KEYS[4]
if to == 'expired' then target = KEYS[5] end
redis.call('HSET', KEYS[1], 'status', to, 'decidedAtMs', tostring(now))
if to == 'approved' or to == 'denied' then
  redis.call('HSET', KEYS[1], 'decidedBy', ARGV[3])
  if ARGV[4] ~= '' then redis.call('HSET', KEYS[1], 'reason', ARGV[4]) end
end
local created = redis.call('HGET', KEYS[1], 'createdMs')
redis.call('ZREM', KEYS[3], ARGV[6])
redis.call('ZREM', KEYS[2], ARGV[6])
redis.call('ZADD', target, created, ARGV[6])
redis.call('PUBLISH', ARGV[5], ARGV[6] .. ' ' .. to)
return {1, to}
`);

export type SettleMode = 'decide' | 'expire' | 'cancel';
export type SettleResult =
  | { outcome: 'moved'; approval: Approval }
  | { outcome: 'refused'; approval: Approval }
  | { outcome: 'missing' };

export interface ApprovalStoreOptions {
  /** How long a request is kept after its deadline (the tasks' retention). */
  retentionMs: number;
  /** Told of each request made and each one leaving `pending` (harness metrics). */
  observer?: ApprovalObserver;
}

export interface ApprovalObserver {
  requested(): void;
  /** `approval` as it now is (decidedAt set when decided). */
  resolved(approval: Approval, status: Exclude<ApprovalStatus, 'pending'>, mode: SettleMode): void;
}

export class ApprovalStore {
  readonly #redis: Redis;
  readonly #retentionMs: number;
  readonly #observer: ApprovalObserver | null;

  constructor(redis: Redis, options: ApprovalStoreOptions) {
    this.#redis = redis;
    this.#retentionMs = options.retentionMs;
    this.#observer = options.observer ?? null;
  }

  /** The request of a call key, if one was made (expired first if past its deadline). */
  async findByCall(tenantId: string, callKey: string): Promise<Approval | null> {
    const id = await this.#redis.get(approvalKeys.call(tenantId, callKey));
    return id ? this.get(tenantId, id) : null;
  }

  /**
   * Creates the request of a call unless its call key already has one (answered then, as it is
   * now). A new request is announced on the task's events.
   */
  async create(request: ApprovalRequest): Promise<{ created: boolean; approval: Approval }> {
    const { tenantId } = request;
    const createdMs = Date.parse(request.createdAt);
    const deadlineMs = Date.parse(request.deadline);
    const ttlMs = Math.max(1, deadlineMs - Date.now()) + this.#retentionMs;
    const [created, id] = (await CREATE.run(
      this.#redis,
      [
        approvalKeys.call(tenantId, request.callKey),
        approvalKeys.record(tenantId, request.id),
        approvalKeys.byStatus(tenantId, 'pending'),
        approvalKeys.deadlines(tenantId),
        approvalKeys.ofTask(tenantId, request.taskId),
      ],
      [request.id, JSON.stringify(request), createdMs, deadlineMs, ttlMs],
    )) as [number, string];
    if (created === 1) {
      this.#observer?.requested();
      await appendApprovalRequested(this.#redis, request.taskId, {
        type: 'approval_requested',
        approvalId: request.id,
        capability: request.capability,
        seq: request.seq,
        deadline: request.deadline,
        at: request.createdAt,
      });
      return { created: true, approval: { ...request, status: 'pending' } };
    }
    const approval = await this.get(tenantId, id);
    if (!approval) throw new Error(`approval ${id} of call ${request.callKey} vanished`);
    return { created: false, approval };
  }

  /** One request of the tenant (another tenant's is null, like an unknown id), made {@link fresh}. */
  async get(tenantId: string, id: string): Promise<Approval | null> {
    const approval = await this.#read(tenantId, id);
    return approval ? this.fresh(approval) : null;
  }

  /**
   * `approval` (read earlier) with its state as it is now: only the fields a decision changes are
   * read (the request itself never changes), so a waiting call looks again without re-reading
   * and re-checking the request with its code. Null when the record is gone.
   */
  async refresh(approval: Approval): Promise<Approval | null> {
    const [status, decidedAtMs, decidedBy, reason] = await this.#redis.hmget(
      approvalKeys.record(approval.tenantId, approval.id),
      'status',
      'decidedAtMs',
      'decidedBy',
      'reason',
    );
    if (!status) return null;
    const { decidedAt: _a, decidedBy: _b, reason: _r, ...request } = approval;
    const now: Approval = {
      ...request,
      status: ApprovalStatusSchema.parse(status),
      ...(decidedAtMs ? { decidedAt: new Date(Number(decidedAtMs)).toISOString() } : {}),
      ...(decidedBy ? { decidedBy } : {}),
      ...(reason ? { reason } : {}),
    };
    return this.fresh(now);
  }

  /**
   * A pending request as it really is: past its deadline it expires; when its task has ended
   * (cancelled, timed out, failed, succeeded, or gone) it is cancelled — nobody can use a decision
   * then — unless it is a compensation's (`compensates`: the rollback of the ended task waits for it).
   */
  async fresh(approval: Approval): Promise<Approval> {
    if (approval.status !== 'pending') return approval;
    let move: 'expired' | 'cancelled' | null = Date.parse(approval.deadline) <= Date.now() ? 'expired' : null;
    if (!move) {
      const status = await this.#redis.hget(redisKeys.task(approval.taskId), 'status');
      // Queued again (a retry after a lost runner) is still alive: its retried call finds this request.
      // A compensation's request belongs to the rollback of a task that has ended: it stays.
      if (status !== 'running' && status !== 'queued' && !approval.compensates) move = 'cancelled';
    }
    if (!move) return approval;
    const settled = await this.settle(approval.tenantId, approval.id, move, move === 'expired' ? 'expire' : 'cancel');
    return settled.outcome === 'missing' ? approval : settled.approval;
  }

  /**
   * Moves a pending request to `to`: `decide` (approved/denied; a request past its deadline
   * expires instead and is `refused`), `expire` (only once due) or `cancel`. `refused` carries
   * the request as it is (already decided, expired, or not yet due).
   */
  async settle(
    tenantId: string,
    id: string,
    to: Exclude<ApprovalStatus, 'pending'>,
    mode: SettleMode,
    by?: { userId: string; reason?: string | undefined },
  ): Promise<SettleResult> {
    const [code, status] = (await SETTLE.run(
      this.#redis,
      [
        approvalKeys.record(tenantId, id),
        approvalKeys.deadlines(tenantId),
        approvalKeys.byStatus(tenantId, 'pending'),
        approvalKeys.byStatus(tenantId, to),
        approvalKeys.byStatus(tenantId, 'expired'),
      ],
      [to, mode, by?.userId ?? '', by?.reason ?? '', APPROVALS_CHANNEL, id],
    )) as [number, string?];
    const approval = await this.#read(tenantId, id);
    if (code === -1 || !approval) return { outcome: 'missing' };
    if (code === 1) {
      this.#observer?.resolved(approval, status as Exclude<ApprovalStatus, 'pending'>, mode);
      await appendApprovalDecided(this.#redis, approval.taskId, {
        type: 'approval_decided',
        approvalId: id,
        capability: approval.capability,
        seq: approval.seq,
        status: status as Exclude<ApprovalStatus, 'pending'>,
        ...(approval.reason ? { reason: approval.reason } : {}),
        at: approval.decidedAt ?? new Date().toISOString(),
      });
    }
    return { outcome: code === 1 && status === to ? 'moved' : 'refused', approval };
  }

  /** Expires the tenant's pending requests whose deadline passed (at most `max`); returns them. */
  async expireDue(tenantId: string, max = 100): Promise<Approval[]> {
    const due = await this.#redis.zrangebyscore(approvalKeys.deadlines(tenantId), '-inf', Date.now(), 'LIMIT', 0, max);
    const out: Approval[] = [];
    for (const id of due) {
      const r = await this.settle(tenantId, id, 'expired', 'expire');
      if (r.outcome === 'moved') out.push(r.approval);
      // A record gone (expired with its retention) leaves its index entry behind: drop it.
      if (r.outcome === 'missing') await this.#redis.zrem(approvalKeys.deadlines(tenantId), id);
    }
    return out;
  }

  /** The pending requests of a task become `cancelled` (the task was cancelled); returns them. */
  async cancelForTask(tenantId: string, taskId: string): Promise<Approval[]> {
    const ids = await this.#redis.smembers(approvalKeys.ofTask(tenantId, taskId));
    const out: Approval[] = [];
    for (const id of ids) {
      const r = await this.settle(tenantId, id, 'cancelled', 'cancel');
      if (r.outcome === 'moved') out.push(r.approval);
    }
    return out;
  }

  /**
   * The task's requests waiting for a decision now (oldest first), as the task view shows them:
   * an agent cannot read approvals, but it may learn what its task waits for and tell a human.
   */
  async pendingOfTask(tenantId: string, taskId: string): Promise<{ id: string; capability: string; deadline: string }[]> {
    const ids = await this.#redis.smembers(approvalKeys.ofTask(tenantId, taskId));
    const pending: Approval[] = [];
    for (const id of ids) {
      const approval = await this.get(tenantId, id);
      if (approval?.status === 'pending' && approval.taskId === taskId) pending.push(approval);
    }
    pending.sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.id.localeCompare(b.id));
    return pending.map((a) => ({ id: a.id, capability: a.capability, deadline: a.deadline }));
  }

  /** One page of the tenant's requests with this status, newest first (cursor as GET /v1/tasks). */
  async list(
    tenantId: string,
    status: ApprovalStatus,
    cursor: { score: number; id: string } | null,
    limit: number,
  ): Promise<{ items: Approval[]; next: { score: number; id: string } | null }> {
    // Expiry on read: a pending request past its deadline is listed as expired, not pending.
    await this.expireDue(tenantId);
    const key = approvalKeys.byStatus(tenantId, status);
    const items: Approval[] = [];
    let max = cursor ? String(cursor.score) : '+inf';
    let last: { score: number; id: string } | null = cursor;
    for (let rounds = 0; items.length < limit && rounds < 20; rounds++) {
      const raw = await this.#redis.zrevrangebyscore(key, max, '-inf', 'WITHSCORES', 'LIMIT', 0, limit + 50);
      if (raw.length === 0) return { items, next: null };
      let advanced = false;
      for (let i = 0; i < raw.length && items.length < limit; i += 2) {
        const id = raw[i] as string;
        const score = Number(raw[i + 1]);
        // Ties on one millisecond: ids at the cursor's score sort descending; skip those already seen.
        if (last && score === last.score && id >= last.id) continue;
        last = { score, id };
        advanced = true;
        const approval = await this.#read(tenantId, id);
        const current = approval ? await this.fresh(approval) : null;
        if (!current) await this.#redis.zrem(key, id);
        else if (current.status === status) items.push(current);
      }
      if (!advanced) return { items, next: null };
      max = String(last!.score);
    }
    return { items, next: items.length === limit ? last : null };
  }

  async #read(tenantId: string, id: string): Promise<Approval | null> {
    const h = await this.#redis.hgetall(approvalKeys.record(tenantId, id));
    if (!h['request'] || !h['status']) return null;
    const request = ApprovalRequestSchema.parse(JSON.parse(h['request']));
    if (request.tenantId !== tenantId) return null;
    return {
      ...request,
      status: ApprovalStatusSchema.parse(h['status']),
      ...(h['decidedAtMs'] ? { decidedAt: new Date(Number(h['decidedAtMs'])).toISOString() } : {}),
      ...(h['decidedBy'] ? { decidedBy: h['decidedBy'] } : {}),
      ...(h['reason'] ? { reason: h['reason'] } : {}),
    };
  }
}
