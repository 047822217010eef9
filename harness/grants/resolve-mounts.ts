import type { ResolvedMount } from '../../protocol/task.ts';
import type { Principal } from '../auth/principal.ts';
import type { Verdict } from '../policy/authorizer.ts';
import { ForbiddenError } from '../problems.ts';
import type { Grant, GrantStore } from './grant-store.ts';

/** The policy's answer to "may `principal` mount this grant in this mode?". */
export type MountCheck = (
  principal: Principal,
  grant: Grant,
  mode: 'ro' | 'rw',
) => Promise<Pick<Verdict, 'allowed' | 'policyIds'>>;

/**
 * Why a mount was refused, as the `reason` extension of the 403:
 * - `unknown_grant`: the tenant has no grant of that name (another tenant's grant is unknown
 *   too: grants are stored per tenant, so the answer cannot tell whether one exists elsewhere);
 * - `agent_not_allowed`: the grant's `allowedAgents` lists neither `*` nor the caller;
 * - `mode`: `rw` asked on an `ro` grant;
 * - `policy`: none of these facts, so a policy of the tenant denies it for another reason.
 */
export type MountDenial = 'unknown_grant' | 'agent_not_allowed' | 'mode' | 'policy';

/**
 * Authorizes a task's mounts against the tenant's grants before anything runs: the grant must
 * exist in the caller's tenant and the policy (`grants.mount`: the grant's allowedAgents, and
 * never `rw` on an `ro` grant in the shipped set) must allow the mode. Any refusal is 403 and
 * says why: the mount, the facts that make it refused (`reason`) and the policies that decided
 * (`policyIds`: the forbids that matched; empty when no permit applied).
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
    if (!grant) {
      throw mountRefused(i, `your tenant has no grant named "${m.grant}"`, 'unknown_grant', []);
    }
    const decision = await mayMount(principal, grant, m.mode);
    if (!decision.allowed) {
      const { reason, facts } = explainDenial(principal, grant, m.mode);
      const by = decision.policyIds.length > 0 ? `denied by policy ${decision.policyIds.join(', ')}` : 'no policy permits it';
      throw mountRefused(i, `you may not mount grant "${grant.name}" in mode ${m.mode}: ${facts} (${by})`, reason, decision.policyIds);
    }
    out.push({ grant: grant.name, hostPath: grant.hostPath, path: m.path, mode: m.mode, maxBytes: grant.maxBytes });
  }
  return out;
}

/** The facts of the grant that refuse this mount under the shipped policies, most specific first. */
function explainDenial(principal: Principal, grant: Grant, mode: 'ro' | 'rw'): { reason: MountDenial; facts: string } {
  const facts: string[] = [];
  let reason: MountDenial = 'policy';
  if (mode === 'rw' && grant.mode === 'ro') {
    facts.push('the grant is read-only (ask for mode "ro")');
    reason = 'mode';
  }
  if (!grant.allowedAgents.includes('*') && !grant.allowedAgents.includes(principal.agentId)) {
    facts.push(`its allowedAgents does not list you (${principal.agentId}); an admin of your tenant can add you`);
    reason = 'agent_not_allowed';
  }
  if (facts.length === 0) facts.push('a policy of your tenant denies it');
  return { reason, facts: facts.join('; ') };
}

function mountRefused(index: number, detail: string, reason: MountDenial, policyIds: readonly string[]): Error {
  return Object.assign(new ForbiddenError(`mounts[${index}]: ${detail}`), {
    problemExtensions: { reason, policyIds: [...policyIds] },
  });
}
