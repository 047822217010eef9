/**
 * Every kind of entry, written for real requests: the real harness app (Fastify `inject`), a real
 * in-process runner (isolates), real Redis, and the real sealer process sealing into a temp
 * AUDIT_DIR. Task lifecycle (created → started → terminal, cancelled by whom, grant changes),
 * authorization decisions, 401s, 429s and admin changes with before/after; and no secret (API
 * keys, tokens) anywhere in the sealed files.
 */
import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { SealedEntry } from '../../protocol/audit/entry.ts';
import { auditFixture, sealedEntries, startSealerProcess, waitFor, type AuditFixture, type SealerProcess } from '../helpers/audit.ts';
import { bearer, createPrincipalWithKey, createTenant, mintToken, type TenantFixture } from '../helpers/identity.ts';
import { startStack, type Stack } from '../helpers/stack.ts';

const BOOTSTRAP = `admin-${randomUUID()}`;
let stack: Stack;
let fx: AuditFixture;
let sealer: SealerProcess;
let acme: TenantFixture;
let agent: { id: string; key: string; keyId: string };
let agent2: { id: string; key: string; keyId: string };
let grantRoot: string;
/** Every secret handed out in this file: none may appear in the sealed log. */
const secrets: string[] = [BOOTSTRAP];

before(async () => {
  fx = await auditFixture();
  sealer = await startSealerProcess(fx);
  const roots = await mkdtemp(path.join(tmpdir(), 'airlock-audit-grants-'));
  grantRoot = path.join(roots, 'notes');
  await mkdir(grantRoot);
  stack = await startStack({ harnessEnv: { AIRLOCK_ADMIN_API_KEY: BOOTSTRAP, AUDIT_DIR: fx.dir, GRANT_ROOTS: roots } });
  acme = await createTenant(stack, BOOTSTRAP);
  agent = await createPrincipalWithKey(stack, acme.adminKey, 'agent');
  agent2 = await createPrincipalWithKey(stack, acme.adminKey, 'agent');
  secrets.push(acme.adminKey, agent.key, agent2.key);
});
after(async () => {
  await stack.close();
  await sealer.stop();
});

/** Entries of a log (tenant, or the system log) matching `pred`, once at least `n` are sealed. */
async function sealed(tenant: string | undefined, pred: (e: SealedEntry) => boolean, n = 1): Promise<SealedEntry[]> {
  return waitFor(() => {
    let all: SealedEntry[];
    try {
      all = sealedEntries(fx.logDir(tenant));
    } catch {
      return null;
    }
    const hits = all.filter(pred);
    return hits.length >= n ? hits : null;
  }, `${n} sealed entries`);
}

function createTask(key: string, body: Record<string, unknown>) {
  return stack.app.inject({
    method: 'POST',
    url: '/v1/tasks',
    headers: { ...bearer(key), 'idempotency-key': `"${randomUUID()}"` },
    payload: body,
  });
}

