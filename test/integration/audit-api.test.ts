/**
 * The audit API through the real harness app (Fastify `inject`) on real Redis, with the real
 * sealer process sealing into a temp AUDIT_DIR. Token minting is the producer wired in this
 * phase; task entries are appended here by a real Lua script with AUDIT_LUA on the real task
 * record (what the task store's scripts will do), so a trace can be read, proven and verified.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { fromBase64 } from '../../protocol/audit/bytes.ts';
import { openCheckpoint } from '../../protocol/audit/checkpoint.ts';
import { verifyConsistency } from '../../protocol/audit/consistency-proof.ts';
import type { SealedEntry } from '../../protocol/audit/entry.ts';
import { segmentName } from '../../protocol/audit/layout.ts';
import { parseVerifierKey } from '../../protocol/audit/note.ts';
import { verifyTraceBundle } from '../../protocol/audit/verify-bundle.ts';
import { auditShard, auditStreamKey } from '../../protocol/redis-keys.ts';
import { ROOT, auditFixture, checkpointSize, startSealerProcess, waitFor, type AuditFixture, type SealerProcess } from '../helpers/audit.ts';
import { bearer, createPrincipalWithKey, createTenant, requestToken, type TenantFixture } from '../helpers/identity.ts';
import { REDIS_URL, startStack, type Stack } from '../helpers/stack.ts';

const BOOTSTRAP = `admin-${randomUUID()}`;
let stack: Stack;
let fx: AuditFixture;
let sealer: SealerProcess;
let redis: Redis;
let acme: TenantFixture;
let other: TenantFixture;
let agent: { id: string; key: string; keyId: string };
let agent2: { id: string; key: string; keyId: string };
let auditor: { id: string; key: string };
let member: { id: string; key: string };
let outsider: { id: string; key: string };

const get = (url: string, key: string) => stack.app.inject({ method: 'GET', url, headers: bearer(key) });

before(async () => {
  redis = new Redis(REDIS_URL);
  fx = await auditFixture();
  sealer = await startSealerProcess(fx);
  stack = await startStack({ harnessEnv: { AIRLOCK_ADMIN_API_KEY: BOOTSTRAP, AUDIT_DIR: fx.dir } });
  acme = await createTenant(stack, BOOTSTRAP);
  other = await createTenant(stack, BOOTSTRAP);
  agent = await createPrincipalWithKey(stack, acme.adminKey, 'agent');
  agent2 = await createPrincipalWithKey(stack, acme.adminKey, 'agent');
  auditor = await createPrincipalWithKey(stack, acme.adminKey, 'user', { roles: ['auditor'] });
  member = await createPrincipalWithKey(stack, acme.adminKey, 'user', { roles: ['member'] });
  outsider = await createPrincipalWithKey(stack, other.adminKey, 'agent');
});
after(async () => {
  await stack.close();
  await sealer.stop();
  redis.disconnect();
});

/** Waits until the tenant's log has an entry matching `pred` (sealed and checkpointed). */
async function sealedWhere(tenant: string, pred: (e: SealedEntry) => boolean): Promise<SealedEntry> {
  return waitFor(async () => {
    const res = await get(`/v1/audit?limit=100`, tenantAdminKey(tenant));
    const items = res.json().items as SealedEntry[];
    const hit = items.find(pred);
    return hit && checkpointSize(fx.logDir(tenant)) >= hit.seq ? hit : null;
  }, 'an entry to be sealed');
}
const tenantAdminKey = (tenant: string) => (tenant === acme.tenantId ? acme.adminKey : other.adminKey);

