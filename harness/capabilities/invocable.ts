/**
 * Which capabilities a principal may invoke, decided without an input (`capabilities.invoke`
 * with no input tags): what discovery lists and what a task may declare. Argument conditions
 * apply per call, at the broker; write them as `forbid`s guarded by `hasTag` (they do not apply
 * without input) so a capability allowed for some inputs can still be declared.
 */
import type { FastifyRequest } from 'fastify';
import type { Principal } from '../auth/principal.ts';
import type { Decision } from '../policy/authorizer.ts';
import type { PolicyGate } from '../policy/gate.ts';
import { ForbiddenError } from '../problems.ts';
import type { CapabilityStore } from './capability-store.ts';
import type { Capability } from './definition.ts';

export function mayDeclare(policy: PolicyGate, request: FastifyRequest | null, principal: Principal, c: Capability): Promise<Decision> {
  return policy.decide(request, principal, 'capabilities.invoke', { type: 'Capability', id: c.name, risk: c.risk, input: {} }, { capability: c.name });
}

/** The tenant's capabilities the principal may invoke. */
export async function invocableBy(
  store: CapabilityStore,
  policy: PolicyGate,
  request: FastifyRequest,
  principal: Principal,
): Promise<Capability[]> {
  const all = await store.list(principal.tenantId);
  const out: Capability[] = [];
  for (const c of all) if ((await mayDeclare(policy, request, principal, c)).allowed) out.push(c);
  return out;
}

/**
 * Checks a task's declared capabilities before anything runs: each must exist in the caller's
 * tenant (403 `unknown_capability`) and be invocable by the caller (403 `policy`, naming the
 * policies that decided). Returns the names, deduplicated, in the order given.
 */
export async function checkDeclared(
  store: CapabilityStore,
  policy: PolicyGate,
  request: FastifyRequest,
  principal: Principal,
  names: readonly string[],
): Promise<string[]> {
  const unique = [...new Set(names)];
  const found = await store.getMany(principal.tenantId, unique);
  for (const [i, c] of found.entries()) {
    const name = unique[i] as string;
    if (!c) {
      throw refused(names.indexOf(name), `your tenant has no capability named "${name}"`, 'unknown_capability', []);
    }
    const d = await mayDeclare(policy, request, principal, c);
    if (!d.allowed) {
      const by = d.policyIds.length > 0 ? `denied by policy ${d.policyIds.join(', ')}` : 'no policy permits it';
      throw refused(names.indexOf(name), `you may not invoke capability "${name}" (${by})`, 'policy', d.policyIds);
    }
  }
  return unique;
}

function refused(index: number, detail: string, reason: 'unknown_capability' | 'policy', policyIds: readonly string[]): Error {
  return Object.assign(new ForbiddenError(`capabilities[${index}]: ${detail}`), {
    problemExtensions: { reason, policyIds: [...policyIds] },
  });
}
