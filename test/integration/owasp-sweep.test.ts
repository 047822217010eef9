/**
 * OWASP API Top 10 sweep over EVERY route of the real app (Fastify through `inject`, real Redis,
 * nothing mocked). The route list is read from Fastify's router as the app is built
 * (helpers/owasp-fixtures.ts `captureRoutes`), and the first test fails unless every route is
 * classified in SPEC below, so a new route cannot escape the sweep:
 *
 * - API1 BOLA: each route with a path parameter, called by tenant B (admin, store agent, config
 *   agent with the same agent id as A's, member user, task token) on tenant A's object, answers
 *   exactly what it answers for an unknown id (404 not_found; 403 where B's caller may not use
 *   the route at all), and changes nothing of A. Collection routes show B only B's objects.
 *   The same Idempotency-Key used by tenant B never replays tenant A's answer.
 * - The broker's objects (vault credentials, capability definitions, discovery): both tenants
 *   define some, A's carry a secret marker that no answer to B contains; B's discovery lists B's
 *   capabilities only; and a credential VALUE is in no answer at all, A's own admin's included
 *   (every request the sweep makes goes through `call`, which checks body and headers).
 * - API3 BOPLA / mass assignment: each POST/PUT/PATCH route refuses every field it does not
 *   declare (tenantId, ownerId, approved, status, id, createdAt, mounts, …) with 400
 *   invalid_request pointing at the field, and creates nothing. Another tenant's object named
 *   inside a body is treated exactly like an unknown one.
 * - API5 BFLA: every /v1/admin route, called by a non-admin of the tenant (agent, member,
 *   approver, config agent, admin key without the admin scope, task token), is 403 before the
 *   body is looked at; creating tenants is for the bootstrap admin only.
 *
 * No runner: the one finished task (with an output file) is moved along through the real
 * TaskStore the way the runner does it (helpers/owasp-fixtures.ts `finishTaskWithFile`).
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { mkdir, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { HTTPMethods, LightMyRequestResponse } from 'fastify';
import { z } from 'zod';
import { DEFAULT_POLICIES_TEXT } from '../../harness/policy/policy-set.ts';
import { bearer, createPrincipalWithKey, requestToken } from '../helpers/identity.ts';
import {
  captureRoutes,
  createTenantWithId,
  finishTaskWithFile,
  writeTwinAgentsFile,
  type RegisteredRoute,
} from '../helpers/owasp-fixtures.ts';
import { startStack, type Stack } from '../helpers/stack.ts';
import { auditFixture, inProcessSealer, type AuditFixture } from '../helpers/audit.ts';
import { ApprovalStore } from '../../harness/approvals/approval-store.ts';

const RUN = randomUUID().slice(0, 8);
const BOOTSTRAP_KEY = `bootstrap-${randomUUID()}`;
const TENANT_A = `owasp-a-${RUN}`;
const TENANT_B = `owasp-b-${RUN}`;
/** A marker only tenant A's data contains (task output, file, rate limit override, policy id). */
const SECRET_A = `secret-of-a-${RUN}`;
const LIMIT_A = 987_653;
const SHADOW_ID_A = `shadow-marker-${RUN}`;
/** What B's credential value and capability description carry instead of SECRET_A. */
const PLAIN_B = `plain-of-b-${RUN}`;
/**
 * Every credential value the test stores (both tenants' and the mass assignment sweep's): a value
 * goes into the vault and never comes out, so `call` fails on any answer, A's own included, that
 * contains one (body or headers).
 */
const CREDENTIAL_VALUES: string[] = [];
/** The value of the mass assignment sweep's PUT bodies (refused, but never echoed either). */
const SWEEP_VALUE = `sweep-value-${randomUUID()}`;
CREDENTIAL_VALUES.push(SWEEP_VALUE);
/** Capabilities both tenants define under the same name (A's description carries SECRET_A). */
const COMMON_CAPABILITY = 'common.lookup';
/** Lets every principal of the tenant invoke every capability, so discovery lists the tenant's all. */
const capsPolicy = (tenantId: string) =>
  `${DEFAULT_POLICIES_TEXT}\n@id("caps-for-${tenantId}") permit (principal, action == Airlock::Action::"capabilities.invoke", resource);`;

interface Cred {
  id: string;
  key: string;
  keyId: string;
}
interface World {
  tenantId: string;
  admin: Cred;
  agent: Cred;
  member: Cred;
  approver: Cred;
  /** A user with the admin role whose key only has scope tasks:read. */
  scopedAdmin: Cred;
  /** Config agent `twin`: the same agent id in both tenants. */
  twinKey: string;
  token: { jti: string; token: string };
  userToken: { jti: string; token: string };
  grantDir: string;
  /** A grant only this tenant has; both also have one named `common`. */
  ownGrant: string;
  /** SECRET_A for A, PLAIN_B for B: in the value of `ownCredential` and every capability's description. */
  marker: string;
  /** A credential only this tenant has (header X-Api-Key); both also have a bearer one named `common`. */
  ownCredential: string;
  /** A capability only this tenant has (`only_a_<run>.lookup`); both also define COMMON_CAPABILITY. */
  ownCapability: string;
  /** Tasks of `twin`: A has a queued one and a finished one with an output file; B a queued one. */
  tasks: string[];
  /** Pending approval requests of a queued task of its own (A only): one to approve, one to deny. */
  approvals: string[];
}
type Caller = 'admin' | 'agent' | 'twin' | 'member' | 'approver' | 'scopedAdmin' | 'token';
const keyOf = (w: World, caller: Caller | 'bootstrap'): string =>
  caller === 'bootstrap'
    ? BOOTSTRAP_KEY
    : caller === 'twin'
      ? w.twinKey
      : caller === 'token'
        ? w.token.token
        : w[caller].key;

let stack: Stack;
/** A real AUDIT_DIR, sealed by the real sealer (in-process) once both worlds exist. */
let audit: AuditFixture;
let routes: RegisteredRoute[];
let A: World;
let B: World;
let grantRoot: string;

async function call(
  method: string,
  url: string,
  key: string,
  payload?: unknown,
  idempotencyKey: string | null = randomUUID(),
): Promise<LightMyRequestResponse> {
  const headers: Record<string, string> = bearer(key);
  if (idempotencyKey !== null) headers['idempotency-key'] = `"${idempotencyKey}"`;
  const res = await stack.app.inject({
    method: method as HTTPMethods,
    url,
    headers,
    ...(payload === undefined ? {} : { payload: payload as Record<string, unknown> }),
  });
  // A credential value never comes out of the vault, whoever asks (its own tenant's admin too).
  const answer = `${JSON.stringify(res.headers)}\n${res.body}`;
  for (const value of CREDENTIAL_VALUES) assert.ok(!answer.includes(value), `${method} ${url} answers a credential value`);
  return res;
}

async function ok(res: LightMyRequestResponse | Promise<LightMyRequestResponse>, status = 200) {
  const r = await res;
  assert.equal(r.statusCode, status, r.body);
  return r;
}

/** A capability definition of world w (HTTP GET with w's own credential; its description carries w's marker). */
const capabilityBody = (w: Pick<World, 'marker' | 'ownCredential'>) => ({
  description: `Looks a ticket up (${w.marker})`,
  input: { type: 'object', required: ['id'], additionalProperties: false, properties: { id: { type: 'string' } } },
  risk: 'read',
  implementation: { type: 'http', method: 'GET', url: 'https://tickets.example/api/tickets/{input.id}', credential: w.ownCredential },
});
/** A new credential value (recorded in CREDENTIAL_VALUES) of a credential of world w. */
const credentialBody = (w: Pick<World, 'marker'>) => {
  const value = `${w.marker}-value-${randomUUID()}`;
  CREDENTIAL_VALUES.push(value);
  return { type: 'header', header: 'X-Api-Key', value };
};

