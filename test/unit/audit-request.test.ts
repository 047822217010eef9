/**
 * Pure parts of the harness's audit entries: the action names of admin changes, and how a long
 * list of grant changes is bounded in a terminal entry (still pinned by its hash).
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import type { FastifyRequest } from 'fastify';
import { adminAction } from '../../harness/audit/request-audit.ts';
import { canonicalJson } from '../../protocol/audit/canonical-json.ts';
import { buildAuditDraft, MAX_DRAFT_BYTES } from '../../protocol/audit/entry.ts';
import { grantChangesDetail } from '../../protocol/audit/grant-changes.ts';
import type { FileChange } from '../../protocol/task.ts';

const req = (method: string, url: string) => ({ method, routeOptions: { url } }) as unknown as FastifyRequest;

test('admin change actions: resource words, then the verb; disable is a verb; token revocation', () => {
  assert.equal(adminAction(req('POST', '/v1/admin/agents')), 'admin.agents.create');
  assert.equal(adminAction(req('POST', '/v1/admin/users/:id/keys')), 'admin.users.keys.create');
  assert.equal(adminAction(req('POST', '/v1/admin/agents/:id/disable')), 'admin.agents.disable');
  assert.equal(adminAction(req('DELETE', '/v1/admin/keys/:keyId')), 'admin.keys.delete');
  assert.equal(adminAction(req('PUT', '/v1/admin/grants/:name')), 'admin.grants.put');
  assert.equal(adminAction(req('PUT', '/v1/admin/storage/tenants/:tenantId')), 'admin.storage.tenants.put');
  assert.equal(adminAction(req('DELETE', '/v1/admin/policies/shadow')), 'admin.policies.shadow.delete');
  assert.equal(adminAction(req('DELETE', '/v1/tokens/:jti')), 'token.revoked');
});

test('grant changes: as many as fit 8 KiB are listed, the count and the hash cover them all; the entry stays under 16 KiB', () => {
  const changes: FileChange[] = Array.from({ length: 2000 }, (_, i) => ({
    grant: 'g',
    path: `dir/${'x'.repeat(40)}-${i}.txt`,
    change: 'created',
    size: i,
    sha256: createHash('sha256').update(String(i)).digest('hex'),
  }));
  const d = grantChangesDetail(changes);
  assert.equal(d.grantChangeCount, 2000);
  assert.ok(d.grantChanges.length > 10 && d.grantChanges.length < 2000);
  assert.ok(JSON.stringify(d.grantChanges).length <= 8 * 1024 + 2);
  assert.deepEqual(d.grantChanges[0], { grant: 'g', path: changes[0]!.path, change: 'created', sha256: changes[0]!.sha256 });
  assert.equal(d.grantChangesSha256, createHash('sha256').update(canonicalJson(changes)).digest('hex'));
  const draft = buildAuditDraft({ tenant: 't', taskId: 'x', action: 'task.succeeded', outcome: 'success', details: { status: 'succeeded', ...d } });
  assert.ok(JSON.stringify(draft).length < MAX_DRAFT_BYTES);
  const few = grantChangesDetail(changes.slice(0, 2));
  assert.equal(few.grantChanges.length, 2);
});
