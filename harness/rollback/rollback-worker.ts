/**
 * Runs the rollback of one task (a BullMQ job per task, `jobId` = the task id, so however many
 * harnesses heard of the task's end there is one rollback): plans it once (rollback-plan.ts: calls
 * whose effect is unknown are shown `failed` at once, never run),
 * keeps the plan on the task record (`compensations`, what GET /v1/tasks/:id shows), then runs
 * each pending compensation in order, newest call first, one at a time. A try that may pass
 * later (target down, timeout, rate limit) is retried with exponential backoff by delaying the
 * job (BullMQ keeps it in Redis: a harness restart loses nothing); after ROLLBACK_MAX_ATTEMPTS
 * tries, or at once for a refusal that trying again cannot change (policy, schema, approval
 * denied), the compensation is left `failed` with its error, and the rollback goes on with the
 * next one (an older call's undo does not wait on a newer one that a human must resolve).
 */
import { DelayedError, type Job } from 'bullmq';
import type { AuditProducer } from '../../protocol/audit/producer.ts';
import type { Compensation } from '../../protocol/compensation.ts';
import { ROLLBACK_STATUSES } from '../../protocol/compensation.ts';
import type { TaskRecord, TaskStore } from '../../protocol/task-store.ts';
import type { BrokerDeps } from '../broker/broker-call.ts';
import type { TaskFacts } from '../broker/stages/context.ts';
import { runCompensation } from './compensation-call.ts';
import { planRollback } from './rollback-plan.ts';

export interface RollbackJob {
  taskId: string;
}

export interface RollbackWorkerOptions {
  broker: BrokerDeps;
  store: TaskStore;
  audit: AuditProducer;
  /** Tries of one compensation. */
  maxAttempts: number;
  /** First retry delay, ms; doubles each try. */
  backoffMs: number;
  /** How long to wait before looking again at a compensation that waits for a human, ms. */
  approvalRecheckMs: number;
}

export class RollbackWorker {
  readonly #o: RollbackWorkerOptions;

  constructor(options: RollbackWorkerOptions) {
    this.#o = options;
  }

  /** The BullMQ processor. Throws DelayedError after delaying the job for a retry. */
  async process(job: Job<RollbackJob>, token: string | undefined, abort: AbortSignal): Promise<void> {
    const { taskId } = job.data;
    const task = await this.#o.store.get(taskId);
    if (!task || !(ROLLBACK_STATUSES as readonly string[]).includes(task.status)) return;
    const facts = factsOf(task);
    const records = await this.#o.broker.records.all(taskId);
    let plan = task.compensations;
    if (!plan) {
      plan = await planRollback(records, async (name) => (await this.#o.broker.capabilities.get(task.tenantId, name))?.compensation?.capability);
      // (A task whose calls have nothing to undo gets an empty list, and no entry.)
      if (plan.length > 0) await this.#audit(task, 'task.rollback.started', 'success', { status: task.status, compensations: plan.map((c) => ({ call: c.call, of: c.of, capability: c.capability })) });
      await this.#o.store.annotate(taskId, { compensations: plan });
    }
    // Finished now if this run planned anything or settles a pending one.
    let changed = !task.compensations && plan.length > 0;
    for (const c of plan) {
      if (c.status !== 'pending') continue;
      changed = true;
      const recorded = records.get(c.call)?.compensation;
      if (!recorded || recorded.error !== undefined) {
        const message = recorded?.error ?? `the record of call #${c.call} is gone`;
        settle(c, 'failed', { code: 'capability_invalid_input', message: `${c.capability}: ${message}`.slice(0, 4096) });
        await this.#audit(task, 'capability.compensation', 'failure', { compensates: { seq: c.call, capability: c.of }, capability: c.capability, stage: 'input', code: 'capability_invalid_input' });
        await this.#save(taskId, plan);
        continue;
      }
      const outcome = await runCompensation(
        this.#o.broker,
        facts,
        { taskId, seq: c.call, of: c.of, capability: c.capability, input: recorded.input ?? {}, attempt: c.attempts + 1 },
        abort,
      );
      if (outcome.kind === 'waiting') {
        c.error = outcome.error;
        await this.#save(taskId, plan);
        await this.#delay(job, token, this.#o.approvalRecheckMs);
      }
      c.attempts += 1;
      if (outcome.kind === 'done') settle(c, 'done');
      else if (outcome.kind === 'failed' || c.attempts >= this.#o.maxAttempts) settle(c, 'failed', outcome.error);
      else {
        c.error = outcome.error;
        await this.#save(taskId, plan);
        await this.#delay(job, token, this.#o.backoffMs * 2 ** (c.attempts - 1));
      }
      await this.#save(taskId, plan);
    }
    if (changed) {
      await this.#audit(task, 'task.rollback.finished', plan.some((c) => c.status === 'failed') ? 'failure' : 'success', {
        done: plan.filter((c) => c.status === 'done').length,
        failed: plan.filter((c) => c.status === 'failed').length,
      });
    }
  }

  async #save(taskId: string, plan: Compensation[]): Promise<void> {
    await this.#o.store.annotate(taskId, { compensations: plan });
  }

  /** Puts the job back (delayed) and ends this run of it. */
  async #delay(job: Job<RollbackJob>, token: string | undefined, ms: number): Promise<never> {
    await job.moveToDelayed(Date.now() + ms, token);
    throw new DelayedError();
  }

  async #audit(task: TaskRecord, action: string, outcome: 'success' | 'failure', details: Record<string, unknown>): Promise<void> {
    await this.#o.audit.append({
      tenant: task.tenantId,
      action,
      outcome,
      agentId: task.agentId,
      ...(task.actingFor ? { userId: task.actingFor } : {}),
      taskId: task.id,
      details: JSON.parse(JSON.stringify(details)) as Record<string, never>,
    });
  }
}

function settle(c: Compensation, status: 'done' | 'failed', error?: Compensation['error']): void {
  c.status = status;
  c.finishedAt = new Date().toISOString();
  if (error) c.error = { code: error.code, message: error.message.slice(0, 4096) };
  else delete c.error;
}

function factsOf(task: TaskRecord): TaskFacts {
  return {
    tenantId: task.tenantId,
    agentId: task.agentId,
    capabilities: task.capabilities ?? [],
    principalKind: task.principalKind ?? 'agent',
    ...(task.actingFor ? { actingFor: task.actingFor } : {}),
  };
}
