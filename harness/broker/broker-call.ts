/**
 * One capability call through the broker, stage by stage (each in stages/ or beside this file):
 * token → declared → input schema → Cedar `capabilities.invoke` → approval → exactly-once
 * (answered from the record when already done) → per-agent rate limit → credential → claim →
 * audit (started) → execute (SSRF guard, circuit breaker, timeout) → output schema → redaction
 * → answer → settle the record and audit (answered), written right after the answer, in the
 * same turn (`settle` of {@link BrokerAnswer}). Every outcome is an answer with a stable code;
 * only a refused token is not (401: the caller is not a live attempt of this task).
 */
import type { Redis } from 'ioredis';
import { AuditEntryError } from '../../protocol/audit/entry.ts';
import { bearerTokenSha256 } from '../../protocol/broker-token.ts';
import { inOneWrite } from '../../protocol/redis-connection.ts';
import { isAuditUnavailable, type AuditProducer, type AuditStamp } from '../../protocol/audit/producer.ts';
import type { BrokerCallRequest, BrokerCallResult } from '../../protocol/capability.ts';
import type { Principal } from '../auth/principal.ts';
import type { CapabilityStore } from '../capabilities/capability-store.ts';
import { idempotencyHeaderOf, type Capability } from '../capabilities/definition.ts';
import { CompensationTemplateError, renderCompensationInput } from '../rollback/compensation-template.ts';
import type { IdentityStore } from '../identity/identity-store.ts';
import type { PolicyGate } from '../policy/gate.ts';
import type { CredentialStore, RevealedCredential } from '../vault/credential-store.ts';
import { appendCallEntry, auditedInput, callEntry } from './call-audit.ts';
import { callKey, inputSha256, resultHash, type Claim, type ClaimChecks, type CallRecords, type RecordedCompensation } from './call-records.ts';
import { readCall, type CallReads, type TaskFactsMemory } from './call-reads.ts';
import type { InFlight } from './in-flight.ts';
import { executePrepared, prepareCall, type ExecuteDeps, type Execution, type PreparedCall } from './execute.ts';
import { Redactor } from './redact.ts';
import { approvalStage, type ApprovalDeps } from './stages/approval.ts';
import { approvalDecision, invokeStage } from './stages/authorize.ts';
import { refuse, type CallContext, type Stop, type TaskFacts } from './stages/context.ts';
import { declaredStage } from './stages/declared.ts';
import { inputStage } from './stages/input.ts';
import { checkOutput } from './stages/output.ts';
import type { CapabilityRateLimits } from './stages/rate-limit.ts';
import { tokenStage } from './stages/token.ts';
import { checked, readStored, type CheckedValue, type StoredValuesMemory } from './stored-values.ts';

export interface BrokerDeps {
  redis: Redis;
  capabilities: CapabilityStore;
  credentials: CredentialStore;
  policy: PolicyGate;
  identity: IdentityStore;
  audit: AuditProducer;
  records: CallRecords;
  rateLimits: CapabilityRateLimits;
  exec: ExecuteDeps;
  /** Approval requests, their waiting and deadlines (stages/approval.ts). */
  approvals: Omit<ApprovalDeps, 'log'>;
  log: { warn(obj: object, msg: string): void; error(obj: object, msg: string): void };
  /** Task facts seen lately: a task's next call starts its reads early (call-reads.ts), or needs none (oneTripCall). */
  facts?: TaskFactsMemory;
  /** The stored values calls were decided on, as last read (stored-values.ts): for the one-trip path. */
  stored?: StoredValuesMemory;
  /** Settles sent as their answers went back (waited for before the harness closes Redis). */
  inFlight?: InFlight;
}

/**
 * `declared`: the task declared the capability it called (its name may be a metrics label).
 * `settle`, when present, must be called right after the answer is sent, in the same turn: it
 * writes the call's record and audit entry (see the Exactly once note in the main path below).
 */
export type BrokerAnswer = { status: 200; body: BrokerCallResult; declared: boolean; settle?: () => void } | { status: 401; reason: string };

/** How long a resent call waits for the same attempt's call still running here. */
const IN_PROGRESS_POLL_MS = 25;