async function buildWorld(tenantId: string, twinKey: string, ownGrant: string, marker: string): Promise<World> {
  const admin = await createTenantWithId(stack, BOOTSTRAP_KEY, tenantId);
  const adminKey = admin.adminKey;
  const agent = await createPrincipalWithKey(stack, adminKey, 'agent');
  const member = await createPrincipalWithKey(stack, adminKey, 'user', { roles: ['member'] });
  const approver = await createPrincipalWithKey(stack, adminKey, 'user', { roles: ['approver'] });
  const scopedAdmin = await createPrincipalWithKey(stack, adminKey, 'user', { roles: ['admin'] }, { scopes: ['tasks:read'] });
  const token = (await ok(requestToken(stack, agent.key))).json();
  const userToken = (await ok(requestToken(stack, member.key, { mayAct: agent.id }))).json();
  const grantDir = path.join(grantRoot, tenantId);
  await mkdir(grantDir);
  for (const name of ['common', ownGrant]) {
    await ok(
      call('PUT', `/v1/admin/grants/${name}`, adminKey, { hostPath: grantDir, mode: 'rw', maxBytes: 1_000_000, allowedAgents: ['*'] }),
      201,
    );
  }
  // The broker's objects, through the real admin API: a bearer credential `common` and one of
  // its own, a capability COMMON_CAPABILITY and one of its own; a policy that lets everyone of
  // the tenant invoke them all (discovery lists every capability of the tenant, none of another).
  const side = tenantId === TENANT_A ? 'a' : 'b';
  const objects = { marker, ownCredential: `cred-only-${side}-${RUN}`, ownCapability: `only_${side}_${RUN}.lookup` };
  const commonValue = `common-value-${randomUUID()}`;
  CREDENTIAL_VALUES.push(commonValue);
  await ok(call('PUT', '/v1/admin/credentials/common', adminKey, { type: 'bearer', value: commonValue }), 201);
  await ok(call('PUT', `/v1/admin/credentials/${objects.ownCredential}`, adminKey, credentialBody(objects)), 201);
  for (const name of [COMMON_CAPABILITY, objects.ownCapability]) {
    await ok(call('PUT', `/v1/admin/capabilities/${name}`, adminKey, capabilityBody(objects)), 201);
  }
  await ok(call('PUT', '/v1/admin/policies/active', adminKey, { text: capsPolicy(tenantId) }));
  return {
    ...objects,
    tenantId,
    admin: { id: admin.adminId, key: adminKey, keyId: admin.adminKeyId },
    agent,
    member,
    approver,
    scopedAdmin,
    twinKey,
    token: { jti: token.jti, token: token.token },
    userToken: { jti: userToken.jti, token: userToken.token },
    grantDir,
    ownGrant,
    tasks: [],
    approvals: [],
  };
}

/** A pending approval request of `taskId`, as the broker makes one (harness/broker/stages/approval.ts). */
async function pendingApproval(w: World, taskId: string, seq: number): Promise<string> {
  const id = randomUUID();
  const now = Date.now();
  await new ApprovalStore(stack.deps.redis, { retentionMs: 3_600_000 }).create({
    id, tenantId: w.tenantId, taskId, agentId: 'twin', principalKind: 'agent', capability: 'payments.refund', risk: 'irreversible',
    seq, callKey: `${taskId}:${seq}:payments.refund:${'0'.repeat(64)}`, input: { secret: SECRET_A }, inputSha256: '0'.repeat(64),
    bindingSha256: '1'.repeat(64), policyIds: ['irreversible-needs-approval'], taskUrl: `/v1/tasks/${taskId}`,
    createdAt: new Date(now).toISOString(), deadline: new Date(now + 3_600_000).toISOString(),
  });
  return id;
}

before(async () => {
  audit = await auditFixture();
  grantRoot = await mkdtemp(path.join(tmpdir(), 'airlock-owasp-grants-'));
  const twins = await writeTwinAgentsFile([TENANT_A, TENANT_B]);
  const captured = await captureRoutes(() =>
    startStack({
      runner: false,
      harnessEnv: {
        AIRLOCK_ADMIN_API_KEY: BOOTSTRAP_KEY,
        AIRLOCK_ADMIN_TENANT: `owasp-boot-${RUN}`,
        AIRLOCK_AGENTS_FILE: twins.file,
        GRANT_ROOTS: grantRoot,
        AUDIT_DIR: audit.dir,
      },
    }),
  );
  stack = captured.result;
  routes = captured.routes;
  A = await buildWorld(TENANT_A, twins.keys[TENANT_A]!, `grant-only-a-${RUN}`, SECRET_A);
  B = await buildWorld(TENANT_B, twins.keys[TENANT_B]!, `grant-only-b-${RUN}`, PLAIN_B);

  // Tenant A: a queued task, a finished one with output and a file, a quota override, a shadow policy.
  const submit = (w: World) => ok(call('POST', '/v1/tasks', w.twinKey, { runtime: 'javascript', code: '1' }), 201);
  A.tasks.push((await submit(A)).json().id, (await submit(A)).json().id);
  await finishTaskWithFile(stack, A.tasks[1]!, `${SECRET_A}\n`, { path: 'report.txt', content: SECRET_A });
  B.tasks.push((await submit(B)).json().id);
  // A's approval requests belong to a queued task of their own (cancelling A.tasks leaves them pending).
  const asking = (await submit(A)).json().id as string;
  A.approvals.push(await pendingApproval(A, asking, 0), await pendingApproval(A, asking, 1));
  await ok(call('PUT', '/v1/admin/limits', A.admin.key, { tenant: { readsPerMin: LIMIT_A } }));
  await ok(call('PUT', '/v1/admin/policies/shadow', A.admin.key, { text: `@id("${SHADOW_ID_A}") permit (principal, action, resource);` }));
  // Both tenants minted tokens: seal their audit entries and sign checkpoints.
  const sealer = inProcessSealer(stack.deps.redis, audit);
  for (let i = 0; i < 100 && (sealer.logSize(`tenants/${TENANT_A}`) === 0 || sealer.logSize(`tenants/${TENANT_B}`) === 0); i++) await sealer.tick();
  await sealer.commit();
  sealer.checkpoint();
  await sealer.close();
});

after(async () => {
  await stack.deps.redis.del(
    ...[TENANT_A, TENANT_B].flatMap((t) => [`airlock:policies:{${t}}`, `airlock:vault:{${t}}`, `airlock:capabilities:{${t}}`]),
  );
  await stack.close();
});

/* ------------------------------------------------------------------------------------------ */
/* The classification of every route. A route the router has and SPEC lacks fails the sweep.  */
/* ------------------------------------------------------------------------------------------ */

interface BodySpec {
  /** Who may call the route (the extra fields must be refused for an allowed caller). */
  caller: Caller | 'bootstrap';
  /** A valid body; the sweep adds one unknown field at a time. */
  base: () => Record<string, unknown>;
  /** Unknown fields nested in legal ones: [body, JSON pointer of the refused field]. */
  nested?: () => [Record<string, unknown>, string][];
}
interface RouteSpec {
  /** Outside /v1: no authentication, no tenant data. */
  public?: true;
  /**
   * The MCP endpoint: authenticated like /v1, and each tool calls the /v1 routes with the
   * caller's own credential (so the sweep of those routes covers it; test/integration/mcp.test.ts
   * checks tenancy through it).
   */
  mcp?: true;
  /**
   * A web console page (/console, HTML): authenticated by the console session cookie only (an
   * Authorization header is not a console credential), and every read or write goes through the
   * /v1 routes swept here with the session's user. Swept below ('Console pages'): tenant B's
   * session on A's objects gets what an unknown id gets; POSTs need the session's CSRF token.
   */
  console?: true;
  /** Route with a path parameter: B on A's object ≡ B on an unknown id. */
  object?: {
    payload?: (w: World) => unknown;
    /** What the object's own tenant gets (the control that the URL names a real object; default 200). */
    ownerStatus?: number;
    /** What B's admin gets, for A's object and for an unknown one alike (default 404). */
    adminStatus?: number;
    /**
     * A PUT that creates the object in the caller's tenant (adminStatus 201): checks that B's
     * answer is B's own new object (never A's, replaced); the sweep deletes it afterwards.
     */
    created?: (body: Record<string, unknown>, label: string) => void;
  };
  /**
   * Tenant collection: which B callers read it, and what exactly B must see (`text`: the answer
   * is not JSON, `expect` gets `{ text }`).
   */
  collection?: { callers: Caller[]; text?: true; expect: (body: Record<string, unknown>, caller: Caller) => void };
  body?: BodySpec;
}

const ids = (body: Record<string, unknown>) => (body['items'] as { id: string }[]).map((i) => i.id).toSorted();
const POLICY_TEXT = '@id("x") permit (principal, action, resource);';
const keysBody: BodySpec = { caller: 'admin', base: () => ({ name: 'k' }) };
const names = (body: Record<string, unknown>) => (body['items'] as { name: string }[]).map((i) => i.name);
/** A PUT's answer is a new object (created now), not a replaced one (whose createdAt is older). */
const isNew = (body: Record<string, unknown>, label: string) => assert.equal(body['createdAt'], body['updatedAt'], `${label}: replaced, not created`);
const allB: Caller[] = ['admin', 'agent', 'twin', 'member', 'token'];
const noBody: BodySpec = { caller: 'admin', base: () => ({}) };