describe('audited token minting (the producer wired in this phase)', () => {
  test('a minted token is an entry with the principal, jti and request id, and never the token', async () => {
    const res = await requestToken(stack, agent.key, { scope: 'tasks:read' });
    assert.equal(res.statusCode, 200, res.body);
    const { token, jti } = res.json();
    const entry = await sealedWhere(acme.tenantId, (e) => e.jti === jti);
    assert.equal(entry.action, 'token.minted');
    assert.equal(entry.outcome, 'success');
    assert.equal(entry.tenant, acme.tenantId);
    assert.equal(entry.agentId, agent.id);
    assert.equal(entry.keyId, agent.keyId);
    assert.match(entry.requestId ?? '', /^[0-9a-f-]{36}$/);
    assert.equal(entry.details?.['scope'], 'tasks:read');
    // No secret anywhere under AUDIT_DIR: not the token, not an API key.
    const files: string[] = [];
    const walk = (d: string) => {
      for (const n of readdirSync(d)) {
        const p = path.join(d, n);
        if (statSync(p).isDirectory()) walk(p);
        else files.push(p);
      }
    };
    walk(fx.dir);
    // The running sealer replaces its state file by renaming a temporary one: a file listed a
    // moment ago may be gone (its content is in the file it became).
    const read = (f: string) => {
      try {
        return readFileSync(f, 'latin1');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return '';
        throw err;
      }
    };
    const everything = files.map(read).join('\n');
    for (const secret of [token, agent.key, acme.adminKey, auditor.key, BOOTSTRAP]) assert.equal(everything.includes(secret), false);
    assert.equal(everything.includes(fx.seedBase64), false, 'the signing key is not in AUDIT_DIR');
  });

  test('when the audit stream cannot be written, no token is issued (503)', async () => {
    const key = auditStreamKey(auditShard(acme.tenantId));
    const aside = `${key}:aside-${randomUUID()}`;
    const hadStream = (await redis.exists(key)) === 1;
    if (hadStream) await redis.rename(key, aside);
    await redis.set(key, 'not a stream');
    try {
      const res = await requestToken(stack, agent.key, {});
      assert.equal(res.statusCode, 503);
      assert.equal(res.json().code, 'not_ready');
      assert.equal(res.body.includes('eyJ'), false);
    } finally {
      await redis.del(key);
      if (hadStream) await redis.rename(aside, key);
    }
  });
});

describe('GET /v1/audit: admins and auditors only (others 403), filtered, paginated', () => {
  test('filters by action and agent, pages with a cursor; members and other tenants see nothing', async () => {
    for (let i = 0; i < 3; i++) assert.equal((await requestToken(stack, agent2.key, {})).statusCode, 200);
    await waitFor(async () => (await get(`/v1/audit?agentId=${agent2.id}`, auditor.key)).json().items?.length === 3, 'three entries');
    const page1 = await get(`/v1/audit?agentId=${agent2.id}&action=token.minted&limit=2`, auditor.key);
    assert.equal(page1.statusCode, 200);
    assert.equal(page1.json().items.length, 2);
    const page2 = await get(`/v1/audit?agentId=${agent2.id}&action=token.minted&limit=2&cursor=${page1.json().nextCursor}`, auditor.key);
    assert.equal(page2.json().items.length, 1);
    assert.equal(page2.json().nextCursor, null);
    const seqs = [...page1.json().items, ...page2.json().items].map((e: SealedEntry) => e.seq);
    assert.deepEqual(seqs, [...seqs].sort((a, b) => a - b));
    assert.equal((await get(`/v1/audit?agentId=${agent2.id}&outcome=denied`, auditor.key)).json().items.length, 0);
    assert.equal((await get(`/v1/audit?until=2000-01-01T00:00:00Z`, auditor.key)).json().items.length, 0);
    assert.equal((await get('/v1/audit', member.key)).statusCode, 403);
    assert.equal((await get('/v1/audit', agent.key)).statusCode, 403);
    // Another tenant's admin reads their own (empty of acme) log.
    const theirs = (await get(`/v1/audit?agentId=${agent2.id}`, other.adminKey)).json().items;
    assert.equal(theirs.length, 0);
    assert.equal((await get('/v1/audit?limit=0', auditor.key)).statusCode, 400);
    // The auditor role reads the log and nothing else.
    assert.equal((await get('/v1/admin/agents', auditor.key)).statusCode, 403);
  });
});