export async function handleCall(deps: BrokerDeps, call: BrokerCallRequest, authorization: string | undefined, abort: AbortSignal): Promise<BrokerAnswer> {
  const receivedAt = performance.now();
  const inputHash = inputSha256(call.input);
  // A throw before its claim (a remembered value that no longer parses, say) leaves the call to
  // the path that reads first, which decides it on fresh reads; after the claim, it is answered.
  const oneTrip = await oneTripCall(deps, call, authorization, inputHash, receivedAt, abort).catch((err: unknown) => {
    deps.log.warn({ err, taskId: call.taskId, seq: call.seq }, 'the one-trip path of a capability call failed before its claim; the call is decided on fresh reads');
    return null;
  });
  if (oneTrip) return oneTrip;
  // The token's read and the reads started early from the task's facts (same connection) leave
  // in one write and are answered together.
  const { early, tokenRead } = inOneWrite(deps.redis, () => ({
    early: deps.facts?.early(deps, call),
    tokenRead: tokenStage(deps.redis, authorization, call.taskId, call.attempt),
  }));
  const token = await tokenRead;
  if (!token.ok) {
    // Recorded (in the task's tenant log when the task exists, else the system log), never the token.
    await deps.audit
      .append({
        ...(token.tenantId ? { tenant: token.tenantId } : {}),
        action: 'capability.refused',
        outcome: 'denied',
        ...(token.agentId ? { agentId: token.agentId } : {}),
        taskId: call.taskId,
        details: { capability: call.name, seq: call.seq, attempt: call.attempt, reason: token.reason },
      })
      .catch((err: unknown) => deps.log.error({ err }, 'audit entry of a refused broker token could not be written'));
    return { status: 401, reason: token.reason };
  }
  const { task } = token;
  deps.facts?.remember(call.taskId, task);
  const ctx = contextOf(call, task, inputHash, receivedAt);
  // `run` never decides again (it claims without checks): its answer is the answer.
  return answerTo(deps, ctx, task.capabilities.includes(call.name), () => run(deps, ctx, early ? early.for(task) : readCall(deps, call, task), abort)) as Promise<BrokerAnswer>;
}

function contextOf(call: BrokerCallRequest, task: TaskFacts, inputHash: string, receivedAt: number): CallContext {
  return {
    call,
    task,
    who: { tenantId: task.tenantId, agentId: task.agentId, actingFor: task.actingFor, taskId: call.taskId },
    principal: { tenantId: task.tenantId, agentId: task.agentId, kind: task.principalKind, id: task.agentId, roles: [], ...(task.actingFor ? { actingFor: task.actingFor } : {}) },
    key: callKey(call.taskId, call.seq, call.name, call.input, inputHash),
    inputSha256: inputHash,
    flags: {},
    receivedAt,
  };
}

/** The answer of a call that got past the token: its result, or `capability_unavailable` when the broker itself failed. */
async function answerTo(
  deps: BrokerDeps,
  ctx: CallContext,
  declared: boolean,
  result: () => Promise<BrokerCallResult | typeof DECIDE_AGAIN>,
): Promise<BrokerAnswer | typeof DECIDE_AGAIN> {
  const { call } = ctx;
  try {
    const body = await result();
    if (body === DECIDE_AGAIN) return body;
    return {
      status: 200,
      body: ctx.approvalWaitMs !== undefined ? { ...body, approvalWaitMs: ctx.approvalWaitMs } : body,
      declared,
      ...(ctx.settle ? { settle: ctx.settle } : {}),
    };
  } catch (err) {
    deps.log.error({ err, taskId: call.taskId, seq: call.seq, capability: call.name }, 'capability call failed inside the broker');
    return { status: 200, body: { ok: false, error: { code: 'capability_unavailable', message: `${call.name}: the broker failed; try again` } }, declared };
  }
}

/** A one-trip call whose claim found a checked value changed: nothing was claimed; decide it again on fresh reads. */
const DECIDE_AGAIN = Symbol('decide again');