const SPEC: Record<string, RouteSpec> = {
  'GET /healthz': { public: true },
  'GET /readyz': { public: true },
  'GET /openapi.json': { public: true },
  'GET /docs': { public: true },
  // The operator's scrape (METRICS_TOKEN); 404 in the sweep's stack, which sets none.
  'GET /metrics': { public: true },
  'POST /mcp': { mcp: true },
  'GET /console': { console: true },
  'GET /console/sign-in': { console: true },
  'POST /console/sign-in': { console: true },
  'POST /console/sign-out': { console: true },
  'GET /console/static/:file': { console: true },
  'GET /console/approvals': { console: true },
  'GET /console/approvals/:id': { console: true },
  'POST /console/approvals/:id/decide': { console: true },
  'GET /console/tasks': { console: true },
  'GET /console/tasks/:id': { console: true },
  'GET /console/admin': { console: true },
  'GET /console/admin/agents/:id': { console: true },
  'POST /console/admin/agents/:id/keys': { console: true },
  'GET /console/admin/users/:id': { console: true },
  'POST /console/admin/users/:id/keys': { console: true },
  'POST /console/admin/keys/:keyId/revoke': { console: true },
  'GET /console/admin/policies': { console: true },
  'POST /console/admin/policies': { console: true },
  'POST /console/admin/agents': { console: true },
  'POST /console/admin/users': { console: true },
  'POST /console/admin/agents/:id/disable': { console: true },
  'POST /console/admin/users/:id/disable': { console: true },
  'POST /console/admin/capabilities': { console: true },
  'POST /console/admin/credentials': { console: true },
  'POST /console/admin/grants': { console: true },
  'POST /console/admin/limits': { console: true },

  // The webhook signing secret: B's admin sees whether B has one, never A's secret.
  'GET /v1/admin/webhooks': {
    collection: { callers: ['admin'], expect: (body) => assert.equal(typeof body['configured'], 'boolean') },
  },
  'POST /v1/admin/webhooks/secret': { body: { caller: 'admin', base: () => ({}) } },
  // Same for everyone of any tenant: the runtimes and the configured limits, no tenant data.
  'GET /v1/runtimes': {
    collection: {
      callers: ['admin', 'agent', 'twin', 'member', 'token'],
      expect: (body) => assert.equal((body['runtimes'] as unknown[]).length, 5),
    },
  },

  'POST /v1/tasks': {
    body: {
      caller: 'twin',
      base: () => ({ runtime: 'python', code: 'print(1)', mounts: [{ grant: 'common', path: '/mnt/c', mode: 'ro' }] }),
      nested: () => [
        [{ runtime: 'python', code: '1', mounts: [{ grant: 'common', path: '/mnt/c', mode: 'ro', tenantId: TENANT_B }] }, '/body/mounts/0/tenantId'],
        [{ runtime: 'python', code: '1', mounts: [{ grant: 'common', path: '/mnt/c', mode: 'ro', hostPath: '/' }] }, '/body/mounts/0/hostPath'],
        [{ runtime: 'javascript', code: '1', metadata: { userId: 'u', tenantId: TENANT_B } }, '/body/metadata/tenantId'],
      ],
    },
  },
  'GET /v1/tasks': {
    collection: {
      callers: ['admin', 'agent', 'twin', 'member', 'token'],
      // Only the caller's own tasks: B's twin sees B's twin task, never A's twin tasks.
      expect: (body, caller) => assert.deepEqual(ids(body), caller === 'twin' ? B.tasks : []),
    },
  },
  'GET /v1/tasks/:id': { object: {} },
  'DELETE /v1/tasks/:id': { object: {} },
  'GET /v1/tasks/:id/files/*': { object: {} },
  'GET /v1/tasks/:id/events': { object: {} },
  'GET /v1/tasks/:id/trace': { object: {} },

  // The audit log: B's admin reads B's entries only; anyone of B checks B's log, never A's.
  'GET /v1/audit': {
    collection: {
      callers: ['admin'],
      expect: (body) => {
        const items = body['items'] as { tenant?: string }[];
        assert.ok(items.length > 0, 'B has entries');
        assert.ok(items.every((e) => e.tenant === TENANT_B));
      },
    },
  },
  'GET /v1/audit/verify': {
    collection: { callers: ['admin'], expect: (body) => assert.equal(body['ok'], true) },
  },
  'GET /v1/audit/checkpoint': {
    collection: { callers: ['admin', 'agent', 'twin', 'member', 'token'], expect: (body) => assert.match(String(body['origin']), new RegExp(`/tenants/${TENANT_B}$`)) },
  },
  'GET /v1/audit/public-key': {
    collection: { callers: ['admin', 'agent', 'twin', 'member', 'token'], expect: (body) => assert.match(String(body['verifierKey']), new RegExp(`^[^+]*/tenants/${TENANT_B}\\+`)) },
  },
  'GET /v1/audit/consistency': {
    collection: { callers: ['admin', 'agent', 'twin', 'member', 'token'], expect: (body) => assert.deepEqual(body['hashes'], []) },
  },

  'POST /v1/tokens': { body: { caller: 'agent', base: () => ({ scope: 'tasks:read' }) } },
  'DELETE /v1/tokens/:jti': { object: { ownerStatus: 204 } },

  // Approvals: only approvers and admins of the tenant read and decide them; B sees none of A's.
  'GET /v1/approvals': {
    collection: { callers: ['admin', 'approver'], expect: (body) => assert.deepEqual(body['items'], []) },
  },
  'GET /v1/approvals/:id': { object: {} },
  'POST /v1/approvals/:id/approve': { object: { payload: () => ({}) }, body: { caller: 'approver', base: () => ({ reason: 'r' }) } },
  'POST /v1/approvals/:id/deny': { object: { payload: () => ({}) }, body: { caller: 'approver', base: () => ({ reason: 'r' }) } },

  'POST /v1/admin/tenants': {
    body: {
      caller: 'bootstrap',
      base: () => ({ id: `owasp-new-${RUN}`, name: 'n', admin: { name: 'a' } }),
      nested: () => [
        [{ id: `owasp-new-${RUN}`, name: 'n', admin: { name: 'a', roles: ['admin'] } }, '/body/admin/roles'],
        [{ id: `owasp-new-${RUN}`, name: 'n', admin: { name: 'a', tenantId: TENANT_A } }, '/body/admin/tenantId'],
      ],
    },
  },
  'GET /v1/admin/agents': {
    collection: { callers: ['admin'], expect: (body) => assert.deepEqual(ids(body), [B.agent.id]) },
  },
  'POST /v1/admin/agents': { body: { caller: 'admin', base: () => ({ name: 'n' }) } },
  'GET /v1/admin/agents/:id': { object: {} },
  'GET /v1/admin/agents/:id/keys': { object: {} },
  'POST /v1/admin/agents/:id/keys': { object: { payload: () => ({}), ownerStatus: 201 }, body: keysBody },
  'POST /v1/admin/agents/:id/disable': { object: {}, body: noBody },
  'GET /v1/admin/users': {
    collection: {
      callers: ['admin'],
      expect: (body) => assert.deepEqual(ids(body), [B.admin.id, B.member.id, B.approver.id, B.scopedAdmin.id].toSorted()),
    },
  },
  'POST /v1/admin/users': { body: { caller: 'admin', base: () => ({ name: 'n' }) } },
  'GET /v1/admin/users/:id': { object: {} },
  'GET /v1/admin/users/:id/keys': { object: {} },
  'POST /v1/admin/users/:id/keys': { object: { payload: () => ({}), ownerStatus: 201 }, body: keysBody },
  'POST /v1/admin/users/:id/disable': { object: {}, body: noBody },
  'DELETE /v1/admin/keys/:keyId': { object: {} },

  'GET /v1/admin/grants': {
    collection: {
      callers: ['admin'],
      expect: (body) =>
        assert.deepEqual(
          (body['items'] as { name: string; hostPath: string }[]).map((g) => [g.name, g.hostPath]),
          [['common', B.grantDir], [B.ownGrant, B.grantDir]],
        ),
    },
  },
  // Grants are named per tenant: B's PUT on a name only A has creates B's own grant (201, as for
  // an unknown name), never replaces A's (200).
  'PUT /v1/admin/grants/:name': {
    object: {
      payload: (w) => ({ hostPath: w.grantDir, mode: 'ro', maxBytes: 10, allowedAgents: ['*'] }),
      adminStatus: 201,
      created: (body, label) => assert.equal(body['hostPath'], B.grantDir, `${label}: B's own new grant`),
    },
    body: {
      caller: 'admin',
      base: () => ({ hostPath: A.grantDir, mode: 'ro', maxBytes: 10, allowedAgents: ['*'] }),
    },
  },
  'GET /v1/admin/grants/:name': { object: {} },
  'DELETE /v1/admin/grants/:name': { object: { ownerStatus: 204 } },

  'GET /v1/admin/limits': {
    collection: { callers: ['admin'], expect: (body) => assert.deepEqual(body['overrides'], { agents: {}, keys: {} }) },
  },
  'PUT /v1/admin/limits': {
    body: {
      caller: 'admin',
      base: () => ({ tenant: { readsPerMin: LIMIT_A } }),
      nested: () => [[{ tenant: { readsPerMin: 1, tenantId: TENANT_B } }, '/body/tenant/tenantId']],
    },
  },

  'GET /v1/admin/storage': {
    collection: { callers: ['admin'], expect: (body) => assert.equal(body['tenantId'], B.tenantId) },
  },
  // Another tenant's storage is the operator's alone: B's admin gets the same 403 for A's
  // tenant as for one that does not exist; A's own admin reads its own, and writes nothing.
  'GET /v1/admin/storage/tenants/:tenantId': { object: { adminStatus: 403 } },
  'PUT /v1/admin/storage/tenants/:tenantId': {
    object: { payload: () => ({ quotaBytes: 1 }), adminStatus: 403, ownerStatus: 403 },
    body: { caller: 'bootstrap', base: () => ({ quotaBytes: 10 ** 12, retentionMs: 60_000 }) },
  },

  'GET /v1/admin/policies': {
    collection: {
      callers: ['admin'],
      expect: (body) => {
        // B's active set is B's own (the shipped policies plus B's capability permit), no shadow.
        assert.equal(body['shadow'], null);
        const active = body['active'] as { isDefault: boolean; text: string; policyIds: string[] };
        assert.equal(active.isDefault, false);
        assert.equal(active.text, capsPolicy(TENANT_B));
        assert.ok(active.policyIds.includes(`caps-for-${TENANT_B}`));
        assert.equal(body['version'], 1);
      },
    },
  },
  'POST /v1/admin/policies/validate': { body: { caller: 'admin', base: () => ({ text: POLICY_TEXT }) } },
  'PUT /v1/admin/policies/active': { body: { caller: 'admin', base: () => ({ text: POLICY_TEXT }) } },
  'DELETE /v1/admin/policies/active': {},
  'PUT /v1/admin/policies/shadow': { body: { caller: 'admin', base: () => ({ text: POLICY_TEXT }) } },
  'DELETE /v1/admin/policies/shadow': {},

  // The vault: a value goes in and never comes out (`call` checks every answer). Credentials are
  // named per tenant like grants: B's PUT on a name only A has creates B's own (201), never
  // replaces A's (which would be 200).
  'GET /v1/admin/credentials': {
    collection: {
      callers: ['admin'],
      expect: (body) => {
        assert.deepEqual(names(body), ['common', B.ownCredential].toSorted());
        for (const item of body['items'] as Record<string, unknown>[]) {
          assert.deepEqual(Object.keys(item).toSorted(), ['createdAt', 'keyId', 'name', 'type', 'updatedAt', ...(item['type'] === 'header' ? ['header'] : [])].toSorted());
        }
      },
    },
  },
  'PUT /v1/admin/credentials/:name': {
    object: {
      payload: (w) => credentialBody(w),
      adminStatus: 201,
      created: (body, label) => {
        assert.deepEqual([body['type'], body['header']], ['header', 'X-Api-Key'], label);
        isNew(body, label);
      },
    },
    body: { caller: 'admin', base: () => ({ type: 'header', header: 'X-Api-Key', value: SWEEP_VALUE }) },
  },
  'GET /v1/admin/credentials/:name': { object: {} },
  'DELETE /v1/admin/credentials/:name': { object: { ownerStatus: 204 } },

  // The capability registry: per tenant too; B's COMMON_CAPABILITY is B's definition.
  'GET /v1/admin/capabilities': {
    collection: {
      callers: ['admin'],
      expect: (body) => {
        assert.deepEqual(names(body), [COMMON_CAPABILITY, B.ownCapability].toSorted());
        for (const item of body['items'] as Record<string, unknown>[]) assert.deepEqual(item, { ...item, ...capabilityBody(B) });
      },
    },
  },
  'PUT /v1/admin/capabilities/:name': {
    object: {
      payload: (w) => capabilityBody(w),
      adminStatus: 201,
      created: (body, label) => {
        assert.equal(body['description'], capabilityBody(B).description, `${label}: B's own new capability`);
        isNew(body, label);
      },
    },
    body: {
      caller: 'admin',
      base: () => capabilityBody(A),
      nested: () => [
        [{ ...capabilityBody(A), implementation: { ...capabilityBody(A).implementation, tenantId: TENANT_B } }, '/body/implementation/tenantId'],
        [{ ...capabilityBody(A), implementation: { ...capabilityBody(A).implementation, hostPath: '/' } }, '/body/implementation/hostPath'],
        [{ ...capabilityBody(A), rateLimit: { perMinute: 1, tenantId: TENANT_B } }, '/body/rateLimit/tenantId'],
        [{ ...capabilityBody(A), compensation: { capability: COMMON_CAPABILITY, tenantId: TENANT_B } }, '/body/compensation/tenantId'],
      ],
    },
  },
  'GET /v1/admin/capabilities/:name': { object: {} },
  'DELETE /v1/admin/capabilities/:name': { object: { ownerStatus: 204 } },

  // Discovery: every caller of B may invoke every capability of B (B's policy), so B's callers
  // see exactly B's two, with B's descriptions, and never an implementation (URL, credential).
  'GET /v1/capabilities': {
    collection: {
      callers: allB,
      expect: (body) => {
        assert.deepEqual(names(body), [COMMON_CAPABILITY, B.ownCapability].toSorted());
        for (const item of body['items'] as Record<string, unknown>[]) {
          assert.equal(item['description'], capabilityBody(B).description);
          assert.deepEqual(Object.keys(item).toSorted(), ['description', 'input', 'name', 'risk', 'timeoutMs']);
        }
      },
    },
  },
  'GET /v1/capabilities.d.ts': {
    collection: {
      callers: allB,
      text: true,
      expect: (body) => {
        const text = String(body['text']);
        const declared = [...text.matchAll(/call\(name: "([^"]+)"/g)].map((m) => m[1]);
        assert.deepEqual(declared.toSorted(), [COMMON_CAPABILITY, B.ownCapability].toSorted());
        assert.ok(text.includes(PLAIN_B), 'B’s descriptions');
        assert.ok(!text.includes(`only_a_${RUN}`), 'A’s capability namespace');
        assert.ok(!text.includes('tickets.example'), 'an implementation URL');
      },
    },
  },
};

const routeKey = (r: { method: string; url: string }) => `${r.method} ${r.url}`;
const isAdminRoute = (url: string) => url.startsWith('/v1/admin/');
const hasParam = (url: string) => /[:*]/.test(url);
const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH']);

/** Every registered route but the HEAD twins Fastify adds for GET routes. */
const swept = () => routes.filter((r) => r.method !== 'HEAD');
/** The GET routes plus their HEAD twins. */
const withHead = (r: RegisteredRoute) => (r.method === 'GET' ? [r, { ...r, method: 'HEAD' }] : [r]);
const spec = (r: { method: string; url: string }): RouteSpec => {
  const s = SPEC[routeKey({ method: r.method === 'HEAD' ? 'GET' : r.method, url: r.url })];
  assert.ok(s, `${routeKey(r)} is not in SPEC`);
  return s;
};

/** Ids of objects, one per path parameter kind. */
interface ObjectIds {
  task: string;
  agent: string;
  user: string;
  keyId: string;
  grant: string;
  credential: string;
  capability: string;
  jti: string;
  file: string;
  tenant: string;
  /** Approval requests: [0] for GET and approve, [1] for deny. */
  approvals: [string, string];
}
const hex = (n: number) => randomBytes(n).toString('hex').slice(0, n);
const unknownIds = (): ObjectIds => ({
  task: randomUUID(),
  agent: `agt_${hex(20)}`,
  user: `usr_${hex(20)}`,
  keyId: hex(24),
  grant: `no-such-grant-${hex(8)}`,
  credential: `no-such-credential-${hex(8)}`,
  capability: `no_such.c${hex(8)}`,
  jti: randomUUID(),
  file: 'report.txt',
  tenant: `no-such-tenant-${hex(8)}`,
  approvals: [randomUUID(), randomUUID()],
});
/** Tenant A's objects, in two sets so every object of A is the target of every route of its kind. */
const objectSets = (w: World): ObjectIds[] => {
  const named = {
    grant: w.ownGrant, credential: w.ownCredential, capability: w.ownCapability, file: 'report.txt', tenant: w.tenantId,
    approvals: [w.approvals[0]!, w.approvals[1]!] as [string, string],
  };
  return [
    { ...named, task: w.tasks[0]!, agent: w.agent.id, user: w.member.id, keyId: w.agent.keyId, jti: w.token.jti },
    { ...named, task: w.tasks[1]!, agent: w.agent.id, user: w.admin.id, keyId: w.member.keyId, jti: w.userToken.jti },
  ];
};

/** The route's URL for these objects; fails for a path parameter it does not know (extend it). */
function fill(url: string, o: ObjectIds): string {
  const out = url
    .replace(/^\/v1\/tasks\/:id/, `/v1/tasks/${o.task}`)
    .replace(/^\/v1\/approvals\/:id\/deny$/, `/v1/approvals/${o.approvals[1]}/deny`)
    .replace(/^\/v1\/approvals\/:id/, `/v1/approvals/${o.approvals[0]}`)
    .replace(/^\/v1\/admin\/agents\/:id/, `/v1/admin/agents/${o.agent}`)
    .replace(/^\/v1\/admin\/users\/:id/, `/v1/admin/users/${o.user}`)
    .replace(/:keyId$/, o.keyId)
    .replace(/^\/v1\/admin\/grants\/:name$/, `/v1/admin/grants/${o.grant}`)
    .replace(/^\/v1\/admin\/credentials\/:name$/, `/v1/admin/credentials/${o.credential}`)
    .replace(/^\/v1\/admin\/capabilities\/:name$/, `/v1/admin/capabilities/${o.capability}`)
    .replace(/:jti$/, o.jti)
    .replace(/:tenantId$/, o.tenant)
    .replace(/\*$/, o.file);
  assert.ok(!hasParam(out), `fill() does not know the parameters of ${url}: add them`);
  return out;
}

/* ------------------------------------------------------------------------------------------ */
/* Tenant state, to prove that nothing changed.                                               */
/* ------------------------------------------------------------------------------------------ */

/** Everything a tenant's own admin and agents can see of it, plus whether its credentials still work. */
async function snapshot(w: World): Promise<string> {
  const out: [string, number, string][] = [];
  const see = async (label: string, url: string, key: string) => {
    const res = await call('GET', url, key, undefined, null);
    out.push([label, res.statusCode, res.body]);
    return res;
  };
  const agents = await see('agents', '/v1/admin/agents?limit=100', w.admin.key);
  const users = await see('users', '/v1/admin/users?limit=100', w.admin.key);
  for (const a of agents.json().items as { id: string }[]) await see('keys', `/v1/admin/agents/${a.id}/keys`, w.admin.key);
  for (const u of users.json().items as { id: string }[]) await see('keys', `/v1/admin/users/${u.id}/keys`, w.admin.key);
  const grants = await see('grants', '/v1/admin/grants', w.admin.key);
  for (const g of grants.json().items as { name: string }[]) await see('grant', `/v1/admin/grants/${g.name}`, w.admin.key);
  const credentials = await see('credentials', '/v1/admin/credentials', w.admin.key);
  for (const c of credentials.json().items as { name: string }[]) {
    await see('credential', `/v1/admin/credentials/${c.name}`, w.admin.key);
    // The value itself (only the broker opens it), hashed: a replaced value shows here.
    const revealed = await stack.deps.credentials.reveal(w.tenantId, c.name);
    out.push(['value', 0, createHash('sha256').update(JSON.stringify(revealed)).digest('hex')]);
  }
  const capabilities = await see('capabilities', '/v1/admin/capabilities', w.admin.key);
  for (const c of capabilities.json().items as { name: string }[]) await see('capability', `/v1/admin/capabilities/${c.name}`, w.admin.key);
  await see('discovery', '/v1/capabilities', w.twinKey);
  await see('declarations', '/v1/capabilities.d.ts', w.member.key);
  await see('limits', '/v1/admin/limits', w.admin.key);
  await see('storage', `/v1/admin/storage/tenants/${w.tenantId}`, BOOTSTRAP_KEY);
  await see('policies', '/v1/admin/policies', w.admin.key);
  for (const status of ['pending', 'approved', 'denied']) await see('approvals', `/v1/approvals?status=${status}&limit=100`, w.approver.key);
  const tasks = await see('tasks', '/v1/tasks?limit=100', w.twinKey);
  for (const t of tasks.json().items as { id: string; status: string }[]) {
    await see('task', `/v1/tasks/${t.id}`, w.twinKey);
    if (t.status === 'succeeded') {
      await see('file', `/v1/tasks/${t.id}/files/report.txt`, w.twinKey);
      await see('events', `/v1/tasks/${t.id}/events`, w.twinKey);
    }
  }
  for (const t of tasks.json().items as { id: string }[]) {
    out.push(['job', 0, JSON.stringify((await stack.deps.queue.getJob(t.id))?.data ?? null)]);
  }
  // Every credential still authenticates (no key revoked, no principal disabled, no token revoked).
  for (const caller of ['admin', 'agent', 'member', 'approver', 'scopedAdmin', 'token'] as const) {
    out.push([`auth ${caller}`, (await call('GET', '/v1/tasks', keyOf(w, caller), undefined, null)).statusCode, '']);
  }
  const exchange = await call('POST', '/v1/tokens', w.agent.key, { subjectToken: w.userToken.token }, null);
  out.push(['user token', exchange.statusCode, '']);
  return JSON.stringify(out);
}

async function unchanged<T>(what: () => Promise<T>): Promise<T> {
  const jobs = async () => [await stack.deps.queue.getJobCounts(), await stack.deps.containerQueue.getJobCounts()];
  const [a, b, queued] = [await snapshot(A), await snapshot(B), await jobs()];
  const result = await what();
  assert.equal(await snapshot(A), a, "tenant A's state changed");
  assert.equal(await snapshot(B), b, "tenant B's state changed");
  assert.deepEqual(await jobs(), queued, 'the queues changed');
  return result;
}

/* ------------------------------------------------------------------------------------------ */
/* Assertions.                                                                                */
/* ------------------------------------------------------------------------------------------ */

function assertProblem(res: LightMyRequestResponse, status: number, code: string, label: string, method = 'GET') {
  assert.equal(res.statusCode, status, `${label}: ${res.body}`);
  assert.equal(res.headers['content-type'], 'application/problem+json; charset=utf-8', label);
  // HEAD: the headers of the problem, no body.
  if (method === 'HEAD') return assert.equal(res.body, '', label);
  const body = res.json();
  assert.equal(body.code, code, label);
  assert.equal(body.status, status, label);
  assert.equal(body.type, `https://airlock.dev/problems/${code}`, label);
}

/** What must be equal between the answer for A's object and for an unknown one (no oracle). */
function shape(res: LightMyRequestResponse, objectIds: readonly string[]) {
  let body: unknown = res.body;
  if (body !== '' && String(res.headers['content-type']).startsWith('application/problem+json')) {
    const problem = res.json() as Record<string, unknown>;
    let detail = String(problem['detail']);
    for (const id of objectIds) detail = detail.replaceAll(id, '<id>');
    body = { ...problem, instance: '<instance>', detail };
  } else if (body !== '' && res.statusCode < 300) {
    body = Object.keys(res.json() as object).toSorted();
  }
  return { status: res.statusCode, headers: Object.keys(res.headers).toSorted(), body };
}

/** 403 code a non-admin caller of tenant w gets on an admin route. */
const nonAdminCode = (caller: Caller) =>
  caller === 'token' || caller === 'scopedAdmin' ? 'insufficient_scope' : 'forbidden';

/* ------------------------------------------------------------------------------------------ */
/* The sweep.                                                                                 */
/* ------------------------------------------------------------------------------------------ */

describe('API9 inventory: the sweep covers every route the router has', () => {
  test('every registered route is classified, and every classification names a registered route', (t) => {
    const registered = swept().map(routeKey).toSorted();
    t.diagnostic(`routes swept (${registered.length}): ${registered.join(', ')}`);
    assert.deepEqual(registered, Object.keys(SPEC).toSorted());
    // Fastify adds a HEAD for each GET and nothing else.
    assert.deepEqual(
      routes.filter((r) => r.method === 'HEAD').map((r) => r.url).toSorted(),
      routes.filter((r) => r.method === 'GET').map((r) => r.url).toSorted(),
    );
    for (const r of swept()) {
      const s = spec(r);
      const label = routeKey(r);
      if (!r.url.startsWith('/v1/')) {
        assert.ok(s.public || s.mcp || s.console, `${label}: only public routes, the MCP endpoint and the console live outside /v1`);
        continue;
      }
      assert.equal(Boolean(s.object), hasParam(r.url), `${label}: routes with a path parameter are object routes`);
      assert.equal(Boolean(s.body), BODY_METHODS.has(r.method), `${label}: POST/PUT/PATCH routes are swept for mass assignment`);
      assert.equal(
        Boolean(s.collection),
        r.method === 'GET' && !hasParam(r.url),
        `${label}: GET routes without a parameter are tenant collections`,
      );
      // Every object route's URL can be built (fill fails on an unknown parameter).
      if (s.object) fill(r.url, unknownIds());
    }
  });
});

describe('API1 BOLA: tenant B on tenant A’s objects gets exactly what an unknown id gets', () => {
  const bCallers: Caller[] = ['admin', 'agent', 'twin', 'member', 'token'];

  /** What B's caller must get on this route, for A's object and an unknown one alike. */
  const expected = (r: RegisteredRoute, caller: Caller): [number, string] => {
    if (!isAdminRoute(r.url)) return [404, 'not_found'];
    if (caller !== 'admin') return [403, nonAdminCode(caller)];
    const status = spec(r).object?.adminStatus ?? 404;
    return [status, status === 404 ? 'not_found' : status === 403 ? 'forbidden' : ''];
  };

  test('every object route, every B caller, every A object: same answer as an unknown id, A untouched', async () => {
    const createdInB: string[] = [];
    let checked = 0;
    await unchanged(async () => {
      for (const r of swept().filter((x) => hasParam(x.url) && !spec(x).console).flatMap(withHead)) {
        const payload = spec(r).object?.payload;
        for (const caller of bCallers) {
          for (const objects of objectSets(A)) {
            const unknown = unknownIds();
            const label = `${caller} of B: ${r.method} ${fill(r.url, objects)}`;
            const key = keyOf(B, caller);
            const body = r.method === 'HEAD' ? undefined : payload?.(B);
            const onA = await call(r.method, fill(r.url, objects), key, body);
            const onUnknown = await call(r.method, fill(r.url, unknown), key, body);
            const [status, code] = expected(r, caller);
            if (code) {
              assertProblem(onA, status, code, label, r.method);
            } else {
              // A PUT creating B's own object under the name: both are B's, new, and removed below.
              const { created } = spec(r).object!;
              assert.ok(created, `${label}: a ${status} needs object.created in SPEC`);
              assert.equal(onA.statusCode, status, `${label}: ${onA.body}`);
              assert.equal(onUnknown.statusCode, status, `${label} (unknown): ${onUnknown.body}`);
              created(onA.json(), label);
              created(onUnknown.json(), `${label} (unknown)`);
              createdInB.push(fill(r.url, objects), fill(r.url, unknown));
            }
            assert.deepEqual(
              shape(onA, Object.values(objects).flat()),
              shape(onUnknown, Object.values(unknown).flat()),
              `${label}: differs from an unknown id`,
            );
            assert.ok(!onA.body.includes(SECRET_A), `${label}: leaks A's data`);
            // B's objects created by the PUT are removed before the snapshot is compared.
            for (const url of createdInB.splice(0)) await ok(call('DELETE', url, B.admin.key), 204);
            checked++;
          }
        }
      }
    });
    assert.ok(checked >= 150, `only ${checked} requests checked`);
  });

  test('the twin of A (same agent id, tenant B) cannot read, stream, download or cancel A’s twin tasks', async () => {
    // The strongest BOLA case: only the tenant differs from the owner of the tasks.
    await unchanged(async () => {
      for (const id of A.tasks) {
        for (const [method, url] of [
          ['GET', `/v1/tasks/${id}`],
          ['GET', `/v1/tasks/${id}/events`],
          ['GET', `/v1/tasks/${id}/files/report.txt`],
          ['DELETE', `/v1/tasks/${id}`],
        ] as const) {
          const res = await call(method, url, B.twinKey);
          assertProblem(res, 404, 'not_found', `${method} ${url}`);
          assert.equal(res.json().detail, `Task ${id} not found`);
        }
      }
    });
    // …while A's twin reads them (the ids are real).
    assert.equal((await ok(call('GET', `/v1/tasks/${A.tasks[1]}/files/report.txt`, A.twinKey, undefined, null))).body, SECRET_A);
    assert.equal((await ok(call('GET', `/v1/tasks/${A.tasks[0]}`, A.twinKey, undefined, null))).json().status, 'queued');
  });

  test('every tenant collection shows B only B’s objects, also when the query names tenant A', async () => {
    const markers = [
      TENANT_A,
      SECRET_A,
      SHADOW_ID_A,
      String(LIMIT_A),
      A.grantDir,
      A.ownGrant,
      A.ownCredential,
      A.ownCapability,
      `only_a_${RUN}`,
      `caps-for-${TENANT_A}`,
      ...A.tasks,
      ...(['admin', 'agent', 'member', 'approver', 'scopedAdmin'] as const).flatMap((c) => [A[c].id, A[c].keyId]),
      A.token.jti,
      A.userToken.jti,
      ...A.approvals,
    ];
    for (const r of swept().filter((x) => spec(x).collection)) {
      const { callers, expect } = spec(r).collection!;
      for (const caller of callers) {
        const label = `${caller} of B: GET ${r.url}`;
        const plain = await ok(call('GET', r.url, keyOf(B, caller), undefined, null));
        for (const m of markers) assert.ok(!plain.body.includes(m), `${label} shows ${m}`);
        expect(spec(r).collection!.text ? { text: plain.body } : plain.json(), caller);
        // A tenant named in the query never widens the collection.
        const url = `${r.url}?tenantId=${TENANT_A}`;
        const named = await call('GET', url, keyOf(B, caller), undefined, null);
        if (r.querystring) {
          assertProblem(named, 400, 'invalid_request', url);
          assert.deepEqual(named.json().errors, [{ detail: 'Unknown field', pointer: '/querystring/tenantId' }]);
        } else {
          assert.equal(named.statusCode, 200, url);
          assert.equal(named.body, plain.body, `${url}: the query changed the answer`);
        }
      }
    }
  });

  describe('idempotency: the same Idempotency-Key from tenant B never replays tenant A’s answer', () => {
    test('POST /v1/tasks: same key, same body, same agent id (twin): B gets a new task of its own', async () => {
      const key = randomUUID();
      const body = { runtime: 'javascript', code: `"idem-${RUN}"` };
      const first = await ok(call('POST', '/v1/tasks', A.twinKey, body, key), 201);
      for (const caller of ['twin', 'agent', 'admin'] as const) {
        const res = await ok(call('POST', '/v1/tasks', keyOf(B, caller), body, key), 201);
        assert.equal(res.headers['idempotent-replayed'], undefined, caller);
        assert.notEqual(res.json().id, first.json().id, caller);
        // The new task is B's: B reads it, A does not.
        await ok(call('GET', `/v1/tasks/${res.json().id}`, keyOf(B, caller), undefined, null));
        assertProblem(await call('GET', `/v1/tasks/${res.json().id}`, A.twinKey, undefined, null), 404, 'not_found', caller);
        await ok(call('DELETE', `/v1/tasks/${res.json().id}`, keyOf(B, caller), undefined, null));
      }
      // A's own retry is still a replay of A's answer (the key was not taken over by B).
      const again = await ok(call('POST', '/v1/tasks', A.twinKey, body, key), 201);
      assert.equal(again.headers['idempotent-replayed'], 'true');
      assert.equal(again.json().id, first.json().id);
      await ok(call('DELETE', `/v1/tasks/${first.json().id}`, A.twinKey, undefined, null));
    });

    test('DELETE /v1/tasks/:id, DELETE of a grant, credential or capability, POST …/keys: B replaying A’s key and URL gets 404', async () => {
      const task = (await ok(call('POST', '/v1/tasks', A.twinKey, { runtime: 'javascript', code: '2' }), 201)).json().id;
      await ok(call('PUT', `/v1/admin/grants/idem-${RUN}`, A.admin.key, { hostPath: A.grantDir, mode: 'ro', maxBytes: 1, allowedAgents: [] }), 201);
      await ok(call('PUT', `/v1/admin/credentials/idem-${RUN}`, A.admin.key, credentialBody(A)), 201);
      await ok(call('PUT', `/v1/admin/capabilities/idem_${RUN}.lookup`, A.admin.key, capabilityBody(A)), 201);
      const cases: [string, string, Caller, unknown, number][] = [
        ['DELETE', `/v1/tasks/${task}`, 'twin', undefined, 200],
        ['DELETE', `/v1/admin/grants/idem-${RUN}`, 'admin', undefined, 204],
        ['DELETE', `/v1/admin/credentials/idem-${RUN}`, 'admin', undefined, 204],
        ['DELETE', `/v1/admin/capabilities/idem_${RUN}.lookup`, 'admin', undefined, 204],
        ['POST', `/v1/admin/agents/${A.agent.id}/keys`, 'admin', { name: 'idem' }, 201],
      ];
      for (const [method, url, owner, payload, status] of cases) {
        const key = randomUUID();
        const first = await ok(call(method, url, keyOf(A, owner), payload, key), status);
        assert.equal(first.headers['idempotent-replayed'], undefined, url);
        for (const caller of ['admin', 'agent', 'twin'] as const) {
          const res = await call(method, url, keyOf(B, caller), payload, key);
          const [s, code] = isAdminRoute(url) && caller !== 'admin' ? [403, 'forbidden'] : [404, 'not_found'];
          assertProblem(res, s, code, `${caller} of B: ${method} ${url}`);
          assert.equal(res.headers['idempotent-replayed'], undefined);
        }
        const replay = await ok(call(method, url, keyOf(A, owner), payload, key), status);
        assert.equal(replay.headers['idempotent-replayed'], 'true', url);
      }
    });

    test('PUT of a credential or a capability: B’s admin with A’s key, URL and body creates B’s own', async () => {
      const cases: [string, Record<string, unknown>][] = [
        [`/v1/admin/credentials/idem-put-${RUN}`, credentialBody(A)],
        [`/v1/admin/capabilities/idem_put_${RUN}.lookup`, capabilityBody(A)],
      ];
      for (const [url, body] of cases) {
        const key = randomUUID();
        await ok(call('PUT', url, A.admin.key, body, key), 201);
        const res = await ok(call('PUT', url, B.admin.key, body, key), 201);
        assert.equal(res.headers['idempotent-replayed'], undefined, url);
        // Two objects: B deletes its own, A's is still there (and A's retry is still a replay).
        await ok(call('DELETE', url, B.admin.key), 204);
        await ok(call('GET', url, A.admin.key, undefined, null));
        const replay = await ok(call('PUT', url, A.admin.key, body, key), 201);
        assert.equal(replay.headers['idempotent-replayed'], 'true', url);
        await ok(call('DELETE', url, A.admin.key), 204);
      }
    });

    test('POST /v1/admin/agents: B’s admin with A’s key and body creates B’s own agent', async () => {
      const key = randomUUID();
      const body = { name: `idem-${RUN}` };
      const first = await ok(call('POST', '/v1/admin/agents', A.admin.key, body, key), 201);
      const res = await ok(call('POST', '/v1/admin/agents', B.admin.key, body, key), 201);
      assert.equal(res.headers['idempotent-replayed'], undefined);
      assert.notEqual(res.json().id, first.json().id);
      await ok(call('GET', `/v1/admin/agents/${res.json().id}`, B.admin.key, undefined, null));
      assertProblem(await call('GET', `/v1/admin/agents/${res.json().id}`, A.admin.key, undefined, null), 404, 'not_found', 'A on B');
      const replay = await ok(call('POST', '/v1/admin/agents', A.admin.key, body, key), 201);
      assert.equal(replay.headers['idempotent-replayed'], 'true');
      assert.equal(replay.json().id, first.json().id);
    });
  });
});

/* ------------------------------------------------------------------------------------------ */
/* API3: mass assignment.                                                                     */
/* ------------------------------------------------------------------------------------------ */

/** The top-level fields a route's body schema declares (none without a schema). */
function declaredFields(schema: unknown): string[] {
  let object = schema;
  while (object instanceof z.ZodOptional || object instanceof z.ZodNullable) object = object.unwrap() as unknown;
  return object instanceof z.ZodObject ? Object.keys(object.shape) : [];
}

/** Fields a client might try to set that no route declares, or only some do (filtered per route). */
const extraFields = (): Record<string, unknown> => ({
  tenantId: TENANT_B,
  ownerId: B.agent.id,
  agentId: 'twin',
  approved: true,
  status: 'succeeded',
  id: `agt_${hex(20)}`,
  createdAt: new Date(0).toISOString(),
  updatedAt: new Date(0).toISOString(),
  disabled: false,
  roles: ['admin'],
  scopes: ['admin'],
  mounts: [{ grant: B.ownGrant, path: '/mnt/b', mode: 'rw' }],
  fsGrants: [B.grantDir],
  hostPath: '/',
  network: 'bridge',
  runtime: 'runc',
  secret: 'x'.repeat(32),
  keyId: B.agent.keyId,
  name: 'n',
  admin: { name: 'a' },
  tenant: TENANT_B,
});

describe('API3 mass assignment: undeclared fields are refused, nothing is created', () => {
  test('every POST/PUT/PATCH route: each undeclared field alone, all together, and nested ones → 400', async () => {
    let checked = 0;
    await unchanged(async () => {
      // (POST /mcp takes JSON-RPC, not a resource: its tools call the routes swept here.)
      for (const r of swept().filter((x) => BODY_METHODS.has(x.method) && !spec(x).mcp && !spec(x).console)) {
        const { caller, base, nested } = spec(r).body!;
        const url = hasParam(r.url) ? fill(r.url, objectSets(A)[0]!) : r.url;
        const key = keyOf(A, caller);
        const declared = new Set(declaredFields(r.body));
        for (const field of Object.keys(base())) assert.ok(declared.has(field), `${r.method} ${r.url}: base uses ${field}`);
        const extras = Object.entries(extraFields()).filter(([field]) => !declared.has(field));
        assert.ok(extras.length >= 14, `${r.method} ${r.url}: only ${extras.length} extra fields`);
        const refused = async (payload: Record<string, unknown>, pointers: string[], label: string) => {
          const res = await call(r.method, url, key, payload);
          assertProblem(res, 400, 'invalid_request', label);
          const errors = res.json().errors as { detail: string; pointer: string }[];
          assert.deepEqual(
            errors.toSorted((x, y) => x.pointer.localeCompare(y.pointer)),
            pointers.toSorted().map((pointer) => ({ detail: 'Unknown field', pointer })),
            label,
          );
          assert.equal(res.headers['idempotent-replayed'], undefined, label);
          checked++;
        };
        for (const [field, value] of extras) {
          await refused({ ...base(), [field]: value }, [`/body/${field}`], `${r.method} ${url} + ${field}`);
        }
        await refused(
          { ...base(), ...Object.fromEntries(extras) },
          extras.map(([field]) => `/body/${field}`),
          `${r.method} ${url} + all`,
        );
        for (const [payload, pointer] of nested?.() ?? []) await refused(payload, [pointer], `${r.method} ${url} ${pointer}`);
      }
    });
    assert.equal(await stack.deps.identity.getTenant(`owasp-new-${RUN}`), null, 'no tenant was created');
    assert.ok(checked >= 200, `only ${checked} requests checked`);
  });

  test('a task with runtime "runc" or a mount of B’s grant path outside /mnt is 400, not queued', async () => {
    await unchanged(async () => {
      const runc = await call('POST', '/v1/tasks', A.twinKey, { runtime: 'runc', code: '1' });
      assertProblem(runc, 400, 'invalid_request', 'runc');
      assert.deepEqual(runc.json().errors.map((e: { pointer: string }) => e.pointer), ['/body/runtime']);
      const escape = await call('POST', '/v1/tasks', A.twinKey, {
        runtime: 'python',
        code: '1',
        mounts: [{ grant: 'common', path: B.grantDir, mode: 'rw' }],
      });
      assertProblem(escape, 400, 'invalid_request', 'mount path');
      assert.deepEqual(escape.json().errors.map((e: { pointer: string }) => e.pointer), ['/body/mounts/0/path']);
    });
  });

  test('another tenant’s object named in a body is treated exactly like an unknown one', async () => {
    await unchanged(async () => {
      const pairs: [string, string, string, Record<string, unknown>, Record<string, unknown>, number, string][] = [
        // A mount of B's grant: the same 403 as a grant that does not exist (resolve-mounts.ts).
        [
          'POST /v1/tasks mounts',
          '/v1/tasks',
          A.twinKey,
          { runtime: 'python', code: '1', mounts: [{ grant: B.ownGrant, path: '/mnt/g', mode: 'ro' }] },
          { runtime: 'python', code: '1', mounts: [{ grant: `no-such-${RUN}`, path: '/mnt/g', mode: 'ro' }] },
          403,
          'forbidden',
        ],
        // A user token naming B's agent in mayAct: the same 404 as an unknown agent.
        ['POST /v1/tokens mayAct', '/v1/tokens', A.member.key, { mayAct: B.agent.id }, { mayAct: `agt_${hex(20)}` }, 404, 'not_found'],
        // B's user token as subjectToken: the same 400 as garbage.
        [
          'POST /v1/tokens subjectToken',
          '/v1/tokens',
          A.agent.key,
          { subjectToken: B.userToken.token },
          { subjectToken: 'eyJhbGciOiJub25lIn0.e30.' },
          400,
          'invalid_grant',
        ],
      ];
      for (const [label, url, key, ofB, unknown, status, code] of pairs) {
        const onB = await call('POST', url, key, ofB);
        const onUnknown = await call('POST', url, key, unknown);
        assertProblem(onB, status, code, label);
        const named = (body: Record<string, unknown>) =>
          JSON.stringify(body).match(/(grant-only-b-[0-9a-f]+|no-such-[0-9a-f]+|agt_[0-9a-f]{20})/g) ?? [];
        assert.deepEqual(shape(onB, named(ofB)), shape(onUnknown, named(unknown)), label);
      }
    });
  });
});

describe('API3: names of another tenant’s broker objects in a capability definition', () => {
  test('a capability naming B’s credential or B’s capability is stored exactly like one naming an unknown name', async () => {
    // The names resolve in the capability's own tenant only: the PUT must not tell whether B has
    // such a credential or capability (no oracle), and B's objects stay untouched.
    const impl = capabilityBody(A).implementation;
    const cases: [string, Record<string, unknown>, Record<string, unknown>, string[], string[]][] = [
      [
        'implementation.credential',
        { ...capabilityBody(A), implementation: { ...impl, credential: B.ownCredential } },
        { ...capabilityBody(A), implementation: { ...impl, credential: `no-such-credential-${RUN}` } },
        [B.ownCredential],
        [`no-such-credential-${RUN}`],
      ],
      [
        'compensation.capability',
        { ...capabilityBody(A), compensation: { capability: B.ownCapability } },
        { ...capabilityBody(A), compensation: { capability: `no_such_${RUN}.lookup` } },
        [B.ownCapability],
        [`no_such_${RUN}.lookup`],
      ],
    ];
    await unchanged(async () => {
      for (const [label, ofB, unknown, namesB, namesUnknown] of cases) {
        const answers = [];
        for (const body of [ofB, unknown]) {
          const url = `/v1/admin/capabilities/named_${RUN}.lookup`;
          const res = await call('PUT', url, A.admin.key, body);
          answers.push(res);
          if (res.statusCode < 300) await ok(call('DELETE', url, A.admin.key), 204);
        }
        const [onB, onUnknown] = answers as [LightMyRequestResponse, LightMyRequestResponse];
        assert.equal(onB.statusCode, 201, `${label}: ${onB.body}`);
        assert.deepEqual(shape(onB, namesB), shape(onUnknown, namesUnknown), label);
      }
    });
  });
});

/* ------------------------------------------------------------------------------------------ */
/* API5: broken function level authorization.                                                 */
/* ------------------------------------------------------------------------------------------ */

describe('API5 BFLA: non-admins get 403 on every admin route', () => {
  test('every /v1/admin route (HEAD too), six kinds of non-admin, invalid bodies: 403 with the exact code', async () => {
    const adminRoutes = swept().filter((r) => isAdminRoute(r.url)).flatMap(withHead);
    assert.ok(adminRoutes.length >= 29, `only ${adminRoutes.length} admin routes`);
    await unchanged(async () => {
      for (const r of adminRoutes) {
        const url = hasParam(r.url) ? fill(r.url, objectSets(A)[0]!) : r.url;
        // Undeclared fields: the 403 comes before the body is validated (nothing to learn from it).
        const payload = BODY_METHODS.has(r.method) ? { tenantId: TENANT_B, approved: true } : undefined;
        for (const caller of ['agent', 'member', 'approver', 'twin', 'scopedAdmin', 'token'] as const) {
          assertProblem(await call(r.method, url, keyOf(A, caller), payload), 403, nonAdminCode(caller), `${caller}: ${r.method} ${url}`, r.method);
        }
      }
      // Creating tenants is for the bootstrap admin alone, not a tenant's admin.
      assertProblem(
        await call('POST', '/v1/admin/tenants', A.admin.key, SPEC['POST /v1/admin/tenants']!.body!.base()),
        403,
        'forbidden',
        'tenant admin: POST /v1/admin/tenants',
      );
    });
    assert.equal(await stack.deps.identity.getTenant(`owasp-new-${RUN}`), null);
  });
});

/* ------------------------------------------------------------------------------------------ */
/* The web console: its session is a credential like a key; the /v1 routes decide.           */
/* ------------------------------------------------------------------------------------------ */

/** A console URL with its parameters filled from `o` (the console's own ids, like fill()). */
function fillConsole(url: string, o: ObjectIds): string {
  const out = url
    .replace(/^\/console\/tasks\/:id/, `/console/tasks/${o.task}`)
    .replace(/^\/console\/approvals\/:id/, `/console/approvals/${o.approvals[0]}`)
    .replace(/^\/console\/admin\/agents\/:id/, `/console/admin/agents/${o.agent}`)
    .replace(/^\/console\/admin\/users\/:id/, `/console/admin/users/${o.user}`)
    .replace(/:keyId/, o.keyId)
    .replace(/:file$/, 'console.css');
  assert.ok(!hasParam(out), `fillConsole() does not know the parameters of ${url}: add them`);
  return out;
}

/** Signs in to the console with `key` (form, double-submit token); the session cookie and its CSRF token. */
async function consoleSession(key: string): Promise<{ cookie: string; csrf: string }> {
  const form = await stack.app.inject({ method: 'GET', url: '/console/sign-in' });
  const signin = String(form.headers['set-cookie']).split(';')[0] as string;
  const token = /name="csrf" value="([^"]+)"/.exec(form.body)?.[1] ?? '';
  const res = await stack.app.inject({
    method: 'POST', url: '/console/sign-in',
    headers: { cookie: signin, 'content-type': 'application/x-www-form-urlencoded' },
    payload: new URLSearchParams({ key, csrf: token }).toString(),
  });
  assert.equal(res.statusCode, 303, res.body);
  const cookie = ([] as string[]).concat(res.headers['set-cookie'] as string[]).find((c) => c.startsWith('airlock_session='))?.split(';')[0] ?? '';
  const page = await stack.app.inject({ method: 'GET', url: '/console/approvals', headers: { cookie } });
  return { cookie, csrf: /name="csrf" value="([^"]+)"/.exec(page.body)?.[1] ?? '' };
}

