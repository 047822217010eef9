import { createHash, randomUUID } from 'node:crypto';
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { SpanKind } from '@opentelemetry/api';
import type { JobPayload } from '../../protocol/job.ts';
import { redisChannels } from '../../protocol/redis-keys.ts';
import { inSpan, traceparentOf } from '../../protocol/telemetry/tracing.ts';
import { backendOf, isTerminal, type Limits, type ResolvedMount, type TaskStatus } from '../../protocol/task.ts';
import type { TaskBinding, TaskCreatedNote, TaskRecord, TaskStore } from '../../protocol/task-store.ts';
import { actorOf, taskNote } from '../audit/request-audit.ts';
import { viewStatus } from '../../protocol/task-approval-events.ts';
import type { FastifyRequest } from 'fastify';
import type { Principal } from '../auth/principal.ts';
import type { Config } from '../config.ts';
import { IdempotencyKeyReusedError, InvalidRequestError, NotFoundError } from '../problems.ts';
import type { CreateTaskBody } from '../schemas/tasks.ts';
import { TaskWatch, type TaskNotifier } from './task-notifier.ts';

/** May `principal` read (or cancel) this task of its own tenant? (The policy decides.) */
export type TaskAccess = (
  principal: Principal,
  action: 'tasks.read' | 'tasks.cancel',
  task: TaskRecord,
  /** The HTTP request the decision is for (it records the decision), if any. */
  request?: FastifyRequest,
) => Promise<boolean>;

/** Without a policy: only the task's own agent. */
export const ownerOnly: TaskAccess = async (principal, _action, task) => task.agentId === principal.agentId;

/** Whether the principal's own record is disabled now (read from the identity store). */
export type OwnerDisabled = (principal: Principal) => Promise<boolean>;

/** Without an identity store: nobody is ever disabled. */
export const neverDisabled: OwnerDisabled = async () => false;

export interface TaskServiceOptions {
  config: Config;
  redis: Redis;
  queue: Queue;
  containerQueue: Queue;
  store: TaskStore;
  notifier: TaskNotifier;
  /** @defaultValue {@link ownerOnly} */
  access?: TaskAccess;
  /**
   * Re-checked after each task record is written (the kill-switch race, see `create`).
   * @defaultValue {@link neverDisabled}
   */
  ownerDisabled?: OwnerDisabled;
  /** Called after a task was cancelled (its pending approval requests become `cancelled`). */
  onCancelled?: (task: TaskRecord) => Promise<unknown>;
}

/** Task use cases of the API. Every read and write is scoped to the calling principal. */
export class TaskService {
  readonly #config: Config;
  readonly #redis: Redis;
  readonly #queue: Queue;
  readonly #containerQueue: Queue;
  readonly #store: TaskStore;
  readonly #notifier: TaskNotifier;
  readonly #access: TaskAccess;
  readonly #ownerDisabled: OwnerDisabled;
  readonly #onCancelled: ((task: TaskRecord) => Promise<unknown>) | undefined;

  constructor(options: TaskServiceOptions) {
    this.#config = options.config;
    this.#redis = options.redis;
    this.#queue = options.queue;
    this.#containerQueue = options.containerQueue;
    this.#store = options.store;
    this.#notifier = options.notifier;
    this.#access = options.access ?? ownerOnly;
    this.#ownerDisabled = options.ownerDisabled ?? neverDisabled;
    this.#onCancelled = options.onCancelled;
  }