/**
 * The one-trip path. A task's next call (its facts known from an earlier call of the task here)
 * is decided on the stored values last read (the owner's record, the definition, the sealed
 * credential: stored-values.ts), and its claim script first checks, in the same atomic step, that
 * the token is still this attempt's live one and that each of those values is still what the
 * decision saw. So the call takes one Redis round trip before its target instead of two (three
 * with a credential), and is never decided on a stale value: a failed check claims nothing and
 * the call takes the path that reads first. That path (null here) also takes everything that is
 * not a plain call going through: a first call, any refusal (decided and recorded on fresh
 * reads), an approval, a rate limit, a user acted for (the gate reads the user), and a Redis
 * Cluster (the checked values live in other slots than the task).
 */
async function oneTripCall(
  deps: BrokerDeps,
  call: BrokerCallRequest,
  authorization: string | undefined,
  inputHash: string,
  receivedAt: number,
  abort: AbortSignal,
): Promise<BrokerAnswer | null> {
  const { stored, facts } = deps;
  if (!stored || !facts || deps.redis.isCluster) return null;
  const task = facts.get(call.taskId);
  const tokenSha256 = bearerTokenSha256(authorization);
  if (!task || task.actingFor !== undefined || !tokenSha256 || !task.capabilities.includes(call.name)) return null;
  const ownerAt = deps.identity.principalAt(task.tenantId, task.principalKind, task.agentId);
  const definitionAt = deps.capabilities.at(task.tenantId, call.name);
  const ownerRaw = stored.get(ownerAt);
  const definitionRaw = stored.get(definitionAt);
  if (ownerRaw === undefined || definitionRaw === undefined || definitionRaw === null) return null;
  const owner = ownerRaw === null ? null : stored.parsed(ownerAt, ownerRaw, (raw) => deps.identity.parsePrincipal(raw));
  const definition = deps.capabilities.fromStored(definitionRaw);
  if (owner?.disabled || definition.rateLimit) return null;

  const ctx = contextOf(call, task, inputHash, receivedAt);
  (ctx.principal as Principal).roles = owner ? [...owner.roles] : [];
  if (declaredStage(ctx, definition) ?? inputStage(ctx) ?? (await invokeStage(ctx, deps.policy))) return null;
  if ((await approvalDecision(ctx, deps.policy)).allowed) return null;
  const values: CheckedValue[] = [checked(ownerAt, ownerRaw), checked(definitionAt, definitionRaw)];
  let credential: RevealedCredential | null = null;
  const credentialName = definition.implementation.credential;
  if (credentialName) {
    const at = deps.credentials.at(task.tenantId, credentialName);
    const sealed = stored.get(at);
    if (sealed === undefined || sealed === null) return null;
    try {
      credential = deps.credentials.openSealed(task.tenantId, credentialName, stored.parsed(at, sealed, (raw) => deps.credentials.parseStored(raw)));
    } catch {
      return null;
    }
    values.push(checked(at, sealed));
  }
  const answer = await answerTo(deps, ctx, true, () => claimAndRun(deps, ctx, credential, { tokenSha256, values }, abort));
  return answer === DECIDE_AGAIN ? null : answer;
}

