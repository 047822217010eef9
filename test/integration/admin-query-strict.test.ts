/**
 * Every admin route of grants, limits and policies refuses a query parameter it does not
 * declare with 400 invalid_request pointing at it (as the task, agent and user list routes do),
 * and changes nothing. The route list is read from Fastify's router as the real app is built
 * (helpers/owasp-fixtures.ts `captureRoutes`), so a new route under these prefixes is swept too.
 * Real app (inject), real Redis, no runner; nothing is faked.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { bearer, createTenant, type TenantFixture } from '../helpers/identity.ts';
import { captureRoutes, type RegisteredRoute } from '../helpers/owasp-fixtures.ts';
import { startStack, type Stack } from '../helpers/stack.ts';

const BOOTSTRAP_KEY = `bootstrap-${randomUUID()}`;
const PREFIXES = ['/v1/admin/grants', '/v1/admin/limits', '/v1/admin/policies'];
let stack: Stack;
let routes: RegisteredRoute[];
let t: TenantFixture;
let root: string;

before(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'airlock-query-'));
  const captured = await captureRoutes(() =>
    startStack({ runner: false, harnessEnv: { AIRLOCK_ADMIN_API_KEY: BOOTSTRAP_KEY, GRANT_ROOTS: root } }),
  );
  stack = captured.result;
  routes = captured.routes.filter((r) => PREFIXES.some((p) => r.url === p || r.url.startsWith(`${p}/`)));
  t = await createTenant(stack, BOOTSTRAP_KEY);
});
after(async () => {
  await stack.close();
});

/** A body each write route accepts (schema-valid), so only the query can be what is wrong. */
function validBody(method: string, url: string): Record<string, unknown> | undefined {
  if (method === 'PUT' && url === '/v1/admin/grants/:name')
    return { hostPath: path.join(root, 'g'), mode: 'ro', maxBytes: 1024, allowedAgents: ['*'] };
  if (method === 'PUT' && url === '/v1/admin/limits') return { tenant: { readsPerMin: 7 } };
  if (method === 'POST' || method === 'PUT') return { text: '@id("p") permit (principal, action, resource);' };
  return undefined;
}

/** What the admin API shows of the tenant's grants, limits and policies. */
async function snapshot(): Promise<string[]> {
  const out: string[] = [];
  for (const url of ['/v1/admin/grants', '/v1/admin/limits', '/v1/admin/policies', '/v1/admin/grants/g']) {
    const res = await stack.app.inject({ method: 'GET', url, headers: bearer(t.adminKey) });
    const { instance: _requestId, ...body } = res.json() as Record<string, unknown>;
    out.push(`${res.statusCode} ${JSON.stringify(body)}`);
  }
  return out;
}

test('the sweep covers every grants, limits and policies route', () => {
  const names = new Set(routes.filter((r) => r.method !== 'HEAD').map((r) => `${r.method} ${r.url}`));
  for (const expected of [
    'GET /v1/admin/grants',
    'GET /v1/admin/grants/:name',
    'PUT /v1/admin/grants/:name',
    'DELETE /v1/admin/grants/:name',
    'GET /v1/admin/limits',
    'PUT /v1/admin/limits',
    'GET /v1/admin/policies',
    'POST /v1/admin/policies/validate',
    'PUT /v1/admin/policies/active',
    'DELETE /v1/admin/policies/active',
    'PUT /v1/admin/policies/shadow',
    'DELETE /v1/admin/policies/shadow',
  ]) {
    assert.ok(names.has(expected), `${expected} is registered`);
  }
});

test('an unknown query parameter → 400 invalid_request pointing at it, and nothing changes', async () => {
  const before = await snapshot();
  for (const r of routes) {
    const url = `${r.url.replace(':name', 'g')}?tenantId=${t.tenantId}`;
    const body = validBody(r.method, r.url);
    const res = await stack.app.inject({
      method: r.method as 'GET',
      url,
      headers: { ...bearer(t.adminKey), 'idempotency-key': `"${randomUUID()}"` },
      ...(body ? { payload: body } : {}),
    });
    const label = `${r.method} ${url}`;
    assert.equal(res.statusCode, 400, `${label}: ${res.body}`);
    assert.match(String(res.headers['content-type']), /^application\/problem\+json/, label);
    if (r.method === 'HEAD') continue;
    assert.equal(res.json().code, 'invalid_request', label);
    assert.deepEqual(res.json().errors, [{ detail: 'Unknown field', pointer: '/querystring/tenantId' }], label);
  }
  assert.deepEqual(await snapshot(), before, 'no route changed anything');
});

test('the same requests without the parameter are not refused for their query', async () => {
  for (const r of routes.filter((x) => x.method === 'GET')) {
    const res = await stack.app.inject({ method: 'GET', url: r.url.replace(':name', 'g'), headers: bearer(t.adminKey) });
    assert.ok(res.statusCode === 200 || res.statusCode === 404, `${r.url}: ${res.statusCode} ${res.body}`);
  }
});