describe('task lifecycle entries, written with each transition', () => {
  test('created → started → succeeded in order, with agent, user, prompt snippet, code sha256 (never the code)', async () => {
    const code = 'const secretSauce = 20; secretSauce + 1';
    const res = await createTask(agent.key, {
      runtime: 'javascript',
      code,
      wait: 20,
      metadata: { userId: 'end-user-1', promptSnippet: 'add one to twenty', sessionId: 'sess-42' },
    });
    assert.equal(res.statusCode, 201, res.body);
    assert.equal(res.json().status, 'succeeded');
    const taskId = res.json().id as string;
    const entries = await sealed(acme.tenantId, (e) => e.taskId === taskId && e.action.startsWith('task.'), 3);
    assert.deepEqual(entries.map((e) => e.action), ['task.created', 'task.started', 'task.succeeded']);
    for (const e of entries) {
      assert.equal(e.tenant, acme.tenantId);
      assert.equal(e.agentId, agent.id);
      assert.equal(e.userId, 'end-user-1');
      assert.equal(e.promptSnippet, 'add one to twenty');
      assert.equal(e.sessionId, 'sess-42');
      assert.equal(e.outcome, 'success');
    }
    const [created, started, succeeded] = entries as [SealedEntry, SealedEntry, SealedEntry];
    assert.equal(created.keyId, agent.keyId);
    assert.ok(created.requestId, 'the request id');
    assert.equal(created.details?.['codeSha256'], createHash('sha256').update(code).digest('hex'));
    assert.equal(created.details?.['runtime'], 'javascript');
    assert.deepEqual(created.details?.['limits'], res.json().limits);
    assert.equal(created.decision?.action, 'tasks.create');
    assert.equal(created.decision?.allowed, true);
    assert.match(created.decision?.policySetHash ?? '', /^[0-9a-f]{64}$/);
    assert.ok((created.decision?.policyIds.length ?? 0) > 0);
    assert.equal(started.details?.['attempt'], 1);
    assert.equal(typeof started.details?.['runnerId'], 'string');
    assert.equal(started.details?.['runnerId'], stack.runner?.id);
    assert.equal(succeeded.details?.['status'], 'succeeded');
    // The code itself is nowhere in the log.
    const files = await logText(fx.dir);
    assert.ok(!files.includes('secretSauce'), 'the code is not in the log');
    // The owner reading its own task is not recorded (AUDIT_READS is off).
    assert.equal((await stack.app.inject({ method: 'GET', url: `/v1/tasks/${taskId}`, headers: bearer(agent.key) })).statusCode, 200);
    // …but another agent's denied read is, as an authorization decision about the task.
    assert.equal((await stack.app.inject({ method: 'GET', url: `/v1/tasks/${taskId}`, headers: bearer(agent2.key) })).statusCode, 404);
    const [denied] = await sealed(acme.tenantId, (e) => e.taskId === taskId && e.action === 'authz.decision');
    assert.equal(denied?.outcome, 'denied');
    assert.equal(denied?.decision?.action, 'tasks.read');
    assert.equal(denied?.decision?.allowed, false);
    assert.match(denied?.decision?.policySetHash ?? '', /^[0-9a-f]{64}$/);
    assert.equal(denied?.keyId, agent2.keyId);
    assert.equal(denied?.promptSnippet, 'add one to twenty', 'the task\'s prompt snippet');
    assert.equal(denied?.sessionId, 'sess-42');
    const reads = sealedEntries(fx.logDir(acme.tenantId)).filter((e) => e.taskId === taskId && e.action === 'authz.decision');
    assert.equal(reads.length, 1, 'only the denied read is recorded');
  });

  test('a failing task ends in task.failed with error.code', async () => {
    const res = await createTask(agent.key, { runtime: 'javascript', code: 'throw new Error("nope")', wait: 20 });
    assert.equal(res.json().status, 'failed', res.body);
    const taskId = res.json().id as string;
    const [failed] = await sealed(acme.tenantId, (e) => e.taskId === taskId && e.action === 'task.failed');
    assert.equal(failed?.outcome, 'failure');
    assert.equal((failed?.details?.['error'] as { code: string }).code, res.json().error.code);
    assert.ok(!JSON.stringify(failed).includes('nope'), 'never the error message (it may echo output)');
  });

  test('a cancel names who cancelled; the kill switch records the tasks it cancelled', async () => {
    const victim = await createPrincipalWithKey(stack, acme.adminKey, 'agent');
    secrets.push(victim.key);
    const res = await createTask(victim.key, { runtime: 'javascript', code: 'while (true) {}', timeoutMs: 60_000 });
    assert.equal(res.statusCode, 201, res.body);
    const taskId = res.json().id as string;
    await sealed(acme.tenantId, (e) => e.taskId === taskId && e.action === 'task.started');
    const cancel = await stack.app.inject({ method: 'DELETE', url: `/v1/tasks/${taskId}`, headers: bearer(victim.key) });
    assert.equal(cancel.json().status, 'cancelled');
    const [cancelled] = await sealed(acme.tenantId, (e) => e.taskId === taskId && e.action === 'task.cancelled');
    assert.deepEqual((cancelled?.details?.['cancelledBy'] as { id: string }).id, victim.id);
    assert.equal((cancelled?.details?.['error'] as { code: string }).code, 'cancelled');
    assert.ok(cancelled?.requestId);

    // Kill switch: another long task, then the admin disables the agent.
    const second = await createTask(victim.key, { runtime: 'javascript', code: 'while (true) {}', timeoutMs: 60_000 });
    const secondId = second.json().id as string;
    const disable = await stack.app.inject({ method: 'POST', url: `/v1/admin/agents/${victim.id}/disable`, headers: bearer(acme.adminKey) });
    assert.equal(disable.statusCode, 200, disable.body);
    assert.equal(disable.json().cancelledTasks, 1);
    const [kill] = await sealed(acme.tenantId, (e) => e.action === 'admin.agents.disable' && e.requestId !== undefined && (e.details?.['params'] as { id?: string })?.id === victim.id);
    assert.deepEqual(kill?.details?.['cancelledTasks'], [secondId]);
    assert.equal(kill?.details?.['killSwitch'], true);
    assert.equal(kill?.agentId, acme.adminId);
    const [byAdmin] = await sealed(acme.tenantId, (e) => e.taskId === secondId && e.action === 'task.cancelled');
    assert.equal((byAdmin?.details?.['cancelledBy'] as { id: string }).id, acme.adminId);
    assert.equal(byAdmin?.requestId, kill?.requestId);
  });

  test('grant changes a task applied: grant, path, change, sha256', async () => {
    const put = await stack.app.inject({
      method: 'PUT',
      url: '/v1/admin/grants/notes',
      headers: bearer(acme.adminKey),
      payload: { hostPath: grantRoot, mode: 'rw', maxBytes: 1_000_000, allowedAgents: ['*'] },
    });
    assert.equal(put.statusCode, 201, put.body);
    const [grantPut] = await sealed(acme.tenantId, (e) => e.action === 'admin.grants.put');
    assert.equal(grantPut?.details?.['before'], null);
    assert.equal((grantPut?.details?.['after'] as { hostPath: string }).hostPath, grantRoot);
    const res = await createTask(agent.key, {
      runtime: 'javascript',
      code: 'await fs.write("/mnt/notes/out.txt", "hello grant"); 1',
      wait: 20,
      mounts: [{ grant: 'notes', path: '/mnt/notes', mode: 'rw' }],
    });
    assert.equal(res.json().status, 'succeeded', res.body);
    const taskId = res.json().id as string;
    const [done] = await sealed(acme.tenantId, (e) => e.taskId === taskId && e.action === 'task.succeeded');
    assert.deepEqual(done?.details?.['grantChanges'], [
      { grant: 'notes', path: 'out.txt', change: 'created', sha256: createHash('sha256').update('hello grant').digest('hex') },
    ]);
    assert.equal(done?.details?.['grantChangeCount'], 1);
    // Announced before they were written, sealed before the terminal entry, with the same list.
    const [applying] = await sealed(acme.tenantId, (e) => e.taskId === taskId && e.action === 'task.grants.applying');
    assert.deepEqual(applying?.details?.['grantChanges'], done?.details?.['grantChanges']);
    assert.ok((applying?.seq ?? Infinity) < (done?.seq ?? 0), 'task.grants.applying precedes task.succeeded');
    assert.equal(await readFile(path.join(grantRoot, 'out.txt'), 'utf8'), 'hello grant');
    const [created] = await sealed(acme.tenantId, (e) => e.taskId === taskId && e.action === 'task.created');
    assert.deepEqual(created?.details?.['mounts'], [{ grant: 'notes', path: '/mnt/notes', mode: 'rw' }]);
    // The allowed create and mount decisions travel in task.created (no entries of their own).
    assert.equal((created?.details?.['mountDecisions'] as { allowed: boolean }[])[0]?.allowed, true);
    const own = sealedEntries(fx.logDir(acme.tenantId)).filter((e) => e.requestId === created?.requestId && e.action === 'authz.decision');
    assert.deepEqual(own, []);
  });

  test('a create refused after its allowed decision: the allowed create decision and the denied mount are both entries', async () => {
    const put = await stack.app.inject({
      method: 'PUT',
      url: '/v1/admin/grants/private',
      headers: bearer(acme.adminKey),
      payload: { hostPath: grantRoot, mode: 'ro', maxBytes: 1_000_000, allowedAgents: [agent2.id] },
    });
    assert.equal(put.statusCode, 201, put.body);
    const res = await createTask(agent.key, { runtime: 'javascript', code: '1', mounts: [{ grant: 'private', path: '/mnt/p', mode: 'ro' }] });
    assert.equal(res.statusCode, 403, res.body);
    const requestId = (res.json().instance as string).replace('urn:uuid:', '');
    const entries = await sealed(acme.tenantId, (e) => e.requestId === requestId && e.action === 'authz.decision', 2);
    const byAction = Object.fromEntries(entries.map((e) => [e.decision?.action, e.outcome]));
    assert.deepEqual(byAction, { 'tasks.create': 'success', 'grants.mount': 'denied' });
    assert.ok(!sealedEntries(fx.logDir(acme.tenantId)).some((e) => e.requestId === requestId && e.action === 'task.created'));
  });
});

