import type { ResolvedMount } from '../../protocol/task.ts';
import type { Principal } from '../auth/principal.ts';
import { ForbiddenError } from '../problems.ts';
import type { Grant, GrantStore } from './grant-store.ts';

/** Does the policy let `principal` mount this grant in this mode? */
export type MountCheck = (principal: Principal, grant: Grant, mode: 'ro' | 'rw') => Promise<boolean>;

/**
 * Authorizes a task's mounts against the tenant's grants before anything runs: the grant must
 * exist in the caller's tenant and the policy (`grants.mount`: the grant's allowedAgents, and
 * never `rw` on an `ro` grant in the shipped set) must allow the mode. Any refusal is 403 and
 * names the mount, without saying whether the grant exists.
 */
export async function resolveMounts(
  grants: GrantStore,
  principal: Principal,
  requested: readonly { grant: string; path: string; mode: 'ro' | 'rw' }[],
  mayMount: MountCheck,
): Promise<ResolvedMount[]> {
  const out: ResolvedMount[] = [];
  for (const [i, m] of requested.entries()) {
    const grant = await grants.get(principal.tenantId, m.grant);
    if (!grant || !(await mayMount(principal, grant, m.mode))) {
      throw new ForbiddenError(`mounts[${i}]: you may not mount grant "${m.grant}" in mode ${m.mode}`);
    }
    out.push({ grant: grant.name, hostPath: grant.hostPath, path: m.path, mode: m.mode, maxBytes: grant.maxBytes });
  }
  return out;
}
