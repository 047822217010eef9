/**
 * Refusals say why, and admins name agents as they know them: through the real Fastify app
 * (inject) on real Redis, with real Cedar policies; no runner (refusals happen before queuing).
 *
 * - a refused mount is a 403 whose `detail`, `reason` and `policyIds` tell an unknown grant, an
 *   agent missing from `allowedAgents` and `rw` on an `ro` grant apart (another tenant's grant
 *   stays indistinguishable from an unknown one: owasp-sweep.test.ts holds that);
 * - a refused task creation names the policies that decided;
 * - grants (`allowedAgents`) and quota overrides (`agents`) take agent names or ids, store ids,
 *   and refuse an unknown name or id with 400 naming it;
 * - a shadow-policy disagreement is logged with the tenant and the principal.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdir, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CedarPolicyGate } from '../../harness/policy/gate.ts';
import { PolicyStore } from '../../harness/policy/policy-store.ts';
import { startStack, type Stack } from '../helpers/stack.ts';

const ADMIN_KEY = `admin-${randomUUID()}`;
/** Grants live in tenant acme, shared with other test files on the same Redis: names are per run. */
const RUN = randomUUID().slice(0, 8);
let stack: Stack;
let root: string;
/** An agent made through the admin API (`agt_…`), known to admins by its name. */
let builder: { id: string; name: string; key: string };

const admin = (idem = true) => ({
  authorization: `Bearer ${ADMIN_KEY}`,
  ...(idem ? { 'idempotency-key': `"${randomUUID()}"` } : {}),
});

before(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'airlock-refusals-'));
  await mkdir(path.join(root, 'data'));
  stack = await startStack({
    runner: false,
    harnessEnv: { AIRLOCK_ADMIN_API_KEY: ADMIN_KEY, AIRLOCK_ADMIN_TENANT: 'acme', GRANT_ROOTS: root },
  });
  const name = `builder ${randomUUID().slice(0, 8)}`;
  const made = await stack.app.inject({ method: 'POST', url: '/v1/admin/agents', headers: admin(), payload: { name } });
  assert.equal(made.statusCode, 201, made.body);
  const id = made.json().id as string;
  const key = await stack.app.inject({ method: 'POST', url: `/v1/admin/agents/${id}/keys`, headers: admin(), payload: {} });
  assert.equal(key.statusCode, 201, key.body);
  builder = { id, name, key: key.json().secret as string };
});
after(async () => {
  await stack.close();
});

const putGrant = (name: string, body: Record<string, unknown>) =>
  stack.app.inject({ method: 'PUT', url: `/v1/admin/grants/${name}`, headers: admin(), payload: body });
const grantBody = (allowedAgents: string[], mode: 'ro' | 'rw' = 'ro') => ({
  hostPath: path.join(root, 'data'),
  mode,
  maxBytes: 1e6,
  allowedAgents,
});
const submitAs = (authorization: string, body: Record<string, unknown>) =>
  stack.app.inject({
    method: 'POST',
    url: '/v1/tasks',
    headers: { authorization, 'idempotency-key': `"${randomUUID()}"` },
    payload: body,
  });
const mountAs = (authorization: string, grant: string, mode: 'ro' | 'rw') =>
  submitAs(authorization, { runtime: 'python', code: 'print(1)', mounts: [{ grant, path: '/mnt/g', mode }] });
const alice = () => stack.headers('alice', null)['authorization'] as string;