describe('a task trace', () => {
  let taskId: string;

  before(async () => {
    const created = await stack.app.inject({
      method: 'POST',
      url: '/v1/tasks',
      headers: { ...bearer(agent.key), 'idempotency-key': `"${randomUUID()}"` },
      payload: { runtime: 'javascript', code: '1 + 1', wait: 20, metadata: { promptSnippet: 'add one and one', userId: 'end-user-7', sessionId: 'sess-1' } },
    });
    assert.equal(created.statusCode, 201, created.body);
    assert.equal(created.json().status, 'succeeded', created.body);
    taskId = created.json().id;
    // The harness (created) and the runner (started, succeeded) append the entries in the
    // scripts that make each transition.
    await waitFor(async () => {
      const r = await get(`/v1/tasks/${taskId}/trace`, agent.key);
      return r.statusCode === 200 && r.json().entries.length === 3 && checkpointSize(fx.logDir(acme.tenantId)) >= Math.max(...r.json().entries.map((e: SealedEntry) => e.seq));
    }, 'the trace to be sealed and checkpointed');
  });

  test('the owner reads created → started → terminal in order, with agent, user and prompt snippet', async () => {
    const res = await get(`/v1/tasks/${taskId}/trace`, agent.key);
    assert.equal(res.statusCode, 200);
    const entries = res.json().entries as SealedEntry[];
    assert.deepEqual(entries.map((e) => e.action), ['task.created', 'task.started', 'task.succeeded']);
    for (const e of entries) {
      assert.equal(e.taskId, taskId);
      assert.equal(e.agentId, agent.id);
      assert.equal(e.userId, 'end-user-7');
      assert.equal(e.promptSnippet, 'add one and one');
      assert.equal(e.sessionId, 'sess-1');
    }
    assert.ok(entries[0]!.seq < entries[1]!.seq && entries[1]!.seq < entries[2]!.seq);
  });

  test('tenant admins and auditors read it; another agent of the tenant, a member and another tenant get 404', async () => {
    assert.equal((await get(`/v1/tasks/${taskId}/trace`, acme.adminKey)).statusCode, 200);
    assert.equal((await get(`/v1/tasks/${taskId}/trace`, auditor.key)).statusCode, 200);
    for (const key of [agent2.key, member.key, outsider.key, other.adminKey]) {
      const res = await get(`/v1/tasks/${taskId}/trace`, key);
      assert.equal(res.statusCode, 404);
      assert.equal(res.json().code, 'not_found');
    }
    assert.equal((await get(`/v1/tasks/${randomUUID()}/trace`, acme.adminKey)).statusCode, 404);
  });

  test('scoped credentials: the owner\'s task token with tasks:read reads the trace; without it, or on /v1/audit, 403', async () => {
    const reader = (await requestToken(stack, agent.key, { scope: 'tasks:read' })).json().token as string;
    const creator = (await requestToken(stack, agent.key, { scope: 'tasks:create' })).json().token as string;
    assert.equal((await get(`/v1/tasks/${taskId}/trace`, reader)).statusCode, 200);
    assert.equal((await get(`/v1/audit/checkpoint`, creator)).statusCode, 200);
    const noScope = await get(`/v1/tasks/${taskId}/trace`, creator);
    assert.equal(noScope.statusCode, 403);
    assert.equal(noScope.json().code, 'insufficient_scope');
    assert.equal((await get('/v1/audit', reader)).statusCode, 403);
  });

  test('?proofs=true is a bundle that verifies offline with the public key alone; a tampered bundle is named', async () => {
    const pk = (await get('/v1/audit/public-key', agent.key)).json();
    assert.equal(pk.verifierKey, fx.verifierKey(acme.tenantId));
    const res = await get(`/v1/tasks/${taskId}/trace?proofs=true`, agent.key);
    assert.equal(res.statusCode, 200, res.body);
    const bundle = res.json();
    // The lifecycle, then the decisions about the task made since (the reads the test above
    // made by others than the owner, allowed and denied).
    assert.ok(bundle.entries.length >= 3);
    const started = (bundle.entries as string[]).findIndex((e) => e.includes('"action":"task.started"'));
    assert.equal(started, 1);
    assert.deepEqual(verifyTraceBundle(bundle, [parseVerifierKey(pk.verifierKey)]).ok, true);
    const dir = await mkdtemp(path.join(tmpdir(), 'airlock-bundle-'));
    const file = path.join(dir, 'trace.json');
    writeFileSync(file, res.body);
    const run = (f: string) => spawnSync(process.execPath, ['--import', 'tsx', 'scripts/audit-verify.ts', f, '--key', pk.verifierKey], { cwd: ROOT, encoding: 'utf8' });
    assert.equal(run(file).status, 0, run(file).stdout);
    const tampered = structuredClone(bundle);
    assert.match(tampered.entries[1], /"runnerId":"[^"]+"/);
    tampered.entries[1] = tampered.entries[1].replace(/"runnerId":"[^"]+"/, '"runnerId":"r-evil"');
    writeFileSync(file, JSON.stringify(tampered));
    const bad = run(file);
    assert.equal(bad.status, 1);
    assert.equal(JSON.parse(bad.stdout).firstBroken.seq, bundle.proofs[started].seq);
    // Another tenant's key does not verify it.
    const theirs = (await get('/v1/audit/public-key', outsider.key)).json().verifierKey;
    assert.equal(verifyTraceBundle(bundle, [parseVerifierKey(theirs)]).ok, false);
  });
});

