/**
 * Every Cedar decision a request makes is recorded on it (`request.authzDecisions`: action,
 * resource, outcome, determining policy ids, policy-set hash, shadow verdict) for the audit log —
 * task creation, mounts, reads, cancels and admin access — and a policy that allows cancelling
 * but not reading still answers the cancel with the task. Real app, real Redis, no runner.
 * The tenant is made up per run, so its policies never touch other tests.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { FastifyRequest } from 'fastify';
import { hashApiKey } from '../../harness/auth/api-key-authenticator.ts';
import type { Decision } from '../../harness/policy/authorizer.ts';
import { DEFAULT_POLICIES_TEXT, hashPolicies } from '../../harness/policy/policy-set.ts';
import { startStack, type Stack } from '../helpers/stack.ts';

const TENANT = `dec-${randomUUID().slice(0, 8)}`;
const KEYS = { ann: `key-ann-${randomUUID()}`, ben: `key-ben-${randomUUID()}` };
const ADMIN_KEY = `admin-${randomUUID()}`;
const DEFAULT_HASH = hashPolicies(DEFAULT_POLICIES_TEXT);
let stack: Stack;
/** Decisions of the last request (requests here are sent one at a time). */
let recorded: Decision[] | undefined;

before(async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'airlock-decisions-'));
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
  // What an audit-log hook will read: the decisions, as the answer goes out (onSend runs
  // before inject resolves, for answers and problems alike).
  stack.app.addHook('onSend', async (request: FastifyRequest) => {
    recorded = request.authzDecisions;
  });
});
after(async () => {
  await stack.deps.redis.del(`airlock:policies:{${TENANT}}`);
  await stack.close();
});

const headers = (key: string, idem = true) => ({
  authorization: `Bearer ${key}`,
  ...(idem ? { 'idempotency-key': `"${randomUUID()}"` } : {}),
});

/** Sends a request; returns the response and the decisions recorded on it. */
async function send(method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, key: string, payload?: object) {
  recorded = undefined;
  const res = await stack.app.inject({ method, url, headers: headers(key, method !== 'GET'), ...(payload ? { payload } : {}) });
  // (Assigned by the hook during the await: TypeScript cannot see that.)
  const decisions = recorded as Decision[] | undefined;
  return { res, decisions: decisions ?? [] };
}

const summary = (d: Decision) => ({ action: d.action, resource: d.resource, allowed: d.allowed, policyIds: d.policyIds });