async function run(deps: BrokerDeps, ctx: CallContext, reads: Promise<CallReads>, abort: AbortSignal): Promise<BrokerCallResult> {
  const finish = (stop: Stop) => answered(deps, ctx, stop.result, stop.outcome, { stage: stop.stage });
  // The reads the stages need (call-reads.ts): the owner (disabled? roles), the definition, and
  // what the exactly-once record holds at this position.
  const { owner, definition, prior, credential: readBefore } = await reads;
  if (owner?.disabled) return finish(refuse('principal', 'capability_denied', `${ctx.call.name}: the task's ${ctx.task.principalKind} is disabled`));
  (ctx.principal as Principal).roles = owner?.roles ?? [];

  const early =
    declaredStage(ctx, definition) ??
    inputStage(ctx) ??
    (await invokeStage(ctx, deps.policy)) ??
    (await approvalStage(ctx, deps.policy, { ...deps.approvals, log: deps.log }, abort));
  // A call waiting for a human is not answered yet: nothing to record until it is.
  if (early?.quiet) return early.result;
  if (early) return finish(early);
  const capability = ctx.capability!;

  // Exactly once, first look: a call already answered is answered again, running nothing.
  if (prior?.state === 'settled' && prior.key === ctx.key && prior.result) {
    ctx.flags.replayed = true;
    return answered(deps, ctx, prior.result, prior.result.ok ? 'success' : 'failure', { resultSha256: prior.resultSha256 });
  }
  const limited = await deps.rateLimits.stage(ctx);
  if (limited) return finish(limited);

  let credential: RevealedCredential | null = null;
  const credentialName = capability.implementation.credential;
  if (credentialName) {
    try {
      // Read raw and remembered: the task's next call can then be decided without reading it (oneTripCall).
      const at = deps.credentials.at(ctx.task.tenantId, credentialName);
      // Read with the other reads when the definition was known beforehand (call-reads.ts),
      // unless the call went through an approval meanwhile (it may have waited for a human).
      const sealed =
        readBefore?.name === credentialName && !ctx.approval
          ? readBefore.sealed
          : deps.stored
            ? await deps.stored.read(deps.redis, at)
            : await readStored(deps.redis, at);
      credential = sealed === null ? null : deps.credentials.openStored(ctx.task.tenantId, credentialName, sealed);
    } catch (err) {
      deps.log.error({ err, credentialName }, 'a vault credential could not be opened');
    }
    if (!credential) return finish(refuse('credential', 'capability_failed', `${capability.name}: its credential is missing from the vault or cannot be opened`, 'failure'));
  }
  return claimAndRun(deps, ctx, credential, null, abort) as Promise<BrokerCallResult>;
}

/**
 * The call claimed (with `checks`, only if they hold: else {@link DECIDE_AGAIN}), then run and
 * answered: its target's request prepared while the claim is out, sent once the claim says the
 * call runs, and its record settled right after the answer.
 */
