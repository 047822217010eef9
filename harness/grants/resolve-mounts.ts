import type { ResolvedMount } from '../../protocol/task.ts';
import type { Principal } from '../auth/principal.ts';
import { ForbiddenError } from '../problems.ts';
import type { GrantStore } from './grant-store.ts';

/**
 * Authorizes a task's mounts against the tenant's grants before anything runs: the grant must
 * exist in the caller's tenant, list the agent, and allow the mode (`rw` needs an `rw` grant).
 * Any refusal is 403 and names the mount, without saying whether the grant exists.
 */
export async function resolveMounts(
  grants: GrantStore,
  principal: Principal,
  requested: readonly { grant: string; path: string; mode: 'ro' | 'rw' }[],
): Promise<ResolvedMount[]> {
  const out: ResolvedMount[] = [];
  for (const [i, m] of requested.entries()) {
    const grant = await grants.get(principal.tenantId, m.grant);
    const allowed =
      grant !== null &&
      (grant.allowedAgents.includes('*') || grant.allowedAgents.includes(principal.agentId)) &&
      (m.mode === 'ro' || grant.mode === 'rw');
    if (!grant || !allowed) {
      throw new ForbiddenError(`mounts[${i}]: you may not mount grant "${m.grant}" in mode ${m.mode}`);
    }
    out.push({ grant: grant.name, hostPath: grant.hostPath, path: m.path, mode: m.mode, maxBytes: grant.maxBytes });
  }
  return out;
}
