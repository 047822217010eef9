/**
 * Helpers for identity tests: drive the real admin API (through `inject`) to create tenants,
 * agents, users and keys. Nothing is faked; every id is fresh, so runs never collide in Redis.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { Stack } from './stack.ts';

export const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

export interface TenantFixture {
  tenantId: string;
  adminId: string;
  adminKey: string;
}

/** Creates a tenant and its admin with the bootstrap key. */
export async function createTenant(stack: Stack, bootstrapKey: string): Promise<TenantFixture> {
  const tenantId = `t-${randomUUID().slice(0, 12)}`;
  const res = await stack.app.inject({
    method: 'POST',
    url: '/v1/admin/tenants',
    headers: bearer(bootstrapKey),
    payload: { id: tenantId, name: `Tenant ${tenantId}`, admin: { name: 'Ada Admin' } },
  });
  assert.equal(res.statusCode, 201, res.body);
  const body = res.json();
  return { tenantId, adminId: body.admin.id, adminKey: body.secret };
}

/** Creates an agent or user in the admin's tenant and issues it a key. */
export async function createPrincipalWithKey(
  stack: Stack,
  adminKey: string,
  kind: 'agent' | 'user',
  body: Record<string, unknown> = {},
  keyBody: Record<string, unknown> = {},
): Promise<{ id: string; key: string; keyId: string }> {
  const created = await stack.app.inject({
    method: 'POST',
    url: `/v1/admin/${kind}s`,
    headers: bearer(adminKey),
    payload: { name: `${kind} ${randomUUID().slice(0, 8)}`, ...body },
  });
  assert.equal(created.statusCode, 201, created.body);
  const id = created.json().id as string;
  const issued = await stack.app.inject({
    method: 'POST',
    url: `/v1/admin/${kind}s/${id}/keys`,
    headers: bearer(adminKey),
    payload: keyBody,
  });
  assert.equal(issued.statusCode, 201, issued.body);
  return { id, key: issued.json().secret, keyId: issued.json().key.id };
}

/** Exchanges a key for a token; returns the raw response. */
export function requestToken(stack: Stack, key: string, body: Record<string, unknown> = {}) {
  return stack.app.inject({
    method: 'POST',
    url: '/v1/tokens',
    headers: bearer(key),
    payload: body,
  });
}

/** Exchanges a key for a token and returns it (asserts 200). */
export async function mintToken(
  stack: Stack,
  key: string,
  body: Record<string, unknown> = {},
): Promise<string> {
  const res = await requestToken(stack, key, body);
  assert.equal(res.statusCode, 200, res.body);
  return res.json().token as string;
}