describe('decisions recorded on the request', () => {
  let taskId = '';

  test('task creation records tasks.create with the policy that allowed it and the set hash', async () => {
    const { res, decisions } = await send('POST', '/v1/tasks', KEYS.ann, { runtime: 'javascript', code: '1' });
    assert.equal(res.statusCode, 201);
    taskId = res.json().id;
    assert.deepEqual(decisions.map(summary), [
      { action: 'tasks.create', resource: 'Runtime::javascript', allowed: true, policyIds: ['agents-create-tasks'] },
    ]);
    assert.equal(decisions[0]?.policySetHash, DEFAULT_HASH);
    assert.deepEqual(decisions[0]?.errors, []);
    assert.equal(decisions[0]?.shadow, undefined, 'no shadow set, no shadow verdict');
  });

  test('a read and a cancel record their decisions; another agent\'s denied read is recorded too (and is a 404)', async () => {
    const read = await send('GET', `/v1/tasks/${taskId}`, KEYS.ann);
    assert.equal(read.res.statusCode, 200);
    assert.deepEqual(read.decisions.map(summary), [
      { action: 'tasks.read', resource: `Task::${taskId}`, allowed: true, policyIds: ['own-tasks'] },
    ]);

    const byBen = await send('GET', `/v1/tasks/${taskId}`, KEYS.ben);
    assert.equal(byBen.res.statusCode, 404);
    assert.deepEqual(byBen.decisions.map(summary), [
      { action: 'tasks.read', resource: `Task::${taskId}`, allowed: false, policyIds: [] },
    ]);

    const cancel = await send('DELETE', `/v1/tasks/${taskId}`, KEYS.ann);
    assert.equal(cancel.res.statusCode, 200);
    assert.equal(cancel.res.json().status, 'cancelled');
    assert.deepEqual(cancel.decisions.map(summary), [
      { action: 'tasks.cancel', resource: `Task::${taskId}`, allowed: true, policyIds: ['own-tasks'] },
    ]);
  });

  test('an admin route records admin.manage; an agent\'s refusal is recorded and a 403', async () => {
    const admin = await send('GET', '/v1/admin/policies', ADMIN_KEY);
    assert.equal(admin.res.statusCode, 200);
    assert.deepEqual(admin.decisions.map(summary), [
      { action: 'admin.manage', resource: `Tenant::${TENANT}`, allowed: true, policyIds: ['admins-manage-tenant'] },
    ]);
    const agent = await send('GET', '/v1/admin/policies', KEYS.ann);
    assert.equal(agent.res.statusCode, 403);
    assert.deepEqual(agent.decisions.map(summary), [
      { action: 'admin.manage', resource: `Tenant::${TENANT}`, allowed: false, policyIds: [] },
    ]);
  });

  test('with a shadow set, each decision carries the shadow verdict and its hash, and only the active one is enforced', async () => {
    const denyCreate = `@id("shadow-no-create") forbid (principal, action == Airlock::Action::"tasks.create", resource);
      @id("shadow-rest") permit (principal, action, resource);`;
    assert.equal((await send('PUT', '/v1/admin/policies/shadow', ADMIN_KEY, { text: denyCreate })).res.statusCode, 200);
    try {
      const { res, decisions } = await send('POST', '/v1/tasks', KEYS.ann, { runtime: 'javascript', code: '1' });
      assert.equal(res.statusCode, 201, 'the shadow set is not enforced');
      assert.equal(decisions[0]?.allowed, true);
      assert.deepEqual(decisions[0]?.shadow, {
        allowed: false, policyIds: ['shadow-no-create'], errors: [], policySetHash: hashPolicies(denyCreate),
      });
    } finally {
      await send('DELETE', '/v1/admin/policies/shadow', ADMIN_KEY);
    }
  });
});

describe('cancel without read', () => {
  test('a policy that allows cancelling but not reading answers the cancel with the task; reads stay 404', async () => {
    const cancelOnly = `
      @id("create") permit (principal is Airlock::Agent, action == Airlock::Action::"tasks.create", resource);
      @id("cancel-own") permit (principal, action == Airlock::Action::"tasks.cancel", resource is Airlock::Task) when { resource.ownerId == principal.ownerId };
      @id("admins") permit (principal, action == Airlock::Action::"admin.manage", resource is Airlock::Tenant) when { principal.roles.contains("admin") };`;
    assert.equal((await send('PUT', '/v1/admin/policies/active', ADMIN_KEY, { text: cancelOnly })).res.statusCode, 200);
    try {
      const created = await send('POST', '/v1/tasks', KEYS.ann, { runtime: 'javascript', code: '1' });
      assert.equal(created.res.statusCode, 201);
      const id = created.res.json().id as string;
      assert.equal((await send('GET', `/v1/tasks/${id}`, KEYS.ann)).res.statusCode, 404, 'no read permit');
      const cancel = await send('DELETE', `/v1/tasks/${id}`, KEYS.ann);
      assert.equal(cancel.res.statusCode, 200, cancel.res.body);
      assert.equal(cancel.res.json().status, 'cancelled');
      assert.deepEqual(cancel.decisions.map((d) => d.action), ['tasks.cancel'], 'one decision, no read');
    } finally {
      await send('DELETE', '/v1/admin/policies/active', ADMIN_KEY);
    }
  });
});
