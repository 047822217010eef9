/**
 * The audit entries of capability calls (docs/capabilities.md, Audit): `capability.call.started`
 * before a call runs (if it cannot be written, the call does not run) and `capability.call` when
 * it is answered — or only the latter for a call refused, replayed or answered without running.
 * An entry has the capability, the input's hash and the input without the fields its schema
 * marks `x-airlock-redact` (or without the input when it is too large or looks secret), the
 * policy decision with its policy ids, the outcome, status, timings, the result's hash, the
 * call key and whether it was replayed or diverged. Never a credential: results are redacted
 * before they are hashed, and credential values never reach this module.
 */
import { findSecret } from '../../protocol/audit/secret-guard.ts';
import type { AuditDecision, AuditDraftInput, AuditOutcome } from '../../protocol/audit/entry.ts';
import type { AuditProducer } from '../../protocol/audit/producer.ts';
import type { Decision } from '../policy/authorizer.ts';
import { withoutRedacted } from '../capabilities/json-schema.ts';

/** Largest input recorded as is (as JSON); larger ones are recorded by hash only. */
const MAX_AUDITED_INPUT_BYTES = 4096;

export interface CallWho {
  tenantId: string;
  agentId: string;
  actingFor?: string | undefined;
  taskId: string;
}

export function auditDecision(d: Decision): AuditDecision {
  return {
    action: d.action,
    resource: d.resource.slice(0, 300),
    allowed: d.allowed,
    policyIds: d.policyIds.slice(0, 100),
    policySetHash: d.policySetHash,
    ...(d.errors.length ? { errors: d.errors.slice(0, 20).map((e) => e.slice(0, 500)) } : {}),
    ...(d.shadow ? { shadow: { allowed: d.shadow.allowed, policyIds: d.shadow.policyIds.slice(0, 100), policySetHash: d.shadow.policySetHash } } : {}),
  };
}

/** The input as recorded: without redacted fields; omitted (saying why) when too large or secret-looking. */
export function auditedInput(schema: unknown, input: unknown): { input: unknown } | { inputOmitted: string } {
  const kept = withoutRedacted(schema, input) ?? null;
  const json = JSON.stringify(kept);
  if (Buffer.byteLength(json) > MAX_AUDITED_INPUT_BYTES) return { inputOmitted: `larger than ${MAX_AUDITED_INPUT_BYTES} bytes as JSON` };
  const secret = findSecret(kept);
  if (secret) return { inputOmitted: 'it may carry a secret (mark such fields x-airlock-redact in the schema)' };
  return { input: kept };
}

/** The entry of a call (for `AuditProducer.append`, or `stamp` when a script writes it). */
export function callEntry(
  who: CallWho,
  action: 'capability.call' | 'capability.call.started' | 'capability.refused' | 'capability.compensation' | 'capability.compensation.started',
  outcome: AuditOutcome,
  details: Record<string, unknown>,
  decision?: Decision,
): AuditDraftInput {
  return {
    tenant: who.tenantId,
    action,
    outcome,
    agentId: who.agentId,
    ...(who.actingFor ? { userId: who.actingFor } : {}),
    taskId: who.taskId,
    ...(decision ? { decision: auditDecision(decision) } : {}),
    details: JSON.parse(JSON.stringify(details)) as Record<string, never>,
  };
}

export async function appendCallEntry(
  audit: AuditProducer,
  ...entry: Parameters<typeof callEntry>
): Promise<void> {
  await audit.append(callEntry(...entry));
}