async function claimAndRun(
  deps: BrokerDeps,
  ctx: CallContext,
  credential: RevealedCredential | null,
  checks: ClaimChecks | null,
  abort: AbortSignal,
): Promise<BrokerCallResult | typeof DECIDE_AGAIN> {
  const finish = (stop: Stop) => answered(deps, ctx, stop.result, stop.outcome, { stage: stop.stage });
  const capability = ctx.capability!;
  const credentialName = capability.implementation.credential;
  const redactor = new Redactor(credential ? [credential.value] : []);

  const rerunnable = idempotencyHeaderOf(capability.implementation) !== null;
  // The claim and its `capability.call.started` entry land together (fail closed: a call whose
  // start cannot be recorded is not claimed and does not run).
  const claiming = (async () => {
    const started = deps.audit.stamp(callEntry(ctx.who, 'capability.call.started', 'success', {
      ...base(ctx),
      ...(credentialName ? { credentialName } : {}),
    }, ctx.decision));
    return deps.records.claim(ctx.call.taskId, ctx.call.seq, ctx.key, ctx.call.attempt, rerunnable, started, checks);
  })();
  // While the claim is on its way: the request built, its target's name resolved and checked
  // (sent only once the claim says the call runs).
  let prepared: PreparedCall;
  try {
    prepared = prepareCall(deps.exec, capability, ctx.call.input ?? null, credential, ctx.key);
  } catch (err) {
    await claiming.catch(() => undefined);
    throw err;
  }
  let claim: Claim;
  try {
    claim = await claiming;
  } catch (err) {
    if (!isAuditUnavailable(err) && !(err instanceof AuditEntryError)) throw err;
    deps.log.error({ err }, 'audit entry of a capability call could not be written; the call is not made');
    return { ok: false, error: { code: 'capability_unavailable', message: `${capability.name}: the audit log cannot be written right now; the call was not made` } };
  }
  // A failed check claimed nothing (and voided the entry): the call is decided again on fresh reads.
  if (claim.kind === 'unchecked') return DECIDE_AGAIN;
  if (claim.kind === 'in_progress') {
    // The runner resent a call of this attempt that is still running here: wait for its answer.
    const until = performance.now() + capability.timeoutMs + 2000;
    while (performance.now() < until && !abort.aborted) {
      await new Promise((r) => setTimeout(r, IN_PROGRESS_POLL_MS));
      const rec = await deps.records.get(ctx.call.taskId, ctx.call.seq);
      if (rec?.state === 'settled' && rec.key === ctx.key && rec.result) {
        ctx.flags.replayed = true;
        return answered(deps, ctx, rec.result, rec.result.ok ? 'success' : 'failure', { resultSha256: rec.resultSha256 });
      }
    }
    claim = { kind: 'uncertain', record: claim.record };
  }
  if (claim.kind === 'full') {
    return finish(refuse(
      'storage',
      'capability_failed',
      `${capability.name}: this task's call records hold ${claim.usedBytes} bytes, its cap (CAPABILITY_RECORDS_MAX_BYTES = ${deps.records.maxBytes}); no further call runs`,
      'failure',
    ));
  }
  if (claim.kind === 'replay') {
    ctx.flags.replayed = true;
    const result = claim.record.result ?? { ok: false, error: { code: 'capability_uncertain', message: 'no result recorded' } };
    return answered(deps, ctx, result, result.ok ? 'success' : 'failure', { resultSha256: claim.record.resultSha256 });
  }
  if (claim.kind === 'uncertain') {
    return finish(refuse(
      'exactly_once',
      'capability_uncertain',
      `${capability.name}: call #${ctx.call.seq} was started by attempt ${claim.record.attempt} at ${claim.record.startedAt} and never settled; ` +
        'its target cannot deduplicate it (no idempotency header), so it is not run again. A human must resolve it',
      'failure',
    ));
  }
  if (claim.kind === 'diverged') ctx.flags.diverged = true;
  if (claim.kind === 'rerun') ctx.flags.rerun = true;
  const startedAt = new Date().toISOString();

  const run = await executePrepared(deps.exec, capability, prepared, abort);
  if (abort.aborted) {
    // The runner gave up on the call (the task was cancelled, or the runner died): nobody hears
    // the answer. A call that was sent stays `started` — its effect is unknown, so a retried
    // attempt re-runs it with its key or finds it uncertain — and one never sent is released.
    if (!run.sent) await deps.records.release(ctx.call.taskId, ctx.call.seq, ctx.key);
    return answered(deps, ctx, run.result, 'failure', { aborted: true, sent: run.sent, targetMs: run.targetMs });
  }
  const result = redactor.value(checkOutput(capability, run.result)) as BrokerCallResult;
  // Exactly once: the answer goes back first and its record settles right after, written to this
  // harness's Redis connection in the same turn (the caller runs `settle` as soon as it sent the
  // answer). So every later command of this harness (the task's next call, its rollback) comes
  // after the settle, and a runner that dies now finds the call settled when its task is retried,
  // seconds later. The hash, the compensation and the audit entry are made after the answer left:
  // none of it is the code's to wait for. If the settle never lands (Redis lost meanwhile, or the
  // harness dies in between), the call stays `started`, as after a harness crash between the
  // target's answer and the settle, and a retried attempt runs it again with its key or finds it
  // uncertain; the code has the answer the target gave.
  ctx.settle = () => settleAnswered(deps, ctx, capability, startedAt, run, result);
  return answerOf(ctx, result);
}

/** Writes the answered call's record and its `capability.call` entry (one script); never throws. */
function settleAnswered(
  deps: BrokerDeps,
  ctx: CallContext,
  capability: Capability,
  startedAt: string,
  run: Execution,
  result: BrokerCallResult,
): void {
  let settling: Promise<void>;
  try {
    // The record and the audit entry in one step (one script): the hash the entry names is
    // computed beforehand.
    const resultSha256 = resultHash(result);
    // What undoes this call if the task fails, rendered now from its input and (redacted) output.
    const compensation = result.ok ? compensationOf(capability, ctx.call.input ?? null, result.output) : undefined;
    const entry = answerStamp(deps, ctx, result, result.ok ? 'success' : 'failure', {
      resultSha256,
      ...(run.status !== undefined ? { status: run.status } : {}),
      targetMs: run.targetMs,
    });
    settling = deps.records
      .settle(ctx.call.taskId, ctx.call.seq, ctx.key, ctx.call.attempt, startedAt, result, ctx.flags.diverged === true, {
        compensation, answerEntry: entry ?? undefined, resultSha256,
      })
      .then((settled) => {
        if (settled.auditError) {
          deps.log.error({ err: new Error(settled.auditError), taskId: ctx.call.taskId, seq: ctx.call.seq }, 'audit entry of a capability call could not be written');
        }
      });
  } catch (err) {
    settling = Promise.reject(err);
  }
  deps.inFlight?.track(
    settling.catch((err: unknown) => {
      deps.log.error({ err, taskId: ctx.call.taskId, seq: ctx.call.seq }, 'a capability call was answered but its record could not be settled (it stays started)');
    }),
  );
}

