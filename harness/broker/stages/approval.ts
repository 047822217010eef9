/**
 * Stage: human approval. When Cedar `capabilities.requireApproval` says a human must approve the
 * call, the broker finds the approval request of this call key (or creates it, audited first:
 * no entry, no request) and answers by its state:
 * - approved, bound to this capability and input → the call goes on (and runs once: the
 *   exactly-once stage after this one records it);
 * - denied → `approval_denied`; expired → `approval_expired`; cancelled (the task ended) →
 *   `capability_unavailable`;
 * - pending → it holds the runner's request up to APPROVAL_POLL_MS waiting for the decision
 *   (woken by pub/sub), then answers `approval_pending`, which the runner never shows to code: it
 *   sends the same call again (same seq, same key), finding the same request.
 */
import { randomUUID } from 'node:crypto';
import { approvalBinding, type Approval, type ApprovalRequest } from '../../../protocol/approval.ts';
import type { AuditProducer } from '../../../protocol/audit/producer.ts';
import { redisKeys } from '../../../protocol/redis-keys.ts';
import type { ApprovalStore } from '../../approvals/approval-store.ts';
import type { ApprovalWaiter } from '../../approvals/approval-waiter.ts';
import { withoutRedacted } from '../../capabilities/json-schema.ts';
import type { PolicyGate } from '../../policy/gate.ts';
import { auditDecision, auditedInput } from '../call-audit.ts';
import { approvalDecision } from './authorize.ts';
import { refuse, type CallContext, type Stop } from './context.ts';
import type { Redis } from 'ioredis';

/** Largest code shown with a request (the rest is cut, saying so). */
const MAX_CODE_CHARS = 64 * 1024;

export interface ApprovalDeps {
  redis: Redis;
  store: ApprovalStore;
  waiter: ApprovalWaiter;
  audit: AuditProducer;
  /** How long a new request waits for a decision (APPROVAL_TIMEOUT_MS, already capped). */
  timeoutMs: number;
  /** How long one broker request is held waiting (APPROVAL_POLL_MS). */
  pollMs: number;
  /** The task's code, if it can still be read (its queued job). */
  codeOf(taskId: string): Promise<string | null>;
  log: { error(obj: object, msg: string): void };
}

export async function approvalStage(ctx: CallContext, policy: PolicyGate, deps: ApprovalDeps, abort: AbortSignal): Promise<Stop | null> {
  const needs = await approvalDecision(ctx, policy);
  if (!needs.allowed) return null;
  const tenantId = ctx.task.tenantId;
  const binding = approvalBinding(ctx.call.name, ctx.call.input);

  let approval = await deps.store.findByCall(tenantId, ctx.key);
  if (!approval) {
    // The deadline: APPROVAL_TIMEOUT_MS (capped by APPROVAL_MAX_TIMEOUT_MS), capped again by the
    // `@approvalTimeoutMs` of the policies that asked for approval.
    const timeoutMs = Math.min(deps.timeoutMs, needs.approvalTimeoutMs ?? Infinity);
    const request = await buildRequest(ctx, deps, binding, needs.policyIds, timeoutMs);
    try {
      await deps.audit.append({
        tenant: tenantId,
        action: 'approval.requested',
        outcome: 'success',
        agentId: ctx.task.agentId,
        ...(ctx.task.actingFor ? { userId: ctx.task.actingFor } : {}),
        taskId: ctx.call.taskId,
        decision: auditDecision(needs),
        details: JSON.parse(JSON.stringify({
          approvalId: request.id,
          capability: request.capability,
          risk: request.risk,
          seq: request.seq,
          callKey: request.callKey,
          inputSha256: request.inputSha256,
          bindingSha256: request.bindingSha256,
          deadline: request.deadline,
          ...(request.compensates ? { compensates: request.compensates } : {}),
          ...auditedInput(ctx.capability?.input, ctx.call.input ?? null),
        })) as Record<string, never>,
      });
    } catch (err) {
      deps.log.error({ err }, 'audit entry of an approval request could not be written; no request is made');
      return refuse('approval', 'capability_unavailable', `${ctx.call.name}: the audit log cannot be written right now; no approval was requested`, 'failure');
    }
    approval = (await deps.store.create(request)).approval;
  }

  // Hold the runner's request while the request is pending, up to pollMs (or less, as the
  // runner asks: 0 the first time, so it stops the task's clock before any hold) and the deadline.
  const holdStart = performance.now();
  const holdUntil = holdStart + Math.min(deps.pollMs, ctx.call.approvalWaitMs ?? deps.pollMs);
  // A runner that asks to be held is waiting already (its clock stands still): it is told how
  // long this request waited, even 0 (a decision made between two sends).
  if (ctx.call.approvalWaitMs !== undefined ? ctx.call.approvalWaitMs > 0 : approval?.status === 'pending') ctx.approvalWaitMs = 0;
  while (approval && approval.status === 'pending' && !abort.aborted) {
    const leftMs = Math.min(holdUntil - performance.now(), Date.parse(approval.deadline) - Date.now() + 5);
    if (leftMs <= 0) break;
    const wait = deps.waiter.wait(approval.id, leftMs, abort);
    // Only the state is read again (the request never changes): one small read after a wake-up.
    const now: Approval | null = await deps.store.refresh(approval);
    if (now?.status !== 'pending') wait.cancel();
    await wait.done;
    approval = now?.status === 'pending' ? await deps.store.refresh(now) : now;
  }
  // Past its deadline, a read expires it.
  if (approval?.status === 'pending') approval = await deps.store.refresh(approval);
  // Told to the runner: what it waited here does not count against the task's time.
  if (ctx.approvalWaitMs !== undefined) ctx.approvalWaitMs = Math.round(performance.now() - holdStart);
  return answer(ctx, approval, binding);
}

