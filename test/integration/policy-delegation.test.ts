/**
 * Delegation under Cedar: a task token acting for a user (RFC 8693 `act`) is decided twice —
 * for the agent and for the user — and allowed only if both are. Real app, real Redis, real
 * identities through the admin API; no runner (refusals happen before queuing).
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { Principal } from '../../harness/auth/principal.ts';
import { CedarPolicyGate } from '../../harness/policy/gate.ts';
import { PolicyStore } from '../../harness/policy/policy-store.ts';
import { bearer, createPrincipalWithKey, createTenant, mintToken, type TenantFixture } from '../helpers/identity.ts';
import { startStack, type Stack } from '../helpers/stack.ts';

const BOOTSTRAP_KEY = `bootstrap-${randomUUID()}`;
let stack: Stack;
let tenant: TenantFixture;

before(async () => {
  stack = await startStack({ runner: false, harnessEnv: { AIRLOCK_ADMIN_API_KEY: BOOTSTRAP_KEY } });
  tenant = await createTenant(stack, BOOTSTRAP_KEY);
});
after(async () => {
  await stack.close();
});

const submit = (token: string) =>
  stack.app.inject({
    method: 'POST',
    url: '/v1/tasks',
    headers: { ...bearer(token), 'idempotency-key': `"${randomUUID()}"` },
    payload: { runtime: 'javascript', code: '1' },
  });

/** A task token of a fresh agent acting for a fresh user with these roles. */
async function delegatedToken(userRoles: string[]): Promise<{ token: string; agentKey: string }> {
  const agent = await createPrincipalWithKey(stack, tenant.adminKey, 'agent');
  const user = await createPrincipalWithKey(stack, tenant.adminKey, 'user', { roles: userRoles });
  const userToken = await mintToken(stack, user.key, { mayAct: agent.id });
  return { token: await mintToken(stack, agent.key, { subjectToken: userToken }), agentKey: agent.key };
}

describe('delegation is the intersection of what the policy allows the agent and the user', () => {
  test('acting for a member: allowed (both sides permit task creation)', async () => {
    const { token } = await delegatedToken(['member']);
    assert.equal((await submit(token)).statusCode, 201);
  });

  test('acting for a user whose roles the policy does not let run tasks: 403, though the agent alone may', async () => {
    const { token, agentKey } = await delegatedToken(['approver']);
    const res = await submit(token);
    assert.equal(res.statusCode, 403, res.body);
    assert.equal(res.json().code, 'forbidden');
    assert.equal((await submit(agentKey)).statusCode, 201, 'the same agent on its own is allowed');
  });
});

describe('delegated capability calls (the gate on real Redis, a made-up tenant)', () => {
  const TENANT = `deleg-${randomUUID().slice(0, 8)}`;
  // Agents may fetch; users only if they are members; interns' calls need approval.
  const SET = `
    @id("agents-fetch") permit (principal is Airlock::Agent, action == Airlock::Action::"capabilities.invoke", resource == Airlock::Capability::"http.fetch");
    @id("members-fetch") permit (principal is Airlock::User, action == Airlock::Action::"capabilities.invoke", resource == Airlock::Capability::"http.fetch") when { principal.roles.contains("member") };
    @id("interns-ask") permit (principal is Airlock::User, action == Airlock::Action::"capabilities.requireApproval", resource) when { principal.roles.contains("intern") };`;
  const roles: Record<string, string[]> = { mia: ['member'], ian: ['member', 'intern'], gus: [] };
  let gate: CedarPolicyGate;

  before(async () => {
    const store = new PolicyStore(stack.deps.redis);
    await store.activate(TENANT, SET, { kind: 'user', id: 'test' });
    gate = new CedarPolicyGate(store, () => {}, async (_tenant, userId) => roles[userId] ?? null);
  });
  after(async () => {
    await stack.deps.redis.del(`airlock:policies:{${TENANT}}`);
  });

  const actingFor = (user?: string): Principal => ({
    tenantId: TENANT, agentId: 'agt_a', id: 'agt_a', kind: 'agent', roles: [], ...(user ? { actingFor: user } : {}),
  });
  const fetch = { type: 'Capability', id: 'http.fetch', risk: 'low', input: { url: 'https://example.com/' } } as const;
  const ask = async (action: 'capabilities.invoke' | 'capabilities.requireApproval', user?: string) =>
    (await gate.decide(null, actingFor(user), action, fetch, { capability: 'http.fetch' })).allowed;

  test('invoke is the intersection: a member may, a user without the role may not (the agent alone may)', async () => {
    assert.equal(await ask('capabilities.invoke'), true);
    assert.equal(await ask('capabilities.invoke', 'mia'), true);
    assert.equal(await ask('capabilities.invoke', 'gus'), false);
    assert.equal(await ask('capabilities.invoke', 'nobody'), false, 'unknown user: deny');
  });

  test('requireApproval is the union: needed if the user side needs it, or the user is unknown', async () => {
    assert.equal(await ask('capabilities.requireApproval'), false, 'the agent alone: no approval');
    assert.equal(await ask('capabilities.requireApproval', 'mia'), false);
    assert.equal(await ask('capabilities.requireApproval', 'ian'), true, 'the intern side asks for approval');
    assert.equal(await ask('capabilities.requireApproval', 'nobody'), true, 'unknown user: approval required');
  });
});
