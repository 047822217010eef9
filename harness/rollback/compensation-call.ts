/**
 * One try of one compensation, through the broker's own stages and execute path (nothing here
 * talks to a target itself): the compensating capability must exist in the tenant → its input
 * schema → Cedar `capabilities.invoke` for the task's agent (and the user it acts for) → Cedar
 * `capabilities.requireApproval` (a compensation needs a human only if policy says so) → the
 * capability's per-agent rate limit → the vault credential → audit (started; fail closed) →
 * execute (SSRF guard, credential injection, circuit breaker, timeout) → output schema →
 * redaction → audit (outcome). The target gets a stable `Idempotency-Key` per compensation, so a
 * retry after a crash can be deduplicated by it.
 */
import type { CapabilityError, CapabilityErrorCode } from '../../protocol/capability.ts';
import type { Principal } from '../auth/principal.ts';
import type { BrokerDeps } from '../broker/broker-call.ts';
import { appendCallEntry, auditedInput, type CallWho } from '../broker/call-audit.ts';
import { inputSha256 } from '../broker/call-records.ts';
import { execute } from '../broker/execute.ts';
import { Redactor } from '../broker/redact.ts';
import { approvalStage } from '../broker/stages/approval.ts';
import { invokeStage } from '../broker/stages/authorize.ts';
import { refuse, type CallContext, type Stop, type TaskFacts } from '../broker/stages/context.ts';
import { inputStage } from '../broker/stages/input.ts';
import { checkOutput } from '../broker/stages/output.ts';
import type { RevealedCredential } from '../vault/credential-store.ts';

/** What one compensation undoes, and how (from the call's record). */
export interface CompensationCall {
  taskId: string;
  /** The position of the call it undoes. */
  seq: number;
  /** The capability of that call. */
  of: string;
  capability: string;
  input: unknown;
  /** This try's number (1, 2, …). */
  attempt: number;
}

export type CompensationOutcome =
  | { kind: 'done' }
  /** A fault that may pass (target down, timeout, rate limit): try again later. */
  | { kind: 'retry'; error: CapabilityError }
  /** Refused for good (policy, schema, approval denied or expired): not tried again. */
  | { kind: 'failed'; error: CapabilityError }
  /** A human's approval is pending: try again later, not counted as a try. */
  | { kind: 'waiting'; error: CapabilityError };

/** Errors that trying again cannot change. */
const FINAL: ReadonlySet<CapabilityErrorCode> = new Set(['capability_denied', 'capability_invalid_input', 'approval_denied', 'approval_expired', 'capability_uncertain']);

/** The exactly-once key of a compensation: stable across tries, never a call's own key. */
export function compensationKey(c: Pick<CompensationCall, 'taskId' | 'seq' | 'capability' | 'input'>): string {
  return `${c.taskId}:${c.seq}:compensation:${c.capability}:${inputSha256(c.input)}`;
}

