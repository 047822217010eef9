/**
 * Stages: Cedar `capabilities.invoke` on the capability with this input (tags of the entity;
 * integer fields also as Long tags), then `capabilities.requireApproval` ({@link approvalDecision},
 * used by the approval stage, stages/approval.ts).
 */
import type { PolicyGate } from '../../policy/gate.ts';
import { refuse, type CallContext, type Stop } from './context.ts';

const resource = (ctx: CallContext) => ({
  type: 'Capability' as const,
  id: ctx.capability!.name,
  risk: ctx.capability!.risk,
  input: ctx.call.input && typeof ctx.call.input === 'object' && !Array.isArray(ctx.call.input) ? (ctx.call.input as Record<string, unknown>) : {},
});

export async function invokeStage(ctx: CallContext, policy: PolicyGate): Promise<Stop | null> {
  const decision = await policy.decide(null, ctx.principal, 'capabilities.invoke', resource(ctx), { capability: ctx.call.name });
  ctx.decision = decision;
  if (decision.allowed) return null;
  const by = decision.policyIds.length > 0 ? `denied by policy ${decision.policyIds.join(', ')}` : 'no policy permits it';
  return refuse('policy', 'capability_denied', `${ctx.call.name}: policy does not allow this call with this input (${by})`);
}

/** Cedar `capabilities.requireApproval` for this call: `allowed` = a human must approve it. */
export function approvalDecision(ctx: CallContext, policy: PolicyGate) {
  return policy.decide(null, ctx.principal, 'capabilities.requireApproval', resource(ctx), { capability: ctx.call.name });
}
