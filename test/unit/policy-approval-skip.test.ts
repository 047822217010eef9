/**
 * The approval question answered without Cedar (harness/policy/approval-scope.ts) must be
 * exactly Cedar's answer: for many policy shapes, principals, risks and inputs, an authorizer
 * that asked `capabilities.invoke` first (so it may skip) gives the same requireApproval
 * decision as a fresh one that must ask Cedar — including the fail-safe cases (an erroring
 * policy, an invalid request) where approval is required.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Principal } from '../../harness/auth/principal.ts';
import { noPolicyCanApply } from '../../harness/policy/approval-scope.ts';
import { Authorizer, type AuthzResource, type Decision } from '../../harness/policy/authorizer.ts';
import { DEFAULT_POLICIES_TEXT, compilePolicySet, hashPolicies, type PolicySet } from '../../harness/policy/policy-set.ts';

const INVOKE = '@id("invoke-all") permit (principal, action == Airlock::Action::"capabilities.invoke", resource);';

const SETS: Record<string, PolicySet> = {
  shipped: compilePolicySet(`${DEFAULT_POLICIES_TEXT}\n${INVOKE}`),
  riskRightOfAnd: compilePolicySet(`${INVOKE}
    @id("a") permit (principal, action == Airlock::Action::"capabilities.requireApproval", resource)
    when { context.capability == "x" && resource.risk == "write" };`),
  riskFirstThenTag: compilePolicySet(`${INVOKE}
    @id("a") permit (principal, action == Airlock::Action::"capabilities.requireApproval", resource)
    when { "write" == resource.risk && resource.hasTag("amount") && resource.getTag("amount") != "0" };`),
  byCapability: compilePolicySet(`${INVOKE}
    @id("a") permit (principal, action == Airlock::Action::"capabilities.requireApproval", resource == Airlock::Capability::"payments.charge")
    when { resource.hasTag("amount") && resource.getTag("amount") != "0" };`),
  byPrincipal: compilePolicySet(`${INVOKE}
    @id("a") permit (principal == Airlock::Agent::"bob", action == Airlock::Action::"capabilities.requireApproval", resource);
    @id("u") permit (principal is Airlock::User, action == Airlock::Action::"capabilities.requireApproval", resource);`),
  forbidOnly: compilePolicySet(`${INVOKE}
    @id("f") forbid (principal, action == Airlock::Action::"capabilities.requireApproval", resource) when { resource.risk == "read" };`),
  unlessFirst: compilePolicySet(`${INVOKE}
    @id("a") permit (principal, action == Airlock::Action::"capabilities.requireApproval", resource) unless { resource.risk != "irreversible" };`),
  anyAction: compilePolicySet(`${INVOKE}
    @id("a") permit (principal, action, resource is Airlock::Capability) when { resource.risk == "irreversible" };`),
  actionList: compilePolicySet(`${INVOKE}
    @id("a") permit (principal, action in [Airlock::Action::"capabilities.requireApproval", Airlock::Action::"capabilities.invoke"], resource) when { resource.risk == "irreversible" };`),
};

/** Not validated (as if stored before a schema change): a policy that errors at evaluation. */
function unvalidated(text: string): PolicySet {
  const policies: Record<string, string> = {};
  text.split(';').map((p) => p.trim()).filter(Boolean).forEach((p) => {
    policies[/@id\("([^"]+)"\)/.exec(p)?.[1] as string] = `${p};`;
  });
  return { text, hash: hashPolicies(text), policies };
}
SETS['erroring'] = unvalidated(`${INVOKE}
  @id("e") permit (principal, action == Airlock::Action::"capabilities.requireApproval", resource) when { resource.risk == "write" && resource.getTag("nope") == "1" };
  @id("g") forbid (principal, action == Airlock::Action::"capabilities.requireApproval", resource) when { principal.nothing == "x" }`);

const principals: Principal[] = [
  { tenantId: 'acme', agentId: 'alice', id: 'alice', kind: 'agent', roles: [] },
  { tenantId: 'acme', agentId: 'bob', id: 'bob', kind: 'agent', roles: ['member'] },
  { tenantId: 'acme', agentId: 'alice', id: 'carol', kind: 'user', roles: ['admin'] },
];
const inputs: Record<string, unknown>[] = [{}, { amount: 0 }, { amount: 5, note: 'x' }, { s: 'lone \ud800 surrogate' }];
const capabilities = ['payments.charge', 'repo.read'];
const risks = ['read', 'write', 'irreversible'];