describe('Console pages: tenant B’s session on A’s objects, and no session at all', () => {
  const consoleRoutes = () => swept().filter((r) => spec(r).console && !['/console/sign-in', '/console/sign-out', '/console/static/:file', '/console'].includes(r.url));

  test('an API key is not a console credential: every page sends it to the sign-in page', async () => {
    await unchanged(async () => {
      for (const r of consoleRoutes()) {
        const res = await stack.app.inject({
          method: r.method as 'GET' | 'POST', url: fillConsole(r.url, objectSets(A)[0]!),
          headers: { authorization: `Bearer ${A.admin.key}`, 'content-type': 'application/x-www-form-urlencoded' },
          ...(r.method === 'POST' ? { payload: 'verb=approve&name=k' } : {}),
        });
        assert.equal(res.statusCode, 303, `${r.method} ${r.url}: ${res.body}`);
        assert.equal(res.headers['location'], '/console/sign-in');
      }
    });
  });

  test('B’s admin and approver sessions: A’s object ≡ an unknown id, with or without the CSRF token; A untouched', async () => {
    const sessions = [await consoleSession(B.admin.key), await consoleSession(B.approver.key)];
    let checked = 0;
    await unchanged(async () => {
      for (const { cookie, csrf } of sessions) {
        for (const r of consoleRoutes().filter((x) => hasParam(x.url))) {
          for (const withToken of r.method === 'POST' ? [false, true] : [true]) {
            const form = new URLSearchParams({ verb: 'approve', reason: 'x', name: 'k', ...(withToken ? { csrf } : {}) }).toString();
            const ask = (url: string) => stack.app.inject({
              method: r.method as 'GET' | 'POST', url, headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
              ...(r.method === 'POST' ? { payload: form } : {}),
            });
            const [aUrl, unknownUrl] = [fillConsole(r.url, objectSets(A)[0]!), fillConsole(r.url, unknownIds())];
            const onA = await ask(aUrl);
            const onUnknown = await ask(unknownUrl);
            const label = `${r.method} ${r.url} (token: ${withToken})`;
            assert.equal(onA.statusCode, onUnknown.statusCode, `${label}: ${onA.body}`);
            assert.ok([403, 404].includes(onA.statusCode), `${label}: ${onA.statusCode}`);
            // The same page but for the id in the URL (and the request id of a problem).
            const idOf = (url: string) => url.split('/').find((part, i, all) => all[i - 1] !== 'console' && /[0-9]/.test(part)) ?? '';
            const normal = (body: string, url: string) => body.replaceAll(idOf(url), 'ID').replace(/urn:uuid:[0-9a-f-]+/g, 'urn');
            assert.equal(normal(onA.body, aUrl), normal(onUnknown.body, unknownUrl), label);
            assert.ok(!onA.body.includes(SECRET_A), label);
            checked++;
          }
        }
      }
    });
    assert.ok(checked >= 20, `only ${checked} checks`);
  });
});