function compensationOf(capability: Capability, input: unknown, output: unknown): RecordedCompensation | undefined {
  const c = capability.compensation;
  if (!c) return undefined;
  try {
    return { of: capability.name, capability: c.capability, input: renderCompensationInput(c.input, { input, output }) };
  } catch (err) {
    if (!(err instanceof CompensationTemplateError)) throw err;
    return { of: capability.name, capability: c.capability, error: err.message };
  }
}

function base(ctx: CallContext): Record<string, unknown> {
  return {
    capability: ctx.call.name,
    seq: ctx.call.seq,
    attempt: ctx.call.attempt,
    callKey: ctx.key,
    inputSha256: ctx.inputSha256,
    // Without the capability's schema (refused before it was known), no field can be known to
    // be redacted: the input is recorded by its hash only.
    ...(ctx.capability ? (ctx.auditedInput ??= auditedInput(ctx.capability.input, ctx.call.input ?? null)) : { inputOmitted: 'the capability is not known to this task' }),
    ...(ctx.capability ? { risk: ctx.capability.risk } : {}),
    ...(ctx.flags.replayed ? { replayed: true } : {}),
    ...(ctx.flags.diverged ? { diverged: true } : {}),
    ...(ctx.flags.rerun ? { rerun: true } : {}),
    ...(ctx.approval ? { approvalId: ctx.approval.id, ...(ctx.approval.decidedBy ? { approvedBy: ctx.approval.decidedBy } : {}) } : {}),
  };
}

/** Records the answer (audit `capability.call`) and returns it. A failed entry is logged: the call already happened. */
async function answered(
  deps: BrokerDeps,
  ctx: CallContext,
  result: BrokerCallResult,
  outcome: 'success' | 'failure' | 'denied',
  details: Record<string, unknown>,
): Promise<BrokerCallResult> {
  try {
    await appendCallEntry(deps.audit, ctx.who, 'capability.call', outcome, answerDetails(ctx, result, details), ctx.decision);
  } catch (err) {
    deps.log.error({ err, taskId: ctx.call.taskId, seq: ctx.call.seq }, 'audit entry of a capability call could not be written');
  }
  return answerOf(ctx, result);
}

/** The answer's entry stamped for a script to append (null, logged, when the draft is refused). */
function answerStamp(
  deps: BrokerDeps,
  ctx: CallContext,
  result: BrokerCallResult,
  outcome: 'success' | 'failure',
  details: Record<string, unknown>,
): AuditStamp | null {
  try {
    return deps.audit.stamp(callEntry(ctx.who, 'capability.call', outcome, answerDetails(ctx, result, details), ctx.decision));
  } catch (err) {
    deps.log.error({ err, taskId: ctx.call.taskId, seq: ctx.call.seq }, 'audit entry of a capability call could not be written');
    return null;
  }
}

function answerDetails(ctx: CallContext, result: BrokerCallResult, details: Record<string, unknown>): Record<string, unknown> {
  return {
    ...base(ctx),
    ...(result.ok ? {} : { code: result.error.code }),
    durationMs: Math.round(performance.now() - ctx.receivedAt),
    ...details,
  };
}

function answerOf(ctx: CallContext, result: BrokerCallResult): BrokerCallResult {
  return result.ok && ctx.flags.replayed ? { ...result, replayed: true } : result;
}