describe('a refused mount says why', () => {
  before(async () => {
    assert.equal((await putGrant(`why-ro-${RUN}`, grantBody(['alice'], 'ro'))).statusCode, 201);
  });

  test('unknown grant, agent not in allowedAgents, rw on ro: each its reason, detail and policy ids', async () => {
    const cases = [
      { who: alice(), grant: `nope-${randomUUID().slice(0, 8)}`, mode: 'ro', reason: 'unknown_grant', policyIds: [], detail: /has no grant named "nope-/ },
      { who: stack.headers('bob', null)['authorization'] as string, grant: `why-ro-${RUN}`, mode: 'ro', reason: 'agent_not_allowed', policyIds: [], detail: /allowedAgents does not list you \(bob\).*\(no policy permits it\)/ },
      { who: alice(), grant: `why-ro-${RUN}`, mode: 'rw', reason: 'mode', policyIds: ['no-rw-on-ro-grant'], detail: /read-only \(ask for mode "ro"\).*\(denied by policy no-rw-on-ro-grant\)/ },
    ] as const;
    const before = await stack.deps.containerQueue.count();
    for (const c of cases) {
      const res = await mountAs(c.who, c.grant, c.mode);
      assert.equal(res.statusCode, 403, res.body);
      const body = res.json();
      assert.equal(body.code, 'forbidden');
      assert.equal(body.reason, c.reason, res.body);
      assert.deepEqual(body.policyIds, c.policyIds, res.body);
      assert.match(body.detail, /^mounts\[0\]: /);
      assert.match(body.detail, c.detail);
    }
    assert.equal(await stack.deps.containerQueue.count(), before, 'nothing queued');
  });

  test('a refused task creation names the forbidding policy', async () => {
    const tenant = 'acme';
    const policies = `@id("no-python") forbid (principal, action == Airlock::Action::"tasks.create", resource == Airlock::Runtime::"python");
      @id("rest") permit (principal, action, resource);`;
    const put = await stack.app.inject({ method: 'PUT', url: '/v1/admin/policies/active', headers: admin(), payload: { text: policies } });
    assert.equal(put.statusCode, 200, put.body);
    try {
      const res = await submitAs(alice(), { runtime: 'python', code: 'print(1)' });
      assert.equal(res.statusCode, 403, res.body);
      assert.deepEqual(res.json().policyIds, ['no-python']);
      assert.equal(res.json().reason, 'policy');
      assert.match(res.json().detail, /run python tasks .*\(denied by policy no-python\)/);
    } finally {
      await stack.app.inject({ method: 'DELETE', url: '/v1/admin/policies/active', headers: admin() });
      await stack.deps.redis.del(`airlock:policies:{${tenant}}`);
    }
  });
});

describe('grants take agent names or ids', () => {
  test('a name is stored as the agent id and lets that agent mount; an id and a config agent work too', async () => {
    const byName = await putGrant(`by-name-${RUN}`, grantBody([builder.name, 'alice']));
    assert.equal(byName.statusCode, 201, byName.body);
    assert.deepEqual(byName.json().allowedAgents, [builder.id, 'alice']);
    const byId = await putGrant(`by-id-${RUN}`, grantBody(['*', builder.id]));
    assert.deepEqual(byId.json().allowedAgents, ['*', builder.id]);
    const mounted = await mountAs(`Bearer ${builder.key}`, `by-name-${RUN}`, 'ro');
    assert.equal(mounted.statusCode, 201, mounted.body);
  });

  test('an unknown name or id is a 400 naming each, and nothing is stored', async () => {
    const unknownId = `agt_${'0'.repeat(20)}`;
    const res = await putGrant(`typo-${RUN}`, grantBody(['alice', 'no such agent', unknownId]));
    assert.equal(res.statusCode, 400, res.body);
    assert.equal(res.json().code, 'invalid_request');
    assert.deepEqual(
      res.json().errors.map((e: { pointer: string }) => e.pointer),
      ['/body/allowedAgents/1', '/body/allowedAgents/2'],
    );
    assert.match(res.json().detail, /no agent or user named or with id "no such agent"/);
    const got = await stack.app.inject({ method: 'GET', url: `/v1/admin/grants/typo-${RUN}`, headers: admin(false) });
    assert.equal(got.statusCode, 404);
  });

  test('another tenant’s agent is unknown', async () => {
    // eve is a config agent of tenant globex.
    const res = await putGrant(`other-tenant-${RUN}`, grantBody(['eve']));
    assert.equal(res.statusCode, 400, res.body);
  });
});

describe('quota overrides take agent names or ids', () => {
  after(async () => {
    await stack.app.inject({ method: 'PUT', url: '/v1/admin/limits', headers: admin(), payload: {} });
  });

  test('a name is stored as the agent id and applies to that agent’s requests', async () => {
    const res = await stack.app.inject({
      method: 'PUT',
      url: '/v1/admin/limits',
      headers: admin(),
      payload: { agents: { [builder.name]: { readsPerMin: 7 }, alice: { readsPerMin: 9 } } },
    });
    assert.equal(res.statusCode, 200, res.body);
    assert.deepEqual(res.json().overrides.agents, { [builder.id]: { readsPerMin: 7 }, alice: { readsPerMin: 9 } });
    const read = await stack.app.inject({ method: 'GET', url: '/v1/tasks', headers: { authorization: `Bearer ${builder.key}` } });
    assert.equal(read.statusCode, 200);
    assert.match(String(read.headers['ratelimit-policy']), /"agent-reads";q=7;/);
  });

  test('an unknown name, or the same agent twice, is a 400 and the overrides stay as they were', async () => {
    const before = (await stack.app.inject({ method: 'GET', url: '/v1/admin/limits', headers: admin(false) })).json();
    for (const agents of [
      { [`nobody-${randomUUID().slice(0, 8)}`]: { readsPerMin: 1 } },
      { [builder.name]: { readsPerMin: 1 }, [builder.id]: { readsPerMin: 2 } },
    ]) {
      const res = await stack.app.inject({ method: 'PUT', url: '/v1/admin/limits', headers: admin(), payload: { agents } });
      assert.equal(res.statusCode, 400, res.body);
      assert.equal(res.json().errors.length, 1, res.body);
      assert.match(res.json().errors[0].pointer, /^\/body\/agents\//);
    }
    const now = (await stack.app.inject({ method: 'GET', url: '/v1/admin/limits', headers: admin(false) })).json();
    assert.deepEqual(now.overrides, before.overrides);
  });
});

describe('shadow policies', () => {
  test('a disagreement is logged with the tenant and the principal', async () => {
    const tenantId = `shadow-${randomUUID().slice(0, 8)}`;
    const store = new PolicyStore(stack.deps.redis);
    const lines: string[] = [];
    const gate = new CedarPolicyGate(store, (msg) => lines.push(msg));
    await store.setShadow(tenantId, '@id("deny-all") forbid (principal, action, resource);', { kind: 'user', id: 'test' });
    try {
      const principal = { tenantId, agentId: 'ann', id: 'ann', kind: 'agent' as const, roles: [] };
      const decision = await gate.decide(null, principal, 'tasks.create', { type: 'Runtime', id: 'javascript' }, { timeoutMs: 1000, memoryMb: 64, mounts: 0 });
      assert.equal(decision.allowed, true);
      assert.equal(lines.length, 1, lines.join('\n'));
      assert.match(lines[0] ?? '', new RegExp(`^tenant ${tenantId}: shadow policy set [0-9a-f]{12} would deny tasks\\.create on Runtime::javascript for agent ann \\(active set: allow; shadow policies: deny-all\\)$`));
    } finally {
      await stack.deps.redis.del(`airlock:policies:{${tenantId}}`);
    }
  });
});
