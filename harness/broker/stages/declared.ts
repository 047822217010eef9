/** Stage: the task declared this capability at creation, and the tenant still has it. */
import type { Capability } from '../../capabilities/definition.ts';
import { refuse, type CallContext, type Stop } from './context.ts';

/** `capability`: the tenant's definition of the name (read beforehand), or null. */
export function declaredStage(ctx: CallContext, capability: Capability | null): Stop | null {
  const { name } = ctx.call;
  if (!ctx.task.capabilities.includes(name)) {
    return refuse('declared', 'capability_denied', `${name}: not among the capabilities this task declared`);
  }
  if (!capability) return refuse('declared', 'capability_denied', `${name}: the capability no longer exists in your tenant`);
  ctx.capability = capability;
  return null;
}
