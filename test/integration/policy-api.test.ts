/**
 * Cedar policies through the real app on real Redis: the admin policy API (admin only, validated
 * before activation, nothing changed by an invalid set), enforcement of an activated set on task
 * creation, reads (own vs tenant-wide) and mounts, shadow mode, and reset to the shipped set.
 * The tenant is made up per run (its own agents file), so its policies never touch other tests.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { hashApiKey } from '../../harness/auth/api-key-authenticator.ts';
import { DEFAULT_POLICIES_TEXT, hashPolicies } from '../../harness/policy/policy-set.ts';
import { startStack, type Stack } from '../helpers/stack.ts';

const TENANT = `pol-${randomUUID().slice(0, 8)}`;
const KEYS = { ann: `key-ann-${randomUUID()}`, ben: `key-ben-${randomUUID()}` };
const ADMIN_KEY = `admin-${randomUUID()}`;
let stack: Stack;

before(async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'airlock-policy-'));
  const agentsFile = path.join(dir, 'agents.json');
  await writeFile(
    agentsFile,
    JSON.stringify({
      agents: Object.entries(KEYS).map(([agentId, key]) => ({ tenantId: TENANT, agentId, keySha256: [hashApiKey(key)] })),
    }),
  );
  stack = await startStack({
    runner: false,
    harnessEnv: { AIRLOCK_AGENTS_FILE: agentsFile, AIRLOCK_ADMIN_API_KEY: ADMIN_KEY, AIRLOCK_ADMIN_TENANT: TENANT },
  });
});
after(async () => {
  await stack.deps.redis.del(`airlock:policies:{${TENANT}}`);
  await stack.close();
});

const as = (key: string, idem = true) => ({
  authorization: `Bearer ${key}`,
  ...(idem ? { 'idempotency-key': `"${randomUUID()}"` } : {}),
});
const policies = (method: 'GET' | 'PUT' | 'POST' | 'DELETE', url: string, text?: string, key = ADMIN_KEY) =>
  stack.app.inject({ method, url: `/v1/admin/policies${url}`, headers: as(key), ...(text === undefined ? {} : { payload: { text } }) });
const createTask = (key: string, runtime = 'javascript') =>
  stack.app.inject({ method: 'POST', url: '/v1/tasks', headers: as(key), payload: { runtime, code: '1' } });

describe('admin policy API', () => {
  test('agents get 403 on every policy route', async () => {
    for (const [method, url] of [['GET', ''], ['POST', '/validate'], ['PUT', '/active'], ['DELETE', '/active'], ['PUT', '/shadow'], ['DELETE', '/shadow']] as const) {
      const res = await policies(method, url, method === 'PUT' || method === 'POST' ? '@id("x") permit (principal, action, resource);' : undefined, KEYS.ann);
      assert.equal(res.statusCode, 403, `${method} ${url}`);
      assert.equal(res.json().code, 'forbidden');
    }
  });

  test('the shipped set is active until another is; GET shows its ids, hash and the schema', async () => {
    const res = await policies('GET', '');
    assert.equal(res.statusCode, 200);
    const body = res.json();
    assert.equal(body.active.isDefault, true);
    assert.equal(body.active.hash, hashPolicies(DEFAULT_POLICIES_TEXT));
    assert.ok(body.active.policyIds.includes('own-tasks'));
    assert.equal(body.shadow, null);
    assert.match(body.schema, /namespace Airlock/);
  });

  test('an invalid set is a 422 naming the problem, and changes nothing', async () => {
    const bad = '@id("typo") permit (principal, action, resource) when { resource.ownr == "x" };';
    const validate = await policies('POST', '/validate', bad);
    assert.equal(validate.statusCode, 422);
    assert.equal(validate.json().code, 'invalid_policy');
    assert.match(validate.json().detail, /typo/);
    const listed = validate.json().errors as { detail: string; policyId?: string }[];
    assert.ok(listed.length >= 1, 'the problems are listed in the errors extension');
    for (const e of listed) {
      assert.equal(e.policyId, 'typo');
      assert.match(e.detail, /ownr/);
    }
    const unparsable = await policies('POST', '/validate', '@id("x") permit (principal, action');
    assert.equal(unparsable.statusCode, 422);
    assert.ok(unparsable.json().errors.length >= 1);
    assert.equal(unparsable.json().errors[0].policyId, undefined, 'a parse error belongs to no policy');
    for (const url of ['/active', '/shadow']) assert.equal((await policies('PUT', url, bad)).statusCode, 422);
    const after = (await policies('GET', '')).json();
    assert.equal(after.active.isDefault, true);
    assert.equal(after.shadow, null);
    assert.equal(after.version, 0, 'a refused set is no change');
  });

  test('a set that would lock the admin out of the admin API is refused', async () => {
    const res = await policies('PUT', '/active', '@id("agents-only") permit (principal is Airlock::Agent, action, resource);');
    assert.equal(res.statusCode, 422);
    assert.match(res.json().detail, /lock/);
    assert.equal((await policies('GET', '')).json().active.isDefault, true);
  });
});

describe('enforcement', () => {
  // Like the shipped set, but: javascript only, and every agent reads the tenant's tasks.
  const JS_ONLY_TENANT_WIDE = `
    @id("js-only") permit (principal is Airlock::Agent, action == Airlock::Action::"tasks.create", resource == Airlock::Runtime::"javascript");
    @id("tenant-wide-reads") permit (principal, action == Airlock::Action::"tasks.read", resource is Airlock::Task);
    @id("own-cancels") permit (principal, action == Airlock::Action::"tasks.cancel", resource is Airlock::Task) when { resource.ownerId == principal.ownerId };
    @id("admins") permit (principal, action == Airlock::Action::"admin.manage", resource is Airlock::Tenant) when { principal.roles.contains("admin") };`;

  test('the shipped set: own tasks only', async () => {
    const created = await createTask(KEYS.ann);
    assert.equal(created.statusCode, 201);
    const id = created.json().id as string;
    const byBen = await stack.app.inject({ method: 'GET', url: `/v1/tasks/${id}`, headers: as(KEYS.ben, false) });
    assert.equal(byBen.statusCode, 404, 'not readable, and indistinguishable from an unknown id');
  });

  test('an activated set is enforced at once: runtimes refused with 403, tenant-wide reads allowed', async () => {
    const before = (await policies('GET', '')).json() as { version: number };
    const put = await policies('PUT', '/active', JS_ONLY_TENANT_WIDE);
    assert.equal(put.statusCode, 200);
    assert.equal(put.json().active.isDefault, false);
    assert.deepEqual(put.json().active.policyIds, ['js-only', 'tenant-wide-reads', 'own-cancels', 'admins']);
    assert.equal(put.json().version, before.version + 1, 'every change bumps the version');
    assert.match(put.json().changedBy, /^(user|agent):/);
    assert.ok(!Number.isNaN(Date.parse(put.json().changedAt)));

    const py = await createTask(KEYS.ann, 'python');
    assert.equal(py.statusCode, 403);
    assert.equal(py.json().code, 'forbidden');
    const js = await createTask(KEYS.ann);
    assert.equal(js.statusCode, 201);
    const id = js.json().id as string;
    const byBen = await stack.app.inject({ method: 'GET', url: `/v1/tasks/${id}`, headers: as(KEYS.ben, false) });
    assert.equal(byBen.statusCode, 200, 'tenant-wide reads');
    const cancelByBen = await stack.app.inject({ method: 'DELETE', url: `/v1/tasks/${id}`, headers: as(KEYS.ben) });
    assert.equal(cancelByBen.statusCode, 404, 'but cancels stay own-only');
    const cancelByAnn = await stack.app.inject({ method: 'DELETE', url: `/v1/tasks/${id}`, headers: as(KEYS.ann) });
    assert.equal(cancelByAnn.statusCode, 200);
    assert.equal(cancelByAnn.json().status, 'cancelled');
  });

  test('a shadow set is recorded, not enforced', async () => {
    const denyAll = '@id("deny-all") forbid (principal, action, resource);\n@id("all") permit (principal, action, resource);';
    const put = await policies('PUT', '/shadow', denyAll);
    assert.equal(put.statusCode, 200);
    assert.equal(put.json().shadow.hash, hashPolicies(denyAll));
    assert.equal((await createTask(KEYS.ann)).statusCode, 201, 'the active set still decides');
    assert.equal((await policies('DELETE', '/shadow')).json().shadow, null);
  });

  test('DELETE /active goes back to the shipped set', async () => {
    const res = await policies('DELETE', '/active');
    assert.equal(res.statusCode, 200);
    assert.equal(res.json().active.isDefault, true);
    assert.equal((await createTask(KEYS.ann, 'python')).statusCode, 201);
  });
});
