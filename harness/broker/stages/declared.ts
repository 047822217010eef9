/** Stage: the task declared this capability at creation, and the tenant still has it. */
import type { CapabilityStore } from '../../capabilities/capability-store.ts';
import { refuse, type CallContext, type Stop } from './context.ts';

export async function declaredStage(ctx: CallContext, store: CapabilityStore): Promise<Stop | null> {
  const { name } = ctx.call;
  if (!ctx.task.capabilities.includes(name)) {
    return refuse('declared', 'capability_denied', `${name}: not among the capabilities this task declared`);
  }
  const capability = await store.get(ctx.task.tenantId, name);
  if (!capability) return refuse('declared', 'capability_denied', `${name}: the capability no longer exists in your tenant`);
  ctx.capability = capability;
  return null;
}
