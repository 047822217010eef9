/**
 * Helpers for capability tests: set a tenant's policies (the shipped set plus capability rules)
 * and define capabilities through the real admin API.
 */
import assert from 'node:assert/strict';
import { DEFAULT_POLICIES_TEXT } from '../../harness/policy/policy-set.ts';
import type { Stack } from './stack.ts';

export const adminHeaders = (key: string) => ({ authorization: `Bearer ${key}` });

/** The shipped policies plus `extra`, activated for the admin's tenant. */
export async function activatePolicies(stack: Stack, adminKey: string, extra: string): Promise<void> {
  const res = await stack.app.inject({
    method: 'PUT',
    url: '/v1/admin/policies/active',
    headers: adminHeaders(adminKey),
    payload: { text: `${DEFAULT_POLICIES_TEXT}\n${extra}` },
  });
  assert.equal(res.statusCode, 200, res.body);
}

export async function resetPolicies(stack: Stack, adminKey: string): Promise<void> {
  await stack.app.inject({ method: 'DELETE', url: '/v1/admin/policies/active', headers: adminHeaders(adminKey) });
}

export async function putCapability(stack: Stack, adminKey: string, name: string, body: Record<string, unknown>): Promise<void> {
  const res = await stack.app.inject({ method: 'PUT', url: `/v1/admin/capabilities/${name}`, headers: adminHeaders(adminKey), payload: body });
  assert.ok(res.statusCode === 201 || res.statusCode === 200, res.body);
}

export async function putCredential(stack: Stack, adminKey: string, name: string, body: Record<string, unknown>): Promise<void> {
  const res = await stack.app.inject({ method: 'PUT', url: `/v1/admin/credentials/${name}`, headers: adminHeaders(adminKey), payload: body });
  assert.ok(res.statusCode === 201 || res.statusCode === 200, res.body);
}

/** Permits `capabilities.invoke` of `names` to every agent of the tenant. */
export function permitInvoke(id: string, names: readonly string[]): string {
  return `@id("${id}") permit (principal is Airlock::Agent, action == Airlock::Action::"capabilities.invoke", resource)
    when { ${names.map((n) => `resource == Airlock::Capability::"${n}"`).join(' || ')} };`;
}