  /** The limits a task created with `body` gets (defaults filled in). */
  limitsFor(body: CreateTaskBody): Limits {
    const timeoutMs = body.timeoutMs ?? this.#config.TASK_DEFAULT_TIMEOUT_MS;
    const defaultMemoryMb =
      backendOf(body.runtime) === 'isolate'
        ? this.#config.TASK_DEFAULT_MEMORY_MB
        : this.#config.TASK_DEFAULT_CONTAINER_MEMORY_MB;
    return {
      timeoutMs,
      cpuMs: timeoutMs,
      memoryMb: body.memoryMb ?? Math.min(defaultMemoryMb, this.#config.TASK_MAX_MEMORY_MB),
      outputBytes: this.#config.TASK_OUTPUT_BYTES,
    };
  }

  /**
   * Creates and enqueues a task. With `waitMs`, answers when the task ends or the wait runs out,
   * whichever is first, with the task as it is then — or, once `signal` aborts (the request's
   * credential was revoked), at once with the task as it was created: nothing it did since.
   *
   * With `bound` (an Idempotency-Key, harness/plugins/idempotency.ts) the task gets the key's
   * task id and is written together with the key's binding; a retry of the same request finds
   * that task instead (`created: false`) and answers and waits with it the same way. Nothing
   * is ever created twice under one key.
   */
  async create(
    principal: Principal,
    body: CreateTaskBody,
    mounts: readonly ResolvedMount[] = [],
    waitMs = 0,
    signal?: AbortSignal,
    bound?: { taskId: string; binding: TaskBinding },
    request?: FastifyRequest,
  ): Promise<{ task: TaskRecord; created: boolean }> {
    const id = bound?.taskId ?? randomUUID();
    // Listen before the task exists: none of its events can be missed, so nothing needs to be
    // read until a notification says it ended.
    const watch = waitMs > 0 ? new TaskWatch(this.#notifier, id) : null;
    try {
      const { task, created } = await this.#createTask(principal, body, mounts, id, bound?.binding, request);
      if (!watch || isTerminal(task.status)) return { task, created };
      return { task: await this.#untilEnd(watch, task, Date.now() + waitMs, signal), created };
    } finally {
      watch?.close();
    }
  }

  /**
   * Waits for a task this request created: it needs the record only once, when a notification
   * says the task ended (or one does not say what changed), or when the wait runs out. `running`
   * and output notifications cost no read. The creator needs no read decision: the answer is the
   * task either way, as without `wait`.
   */
  async #untilEnd(watch: TaskWatch, created: TaskRecord, deadline: number, signal?: AbortSignal): Promise<TaskRecord> {
    const aborted = signal ? new Promise<'aborted'>((resolve) => abortable(signal, () => resolve('aborted'))) : null;
    for (;;) {
      const left = deadline - Date.now();
      // (A wait left behind by an abort is woken by watch.close() in `create`.)
      const notified = aborted ? await Promise.race([watch.next(left), aborted]) : await watch.next(left);
      if (notified === 'aborted' || signal?.aborted) return created;
      const mayHaveEnded = notified.some((what) => what === null || (what !== 'output' && isTerminal(what)));
      if (!mayHaveEnded && left > 0) continue;
      const task = await this.#store.get(created.id);
      if (!task) throw new NotFoundError(`Task ${created.id} not found`);
      if (isTerminal(task.status) || deadline - Date.now() <= 0) return task;
    }
  }

  async #createTask(
    principal: Principal,
    body: CreateTaskBody,
    mounts: readonly ResolvedMount[],
    id: string,
    binding?: TaskBinding,
    request?: FastifyRequest,
  ): Promise<{ task: TaskRecord; created: boolean }> {
    const backend = backendOf(body.runtime);
    const limits = this.limitsFor(body);
    let task: TaskRecord = {
      id,
      tenantId: principal.tenantId,
      agentId: principal.agentId,
      status: 'queued',
      runtime: body.runtime,
      createdAt: new Date().toISOString(),
      limits,
      metadata: body.metadata ?? {},
      attempts: 0,
      ...(body.callbackUrl ? { callbackUrl: body.callbackUrl } : {}),
      ...(body.capabilities?.length
        ? {
            capabilities: [...new Set(body.capabilities)],
            principalKind: principal.kind,
            ...(principal.actingFor !== undefined ? { actingFor: principal.actingFor } : {}),
          }
        : {}),
    };
    // Kill-switch race: this request was authenticated before its agent was disabled, but the
    // disable's sweep (harness/identity/kill-switch.ts) may have listed the agent's tasks before
    // this record existed. The disable sets the flag and then lists; we write the record (task
    // hash and agent index, one MULTI) and then read the flag. Redis runs commands one at a
    // time, so either our write came before the sweep's listing (the sweep cancels the task) or
    // our read comes after the flag was set (we cancel it here). Must stay between the record
    // write and the enqueue, so a task cancelled here never gets a job at all.
    // Both are sent at once (one round trip, not two): they go out on the same connection in
    // this order (the store and the identity store share the harness's Redis client, and both
    // calls write their command before their first await), and Redis runs one connection's
    // commands in order, so the read still comes after the write.
    // Storage: refused (403 storage_quota_exceeded) before anything is written if the task's
    // worst case does not fit the tenant's quota; else reserved, and kept as long as the tenant's
    // retention says (protocol/storage-usage.ts). A retry of a bound create admits the same task
    // id again, which changes nothing.
    // A task that may call capabilities also reserves what its call records may hold.
    const callRecordsBytes = task.capabilities?.length ? this.#config.CAPABILITY_RECORDS_MAX_BYTES + this.#config.CAPABILITY_MAX_RESPONSE_BYTES : 0;
    task.retentionMs = (await this.#store.admit(task, callRecordsBytes)).retentionMs;
    // The `task.created` entry, written with the record: who, the decision that allowed it, the
    // code's SHA-256 (never the code), runtime, limits and mounts (the store adds the metadata).
    // The allowed create and mount decisions of the request go into this entry, not entries
    // of their own (harness/audit/request-audit.ts, auditDeferred).
    const decision = request?.authzDecisions?.find((d) => d.action === 'tasks.create');
    const mountDecisions = (request?.authzDecisions ?? []).filter((d) => d.action === 'grants.mount');
    const details = {
      ...(body.files?.length ? { inputFiles: body.files.length } : {}),
      ...(mountDecisions.length > 0
        ? { mountDecisions: mountDecisions.map((d) => ({ resource: d.resource.slice(0, 300), allowed: d.allowed, policyIds: d.policyIds.slice(0, 20) })) }
        : {}),
    };
    const note: TaskCreatedNote = {
      ...taskNote(principal, request),
      codeSha256: createHash('sha256').update(body.code).digest('hex'),
      mounts: mounts.map((m) => ({ grant: m.grant, path: m.path, mode: m.mode })),
      ...(decision
        ? {
            decision: {
              action: decision.action,
              resource: decision.resource.slice(0, 300),
              allowed: decision.allowed,
              policyIds: decision.policyIds,
              policySetHash: decision.policySetHash,
              ...(decision.shadow
                ? { shadow: { allowed: decision.shadow.allowed, policyIds: decision.shadow.policyIds, policySetHash: decision.shadow.policySetHash } }
                : {}),
            },
          }
        : {}),
      ...(Object.keys(details).length > 0 ? { details } : {}),
    };
    let created = true;
    let write: Promise<void>;
    if (binding) {
      // The task and the key's binding first (one atomic step), then the rest as below. A retry
      // of the same request lands here too: it finds the task and, only while that is still
      // queued, repeats the steps below, each of which is idempotent (index ZADD NX, the
      // disabled check, the add with jobId = task id) — so a harness that died between the
      // record and the enqueue leaves no task without its job once the client retries.
      const outcome = await this.#store.createBound(task, binding, note);
      if (outcome === 'created' && request?.auditDeferred) request.auditDeferred.consumed = true;
      if (outcome === 'conflict') {
        throw new IdempotencyKeyReusedError(
          'This Idempotency-Key was used for a different request, or for a task whose key has expired; use a new key',
        );
      }
      if (outcome === 'expired') throw new NotFoundError(`Task ${id}, created with this Idempotency-Key, has expired`);
      if (outcome === 'exists') {
        created = false;
        const existing = await this.#store.get(id);
        if (!existing) throw new NotFoundError(`Task ${id}, created with this Idempotency-Key, has expired`);
        task = existing;
        if (task.status !== 'queued') return { task, created };
      }
      write = this.#store.index(task);
    } else {
      write = this.#store.create(task, note).then(() => {
        if (request?.auditDeferred) request.auditDeferred.consumed = true;
      });
    }
    const [, disabled] = await Promise.all([write, this.#ownerDisabled(principal)]);
    if (disabled) {
      await this.#store.transition(
        task.id,
        'cancelled',
        ['queued'],
        { finishedAt: new Date().toISOString() },
        { code: 'cancelled', message: 'Cancelled: the agent was disabled' },
        { ...taskNote(principal, request), details: { cancelledBy: 'kill-switch' } },
      );
      return { task: (await this.#store.get(task.id)) ?? task, created };
    }
    const queue = backend === 'isolate' ? this.#queue : this.#containerQueue;
    // The enqueue is a span of its own (traces on): the runner's span is its child, through the
    // `traceparent` the payload carries.
    await inSpan(`${queue.name} publish`, {
      kind: SpanKind.PRODUCER,
      attributes: { 'messaging.system': 'bullmq', 'messaging.destination.name': queue.name, 'airlock.task.id': task.id },
    }, async () => {
      const traceparent = traceparentOf();
      const payload: JobPayload = {
        version: 'v1',
        taskId: task.id,
        tenantId: task.tenantId,
        agentId: task.agentId,
        runtime: task.runtime,
        code: body.code,
        limits: task.limits,
        ...(body.stdin !== undefined ? { stdin: body.stdin } : {}),
        ...(body.stdinBase64 !== undefined ? { stdinBase64: body.stdinBase64 } : {}),
        ...(body.files ? { files: body.files } : {}),
        ...(body.args ? { args: body.args } : {}),
        ...(mounts.length > 0 ? { mounts: [...mounts] } : {}),
        ...(task.capabilities?.length ? { capabilities: [...task.capabilities] } : {}),
        ...(traceparent ? { traceparent } : {}),
      };
      // jobId = task id: a second add of the same task is ignored by BullMQ.
      await queue.add('run', payload, {
        jobId: task.id,
        attempts: 1,
        removeOnComplete: true,
        removeOnFail: { age: 24 * 3600 },
      });
    });
    return { task, created };
  }

  /**
   * The task, or 404: for another tenant's task (checked first, never by policy) and for one the
   * policy does not let the caller read or cancel — exactly like an unknown id (no oracle).
   */
  async get(
    principal: Principal,
    taskId: string,
    action: 'tasks.read' | 'tasks.cancel' = 'tasks.read',
    request?: FastifyRequest,
  ): Promise<TaskRecord> {
    const task = await this.#store.get(taskId);
    if (!task || task.tenantId !== principal.tenantId || !(await this.#access(principal, action, task, request))) {
      throw new NotFoundError(`Task ${taskId} not found`);
    }
    return task;
  }

  async list(
    principal: Principal,
    query: { status?: TaskStatus | undefined; limit: number; cursor?: string | undefined },
  ): Promise<{ items: TaskRecord[]; nextCursor: string | null }> {
    let cursor = decodeCursor(query.cursor);
    const items: TaskRecord[] = [];
    // With a status filter, scan a bounded number of tasks per request and hand back a cursor.
    let budget = 1000;
    while (items.length < query.limit && budget > 0) {
      const ids = await this.#store.listIds(principal.tenantId, principal.agentId, cursor, query.limit);
      if (ids.length === 0) return { items, nextCursor: null };
      for (const { id, score } of ids) {
        budget--;
        cursor = { score, id };
        const task = await this.#store.get(id);
        if (!task) {
          await this.#store.forgetFromIndex(principal.tenantId, principal.agentId, id);
          continue;
        }
        if (!query.status || viewStatus(task) === query.status) items.push(task);
        if (items.length === query.limit) break;
      }
    }
    return { items, nextCursor: cursor ? encodeCursor(cursor) : null };
  }

  /**
   * Cancels a task: a queued one never starts, a running one is stopped by its runner, a
   * finished one is returned unchanged.
   */
  async cancel(
    principal: Principal,
    taskId: string,
    reason = 'Cancelled by the agent',
    request?: FastifyRequest,
    /** Who cancelled, when not `principal` (the admin who flipped the kill switch). */
    by: Principal = principal,
  ): Promise<TaskRecord> {
    const task = await this.get(principal, taskId, 'tasks.cancel', request);
    if (isTerminal(task.status)) return task;
    const cancelled = await this.#store.transition(
      taskId,
      'cancelled',
      ['queued', 'running'],
      { finishedAt: new Date().toISOString() },
      { code: 'cancelled', message: reason },
      { ...taskNote(by, request), details: { cancelledBy: actorOf(by) } },
    );
    if (cancelled) {
      await this.#redis.publish(redisChannels.cancel, taskId);
      // A job still waiting is dropped; one that a runner already holds is skipped or aborted.
      const queue = backendOf(task.runtime) === 'isolate' ? this.#queue : this.#containerQueue;
      await queue.remove(taskId).catch(() => 0);
      await this.#onCancelled?.(task);
    }
    // The answer is the task as cancelled: no second (read) decision, which a policy allowing
    // cancels but not reads would turn into a 404 after the cancel took effect.
    return (await this.#store.get(taskId)) ?? task;
  }
}

/** Calls `onAbort` once when `signal` aborts (at once if it already has). */
function abortable(signal: AbortSignal, onAbort: () => void): void {
  if (signal.aborted) onAbort();
  else signal.addEventListener('abort', onAbort, { once: true });
}

function encodeCursor(cursor: { score: number; id: string }): string {
  return Buffer.from(`${cursor.score}:${cursor.id}`).toString('base64url');
}

function decodeCursor(raw: string | undefined): { score: number; id: string } | null {
  if (!raw) return null;
  const [score, id] = Buffer.from(raw, 'base64url').toString('utf8').split(':');
  if (!id || !Number.isFinite(Number(score))) {
    throw new InvalidRequestError('cursor is not valid: pass the nextCursor of a previous page');
  }
  return { score: Number(score), id };
}