describe('checkpoints, consistency and verify', () => {
  test('the checkpoint opens with the public key; a consistency proof links two checkpoints', async () => {
    const vk = parseVerifierKey((await get('/v1/audit/public-key', member.key)).json().verifierKey);
    const first = (await get('/v1/audit/checkpoint', member.key)).json();
    const c1 = openCheckpoint(first.note, [vk]);
    assert.equal(c1.size, first.size);
    assert.equal((await requestToken(stack, agent.key, {})).statusCode, 200);
    const second = await waitFor(async () => {
      const c = (await get('/v1/audit/checkpoint', member.key)).json();
      return c.size > c1.size ? c : null;
    }, 'a newer checkpoint');
    const c2 = openCheckpoint(second.note, [vk]);
    const proof = await get(`/v1/audit/consistency?from=${c1.size}&to=${c2.size}`, member.key);
    assert.equal(proof.statusCode, 200);
    assert.ok(verifyConsistency(c1.size, c2.size, proof.json().hashes.map(fromBase64), c1.rootHash, c2.rootHash));
    assert.equal(verifyConsistency(c1.size, c2.size, proof.json().hashes.map(fromBase64), c2.rootHash, c1.rootHash), false);
    assert.equal((await get(`/v1/audit/consistency?from=${c2.size + 1}&to=${c2.size}`, member.key)).statusCode, 400);
    assert.equal((await get(`/v1/audit/consistency?from=1&to=${10 ** 9}`, member.key)).statusCode, 400);
  });

  test('GET /v1/audit/verify walks the log: ok, then names an entry edited on disk', async () => {
    const ok = await get('/v1/audit/verify', auditor.key);
    assert.equal(ok.statusCode, 200);
    assert.equal(ok.json().ok, true);
    assert.ok(ok.json().entries >= 8 && ok.json().checkpoints >= 1);
    assert.equal((await get('/v1/audit/verify', member.key)).statusCode, 403);
    const seg = path.join(fx.logDir(acme.tenantId), segmentName(1));
    const text = readFileSync(seg, 'utf8');
    writeFileSync(seg, text.replace('"seq":2,', '"seq":2,"x":1,'));
    const broken = (await get('/v1/audit/verify', auditor.key)).json();
    assert.equal(broken.ok, false);
    assert.equal(broken.firstBroken.seq, 2);
    writeFileSync(seg, text);
  });
});
