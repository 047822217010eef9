/**
 * What the stages of one capability call share. A stage returns `null` to let the call go on,
 * or a {@link Stop}: the answer the code gets and how the audit entry records it.
 */
import type { AuditOutcome } from '../../../protocol/audit/entry.ts';
import type { BrokerCallRequest, BrokerCallResult, CapabilityErrorCode } from '../../../protocol/capability.ts';
import type { Principal } from '../../auth/principal.ts';
import type { Capability } from '../../capabilities/definition.ts';
import type { Decision } from '../../policy/authorizer.ts';
import type { CallWho } from '../call-audit.ts';

/** The task facts the broker needs (read from its record). */
export interface TaskFacts {
  tenantId: string;
  agentId: string;
  capabilities: readonly string[];
  principalKind: 'agent' | 'user';
  actingFor?: string | undefined;
}

export interface CallContext {
  call: BrokerCallRequest;
  task: TaskFacts;
  who: CallWho;
  /** Whom Cedar is asked about: the task's owner (and the user it acts for). */
  principal: Principal;
  /** The exactly-once key and the input's hash. */
  key: string;
  inputSha256: string;
  capability?: Capability;
  /** The `capabilities.invoke` decision. */
  decision?: Decision;
  /** The approval the call ran under (id, approver), for its audit entries. */
  approval?: { id: string; decidedBy?: string | undefined };
  /** Replayed from the record, diverged from an earlier attempt's call, or re-run (idempotent target). */
  flags: { replayed?: boolean; diverged?: boolean; rerun?: boolean };
  /**
   * How long this request was held waiting for the call's approval decision (ms), when it was:
   * sent back with the answer (the runner's clock stood still meanwhile).
   */
  approvalWaitMs?: number;
  /** When the broker got the call (performance.now()). */
  receivedAt: number;
  /**
   * The input as the call's audit entries record it (call-audit.ts auditedInput), made once for
   * both entries: the capability and the input do not change once the declared stage set them.
   */
  auditedInput?: { input: unknown } | { inputOmitted: string };
  /** A compensation of the rollback (harness/rollback/): the call it undoes. */
  compensates?: { seq: number; capability: string };
  /**
   * Set by a call the target answered: records the answer (record and audit entry, one script).
   * Run by whoever sends the answer, right after it is sent, in the same turn (broker-call.ts).
   */
  settle?: () => void;
}

export interface Stop {
  result: BrokerCallResult;
  outcome: AuditOutcome;
  /** Why, for the audit entry (`details.stage`). */
  stage: string;
  /**
   * Not an answer to record: the call waits for a human (`approval_pending`, resent by the
   * runner); the approval request has its own audit entries.
   */
  quiet?: true;
}

export function refuse(stage: string, code: CapabilityErrorCode, message: string, outcome: AuditOutcome = 'denied'): Stop {
  return { result: { ok: false, error: { code, message: message.slice(0, 4000) } }, outcome, stage };
}
