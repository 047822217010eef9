/**
 * Delegation under Cedar: a task token acting for a user (RFC 8693 `act`) is decided twice —
 * for the agent and for the user — and allowed only if both are. Real app, real Redis, real
 * identities through the admin API; no runner (refusals happen before queuing).
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
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