export async function runCompensation(deps: BrokerDeps, task: TaskFacts, c: CompensationCall, abort: AbortSignal): Promise<CompensationOutcome> {
  const who: CallWho = { tenantId: task.tenantId, agentId: task.agentId, actingFor: task.actingFor, taskId: c.taskId };
  const owner = await deps.identity.getPrincipal(task.tenantId, task.principalKind, task.agentId);
  const principal: Principal = {
    tenantId: task.tenantId,
    agentId: task.agentId,
    kind: task.principalKind,
    id: task.agentId,
    // A disabled owner (the kill switch) still gets its work undone: its roles still count, and
    // Cedar still decides. A compensation only undoes; its input was fixed when the call settled.
    roles: owner?.roles ?? [],
    ...(task.actingFor ? { actingFor: task.actingFor } : {}),
  };
  const ctx: CallContext = {
    call: { version: 'v1', taskId: c.taskId, attempt: c.attempt, seq: c.seq, name: c.capability, input: c.input },
    // The compensation is the harness's call, not the code's: it need not have been declared.
    task: { ...task, capabilities: [c.capability] },
    who,
    principal,
    key: compensationKey(c),
    inputSha256: inputSha256(c.input),
    flags: {},
    receivedAt: performance.now(),
    compensates: { seq: c.seq, capability: c.of },
  };
  const base = (): Record<string, unknown> => ({
    compensates: { seq: c.seq, capability: c.of },
    capability: c.capability,
    attempt: c.attempt,
    callKey: ctx.key,
    inputSha256: ctx.inputSha256,
    ...(ctx.capability ? auditedInput(ctx.capability.input, c.input) : { inputOmitted: 'the capability is not defined' }),
    ...(ctx.capability ? { risk: ctx.capability.risk } : {}),
    ...(ctx.approval ? { approvalId: ctx.approval.id, ...(ctx.approval.decidedBy ? { approvedBy: ctx.approval.decidedBy } : {}) } : {}),
  });
  const record = async (outcome: 'success' | 'failure' | 'denied', details: Record<string, unknown>) => {
    try {
      await appendCallEntry(deps.audit, who, 'capability.compensation', outcome, { ...base(), ...details, durationMs: Math.round(performance.now() - ctx.receivedAt) }, ctx.decision);
    } catch (err) {
      deps.log.error({ err, taskId: c.taskId, seq: c.seq }, 'audit entry of a compensation could not be written');
    }
  };
  const stopped = async (stop: Stop): Promise<CompensationOutcome> => {
    const error = (stop.result as { error: CapabilityError }).error;
    // Waiting for a human is no outcome (the request has its own entries), as in the broker.
    if (stop.quiet) return { kind: 'waiting', error };
    await record(stop.outcome, { stage: stop.stage, code: error.code });
    return FINAL.has(error.code) ? { kind: 'failed', error } : { kind: 'retry', error };
  };

  const definition = await deps.capabilities.get(task.tenantId, c.capability);
  if (!definition) return stopped(refuse('declared', 'capability_denied', `${c.capability}: no such capability in the tenant (the compensation of ${c.of})`));
  ctx.capability = definition;
  const early =
    inputStage(ctx) ??
    (await invokeStage(ctx, deps.policy)) ??
    (await approvalStage(ctx, deps.policy, { ...deps.approvals, log: deps.log }, abort)) ??
    (await deps.rateLimits.stage(ctx));
  if (early) return stopped(early);

  let credential: RevealedCredential | null = null;
  const credentialName = definition.implementation.credential;
  if (credentialName) {
    try {
      credential = await deps.credentials.reveal(task.tenantId, credentialName);
    } catch (err) {
      deps.log.error({ err, credentialName }, 'a vault credential could not be opened');
    }
    // Retried: an admin may put the credential back.
    if (!credential) return stopped(refuse('credential', 'capability_failed', `${c.capability}: its credential is missing from the vault or cannot be opened`, 'failure'));
  }
  try {
    await appendCallEntry(deps.audit, who, 'capability.compensation.started', 'success', { ...base(), ...(credentialName ? { credentialName } : {}) }, ctx.decision);
  } catch (err) {
    deps.log.error({ err }, 'audit entry of a compensation could not be written; it is not run now');
    return { kind: 'retry', error: { code: 'capability_unavailable', message: `${c.capability}: the audit log cannot be written right now` } };
  }
  const run = await execute(deps.exec, definition, c.input, credential, ctx.key, abort);
  const result = new Redactor(credential ? [credential.value] : []).value(checkOutput(definition, run.result)) as typeof run.result;
  const timing = { ...(run.status !== undefined ? { status: run.status } : {}), targetMs: run.targetMs };
  if (result.ok) {
    await record('success', timing);
    return { kind: 'done' };
  }
  await record('failure', { ...timing, code: result.error.code });
  return FINAL.has(result.error.code) ? { kind: 'failed', error: result.error } : { kind: 'retry', error: result.error };
}