/* ------------------------------------------------------------------------------------------ */
/* Control: the URLs the sweep used name real objects (their own tenant reaches them).        */
/* ------------------------------------------------------------------------------------------ */

describe('control', () => {
  test('tenant A’s own callers reach every object route on the objects B was refused', async () => {
    // Tokens: A's admin revokes them (the agent's own key is revoked by DELETE /v1/admin/keys/:keyId).
    const owner = (url: string) =>
      url.startsWith('/v1/approvals/') ? A.approver.key : isAdminRoute(url) || url.startsWith('/v1/tokens/') ? A.admin.key : A.twinKey;
    const objectRoutes = swept().filter((r) => hasParam(r.url) && !spec(r).console);
    // Reads on the finished task (its event stream ends), then the writes (disabling last).
    for (const r of objectRoutes.filter((x) => x.method === 'GET').flatMap(withHead)) {
      const url = fill(r.url, objectSets(A)[1]!);
      const res = await ok(call(r.method, url, owner(url), undefined, null));
      if (r.url.endsWith('/files/*') && r.method === 'GET') assert.equal(res.body, SECRET_A);
    }
    // A's own broker objects are there, its descriptions included, and A's answers carry no
    // credential value either (`call` checks each one).
    const own = [COMMON_CAPABILITY, A.ownCapability].toSorted();
    assert.deepEqual(names((await ok(call('GET', '/v1/admin/credentials', A.admin.key, undefined, null))).json()), ['common', A.ownCredential].toSorted());
    assert.deepEqual(names((await ok(call('GET', '/v1/admin/capabilities', A.admin.key, undefined, null))).json()), own);
    for (const caller of allB) {
      const listed = (await ok(call('GET', '/v1/capabilities', keyOf(A, caller), undefined, null))).json();
      assert.deepEqual(names(listed), own, caller);
      assert.ok(JSON.stringify(listed).includes(SECRET_A), caller);
      assert.ok((await ok(call('GET', '/v1/capabilities.d.ts', keyOf(A, caller), undefined, null))).body.includes(`"${A.ownCapability}"`), caller);
    }
    const auditLog = (await ok(call('GET', '/v1/audit?action=admin.credential.put&limit=100', A.admin.key, undefined, null))).json();
    assert.ok(JSON.stringify(auditLog).includes(A.ownCredential), 'the audit log records the credential put');
    const writes = objectRoutes
      .filter((x) => x.method !== 'GET')
      .toSorted((x, y) => Number(x.url.endsWith('/disable')) - Number(y.url.endsWith('/disable')));
    for (const r of writes) {
      const url = fill(r.url, objectSets(A)[0]!);
      const { payload, ownerStatus = 200 } = spec(r).object!;
      await ok(call(r.method, url, owner(url), payload?.(A)), ownerStatus);
    }
  });
});