/** Cedar lists evaluation errors in no fixed order (it differs between two authorizers' slots). */
const normal = (d: Decision): Decision => ({ ...d, errors: [...d.errors].sort(), ...(d.shadow ? { shadow: { ...d.shadow, errors: [...d.shadow.errors].sort() } } : {}) });

describe('requireApproval without Cedar', () => {
  test('gives exactly the decision Cedar gives, for every set, principal, capability, risk and input', () => {
    const warm = new Authorizer();
    let skipped = 0;
    for (const [name, set] of Object.entries(SETS)) {
      for (const principal of principals) {
        for (const id of capabilities) {
          for (const risk of risks) {
            for (const input of inputs) {
              const resource: AuthzResource = { type: 'Capability', id, risk, input };
              const context = { capability: id };
              warm.decide({ active: set, shadow: null }, principal, 'capabilities.invoke', resource, context);
              const got = warm.decide({ active: set, shadow: set }, principal, 'capabilities.requireApproval', resource, context);
              const want = new Authorizer().decide({ active: set, shadow: set }, principal, 'capabilities.requireApproval', resource, context);
              assert.deepEqual(normal(got), normal(want), `${name} ${principal.kind}:${principal.id} ${id} ${risk} ${JSON.stringify(input)}`);
              if (noPolicyCanApply(set, 'capabilities.requireApproval', principal, { id, risk })) skipped++;
            }
          }
        }
      }
    }
    // The proofs do apply (else this test would prove nothing about them).
    assert.ok(skipped > 100, `skipped ${skipped}`);
  });

  test('a request never answered without failure is asked of Cedar (fail safe: approval required)', () => {
    const a = new Authorizer();
    const principal = principals[0] as Principal;
    const resource: AuthzResource = { type: 'Capability', id: 'repo.read', risk: 'read', input: { s: 'lone \ud800 surrogate' } };
    const invoke = a.decide({ active: SETS['shipped'] as PolicySet, shadow: null }, principal, 'capabilities.invoke', resource, { capability: 'repo.read' });
    const approval = a.decide({ active: SETS['shipped'] as PolicySet, shadow: null }, principal, 'capabilities.requireApproval', resource, { capability: 'repo.read' });
    // Whatever Cedar makes of the input, both answers come from it: a failed invoke leaves no evidence.
    if (invoke.errors.length > 0) assert.equal(approval.allowed, true);
    else assert.equal(approval.allowed, false);
  });

  test('which shapes rule a policy out', () => {
    const alice = principals[0] as Principal;
    assert.equal(noPolicyCanApply(SETS['shipped'] as PolicySet, 'capabilities.requireApproval', alice, { id: 'x', risk: 'read' }), true);
    assert.equal(noPolicyCanApply(SETS['shipped'] as PolicySet, 'capabilities.requireApproval', alice, { id: 'x', risk: 'irreversible' }), false);
    assert.equal(noPolicyCanApply(SETS['riskRightOfAnd'] as PolicySet, 'capabilities.requireApproval', alice, { id: 'x', risk: 'read' }), false);
    assert.equal(noPolicyCanApply(SETS['riskFirstThenTag'] as PolicySet, 'capabilities.requireApproval', alice, { id: 'x', risk: 'read' }), true);
    assert.equal(noPolicyCanApply(SETS['byCapability'] as PolicySet, 'capabilities.requireApproval', alice, { id: 'repo.read', risk: 'read' }), true);
    assert.equal(noPolicyCanApply(SETS['byCapability'] as PolicySet, 'capabilities.requireApproval', alice, { id: 'payments.charge', risk: 'read' }), false);
    assert.equal(noPolicyCanApply(SETS['byPrincipal'] as PolicySet, 'capabilities.requireApproval', alice, { id: 'x', risk: 'read' }), true);
    assert.equal(noPolicyCanApply(SETS['byPrincipal'] as PolicySet, 'capabilities.requireApproval', principals[1] as Principal, { id: 'x', risk: 'read' }), false);
    assert.equal(noPolicyCanApply(SETS['unlessFirst'] as PolicySet, 'capabilities.requireApproval', alice, { id: 'x', risk: 'read' }), false);
    assert.equal(noPolicyCanApply(SETS['anyAction'] as PolicySet, 'capabilities.requireApproval', alice, { id: 'x', risk: 'read' }), true);
    assert.equal(noPolicyCanApply(SETS['actionList'] as PolicySet, 'capabilities.requireApproval', alice, { id: 'x', risk: 'irreversible' }), false);
  });
});