function answer(ctx: CallContext, approval: Approval | null, binding: string): Stop | null {
  const name = ctx.call.name;
  if (!approval) return refuse('approval', 'capability_unavailable', `${name}: its approval request is gone; try again`, 'failure');
  switch (approval.status) {
    case 'approved':
      // The request of this call key binds this capability and input; checked again all the same.
      if (approval.bindingSha256 !== binding) {
        return refuse('approval', 'approval_denied', `${name}: approval ${approval.id} was given for another input`);
      }
      ctx.approval = { id: approval.id, decidedBy: approval.decidedBy };
      return null;
    case 'denied':
      return refuse('approval', 'approval_denied', `${name}: approval ${approval.id} was denied${approval.reason ? `: ${approval.reason}` : ''}`);
    case 'expired':
      return refuse('approval', 'approval_expired', `${name}: nobody decided approval ${approval.id} before its deadline ${approval.deadline}`);
    case 'cancelled':
      return refuse('approval', 'capability_unavailable', `${name}: approval ${approval.id} was cancelled with its task`);
    case 'pending':
      return {
        result: { ok: false, error: { code: 'approval_pending', message: `${name}: waiting for approval ${approval.id} (deadline ${approval.deadline})` } },
        outcome: 'denied',
        stage: 'approval',
        quiet: true,
      };
  }
}

async function buildRequest(ctx: CallContext, deps: ApprovalDeps, binding: string, policyIds: readonly string[], timeoutMs: number): Promise<ApprovalRequest> {
  const capability = ctx.capability!;
  const input = ctx.call.input ?? null;
  const shown = withoutRedacted(capability.input, input) ?? null;
  const redacted =
    input && typeof input === 'object' && !Array.isArray(input) && shown && typeof shown === 'object'
      ? Object.keys(input).filter((k) => !Object.hasOwn(shown, k))
      : [];
  const [metadata] = await deps.redis.hmget(redisKeys.task(ctx.call.taskId), 'metadata');
  let promptSnippet: string | undefined;
  try {
    const m = metadata ? (JSON.parse(metadata) as { promptSnippet?: unknown }) : {};
    if (typeof m.promptSnippet === 'string') promptSnippet = m.promptSnippet;
  } catch {
    promptSnippet = undefined;
  }
  let code: string | null = null;
  try {
    code = await deps.codeOf(ctx.call.taskId);
  } catch (err) {
    deps.log.error({ err }, "a task's code could not be read for its approval request");
  }
  const now = Date.now();
  return {
    id: randomUUID(),
    tenantId: ctx.task.tenantId,
    taskId: ctx.call.taskId,
    agentId: ctx.task.agentId,
    principalKind: ctx.task.principalKind,
    ...(ctx.task.actingFor ? { actingFor: ctx.task.actingFor } : {}),
    capability: capability.name,
    risk: capability.risk,
    seq: ctx.call.seq,
    callKey: ctx.key,
    input: shown,
    ...(redacted.length ? { redacted } : {}),
    inputSha256: ctx.inputSha256,
    bindingSha256: binding,
    policyIds: [...policyIds],
    ...(promptSnippet !== undefined ? { promptSnippet } : {}),
    ...(code !== null ? { code: code.slice(0, MAX_CODE_CHARS), ...(code.length > MAX_CODE_CHARS ? { codeTruncated: true } : {}) } : {}),
    taskUrl: `/v1/tasks/${ctx.call.taskId}`,
    ...(ctx.compensates ? { compensates: ctx.compensates } : {}),
    createdAt: new Date(now).toISOString(),
    deadline: new Date(now + timeoutMs).toISOString(),
  };
}