describe('requests: 401, 429, authorization decisions and admin changes', () => {
  test('a 401 is an auth.failed entry of the system log with the source IP, never the credential', async () => {
    const bogus = `ak_${'0'.repeat(24)}_${randomUUID().replaceAll('-', '')}`;
    const res = await stack.app.inject({ method: 'GET', url: '/v1/tasks', headers: bearer(bogus), remoteAddress: '203.0.113.9' });
    assert.equal(res.statusCode, 401);
    const [entry] = await sealed(undefined, (e) => e.action === 'auth.failed' && e.details?.['ip'] === '203.0.113.9');
    assert.equal(entry?.outcome, 'denied');
    assert.equal(entry?.tenant, undefined);
    assert.equal(entry?.details?.['route'], '/v1/tasks');
    assert.equal(entry?.details?.['presented'], 'api-key');
    secrets.push(bogus);
  });

  test('a 429 is a ratelimit.exceeded entry naming the policy and its quota; the limits change is admin.limits.put with before/after', async () => {
    const slow = await createPrincipalWithKey(stack, acme.adminKey, 'agent');
    secrets.push(slow.key);
    const put = await stack.app.inject({
      method: 'PUT',
      url: '/v1/admin/limits',
      headers: bearer(acme.adminKey),
      payload: { agents: { [slow.id]: { readsPerMin: 1 } } },
    });
    assert.equal(put.statusCode, 200, put.body);
    const [limits] = await sealed(acme.tenantId, (e) => e.action === 'admin.limits.put');
    assert.deepEqual((limits?.details?.['after'] as { agents: Record<string, unknown> }).agents[slow.id], { readsPerMin: 1 });
    assert.ok(limits?.details && 'before' in limits.details);
    const codes: number[] = [];
    for (let i = 0; i < 3; i++) codes.push((await stack.app.inject({ method: 'GET', url: '/v1/tasks', headers: bearer(slow.key) })).statusCode);
    assert.ok(codes.includes(429), `got ${codes.join(', ')}`);
    const [limited] = await sealed(acme.tenantId, (e) => e.action === 'ratelimit.exceeded' && e.agentId === slow.id);
    assert.equal(limited?.outcome, 'denied');
    assert.equal(limited?.keyId, slow.keyId);
    const policies = limited?.details?.['policies'] as { name: string; quota: number }[];
    assert.ok(policies.some((p) => p.quota === 1), JSON.stringify(policies));
  });

  test('admin decisions: an agent denied the admin API is an authz.decision entry (admin.manage, denied)', async () => {
    const res = await stack.app.inject({ method: 'GET', url: '/v1/admin/agents', headers: bearer(agent.key) });
    assert.equal(res.statusCode, 403);
    const [d] = await sealed(acme.tenantId, (e) => e.action === 'authz.decision' && e.agentId === agent.id && e.decision?.action === 'admin.manage');
    assert.equal(d?.outcome, 'denied');
    assert.equal(d?.decision?.allowed, false);
    assert.equal(d?.details?.['route'], '/v1/admin/agents');
  });

  test('admin changes: agents, users, keys, policies, tokens minted and revoked, each with an admin.request first', async () => {
    const user = await createPrincipalWithKey(stack, acme.adminKey, 'user', { roles: ['member'] });
    secrets.push(user.key);
    const [createdUser] = await sealed(acme.tenantId, (e) => e.action === 'admin.users.create' && (e.details?.['after'] as { id?: string })?.id === user.id);
    assert.equal(createdUser?.details?.['before'], null);
    assert.equal(createdUser?.agentId, acme.adminId);
    const [issued] = await sealed(acme.tenantId, (e) => e.action === 'admin.users.keys.create' && (e.details?.['after'] as { id?: string })?.id === user.keyId);
    assert.equal(issued?.outcome, 'success');
    // Each result follows its request entry (same request id).
    const [intent] = await sealed(acme.tenantId, (e) => e.action === 'admin.request' && e.requestId === issued?.requestId);
    assert.ok((intent?.seq ?? Infinity) < (issued?.seq ?? 0));
    assert.equal(intent?.details?.['route'], '/v1/admin/users/:id/keys');

    const revoke = await stack.app.inject({ method: 'DELETE', url: `/v1/admin/keys/${user.keyId}`, headers: bearer(acme.adminKey) });
    assert.equal(revoke.statusCode, 200, revoke.body);
    const [revoked] = await sealed(acme.tenantId, (e) => e.action === 'admin.keys.delete' && (e.details?.['params'] as { keyId?: string })?.keyId === user.keyId);
    assert.ok((revoked?.details?.['after'] as { revokedAt?: string }).revokedAt);

    const shadow = await stack.app.inject({
      method: 'PUT',
      url: '/v1/admin/policies/shadow',
      headers: bearer(acme.adminKey),
      payload: { text: '@id("all") permit(principal, action, resource);' },
    });
    assert.equal(shadow.statusCode, 200, shadow.body);
    const [policy] = await sealed(acme.tenantId, (e) => e.action === 'admin.policies.shadow.put');
    assert.equal((policy?.details?.['before'] as { shadow: unknown }).shadow, null);
    assert.deepEqual((policy?.details?.['after'] as { shadow: { policyIds: string[] } }).shadow.policyIds, ['all']);

    const token = await mintToken(stack, agent.key, { scope: 'tasks:read' });
    secrets.push(token);
    const jti = JSON.parse(Buffer.from(token.split('.')[1] as string, 'base64url').toString()).jti as string;
    await sealed(acme.tenantId, (e) => e.action === 'token.minted' && e.jti === jti);
    const del = await stack.app.inject({ method: 'DELETE', url: `/v1/tokens/${jti}`, headers: bearer(agent.key) });
    assert.equal(del.statusCode, 204, del.body);
    const [tokenRevoked] = await sealed(acme.tenantId, (e) => e.action === 'token.revoked');
    assert.equal(tokenRevoked?.details?.['target'], `token:${jti}`);
    assert.equal(tokenRevoked?.agentId, agent.id);

    // Tenant creation is in the new tenant's creator's log (the bootstrap admin's tenant).
    const other = await createTenant(stack, BOOTSTRAP);
    secrets.push(other.adminKey);
  });

  test('no secret anywhere in the sealed files: API keys, tokens, the bootstrap key', async () => {
    // Wait until everything so far is sealed (a fresh token's entry is the marker).
    const marker = await mintToken(stack, agent2.key, {});
    secrets.push(marker);
    const jti = JSON.parse(Buffer.from(marker.split('.')[1] as string, 'base64url').toString()).jti as string;
    await sealed(acme.tenantId, (e) => e.jti === jti);
    const text = await logText(fx.dir);
    assert.ok(text.length > 10_000, 'the log has content');
    for (const s of secrets) {
      assert.ok(!text.includes(s), 'a secret is in the sealed log');
      // Nor the secret part of an API key on its own.
      const tail = s.split('_').at(-1) as string;
      if (tail.length >= 16) assert.ok(!text.includes(tail), 'a key secret is in the sealed log');
    }
  });
});

/** Every file under the audit dir, as one text. */
async function logText(dir: string): Promise<string> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    // The sealer's temp files come and go (written, then renamed over the real one).
    const text = await readFile(path.join(entry.parentPath, entry.name), 'latin1').catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return '';
      throw err;
    });
    out.push(text);
  }
  return out.join('\n');
}
