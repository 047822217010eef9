/**
 * The whole capability path under the compose stack's Redis ACL users: the harness (with its
 * broker) connects as `harness`, the runner as `runner`, to a redis-server loaded with the ACL
 * file deploy/setup.sh renders. Vault, capability registry, per-agent call limits, approvals,
 * call records, webhook secrets and the task's storage accounting must all work — a key pattern
 * missing from a user shows here as NOPERM, and in `ACL LOG`, which must stay empty.
 */
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import type { Approval } from '../../protocol/approval.ts';
import { activatePolicies, permitInvoke, putCapability, putCredential } from '../helpers/capabilities.ts';
import { startAclRedis, type AclRedis } from '../helpers/acl-redis.ts';
import { bearer, createPrincipalWithKey } from '../helpers/identity.ts';
import { pollTask, startStack, TERMINAL, type Stack } from '../helpers/stack.ts';
import { startTargetFixture, type TargetFixture } from '../helpers/target-fixture.ts';

const ADMIN_KEY = `admin-${randomUUID()}`;
const SECRETS = { tickets: 't', payments: `pk_${randomBytes(12).toString('hex')}`, basic: 'u:p' };
let acl: AclRedis;
let admin: Redis;
let target: TargetFixture;
let stack: Stack;

before(async () => {
  acl = await startAclRedis();
  admin = new Redis(acl.url('admin'));
  target = await startTargetFixture(SECRETS);
  stack = await startStack({
    broker: true,
    harnessEnv: {
      REDIS_URL: acl.url('harness'),
      AIRLOCK_ADMIN_API_KEY: ADMIN_KEY,
      AIRLOCK_ADMIN_TENANT: 'acme',
      AIRLOCK_VAULT_KEY: randomBytes(32).toString('base64'),
      CAPABILITY_PRIVATE_TARGETS: `127.0.0.1:${target.port}`,
      APPROVAL_POLL_MS: '1000',
    },
    runnerEnv: { REDIS_URL: acl.url('runner') },
  });
});
after(async () => {
  await stack?.close();
  await target?.close();
  admin?.disconnect();
  acl?.stop();
});

describe('capabilities, approvals and webhooks under the ACL users', () => {
  test('a call that needs approval runs once after approval; nothing is refused by the ACL', { timeout: 90_000 }, async () => {
    await admin.acl('LOG', 'RESET');
    await putCredential(stack, ADMIN_KEY, 'payments', { type: 'header', header: 'X-Api-Key', value: SECRETS.payments });
    await putCapability(stack, ADMIN_KEY, 'payments.refund', {
      description: 'Refunds an order',
      input: { type: 'object', properties: { order: { type: 'string' }, amount: { type: 'integer' } }, required: ['order', 'amount'], additionalProperties: false },
      risk: 'irreversible',
      rateLimit: { perMinute: 100 },
      implementation: { type: 'http', method: 'POST', url: `${target.base}/refunds/{input.order}`, body: { amount: '{input.amount}' }, credential: 'payments' },
    });
    await activatePolicies(stack, ADMIN_KEY, permitInvoke('acl-caps', ['payments.refund']));
    const approver = await createPrincipalWithKey(stack, ADMIN_KEY, 'user', { roles: ['approver'] });
    const rotated = await stack.app.inject({ method: 'POST', url: '/v1/admin/webhooks/secret', headers: bearer(ADMIN_KEY) });
    assert.ok(rotated.statusCode < 300, rotated.body);
    const discovery = await stack.app.inject({ method: 'GET', url: '/v1/capabilities', headers: stack.headers('alice', null) });
    assert.equal(discovery.statusCode, 200, discovery.body);

    const order = `acl-${randomUUID()}`;
    const created = await stack.app.inject({
      method: 'POST',
      url: '/v1/tasks',
      headers: stack.headers('alice'),
      payload: { runtime: 'javascript', code: `(await caps.payments.refund({ order: '${order}', amount: 5 })).refunded`, capabilities: ['payments.refund'], timeoutMs: 60_000 },
    });
    assert.equal(created.statusCode, 201, created.body);
    const id = created.json().id as string;
    let pending: Approval | undefined;
    for (let i = 0; i < 300 && !pending; i++) {
      const res = await stack.app.inject({ method: 'GET', url: '/v1/approvals?status=pending&limit=100', headers: bearer(approver.key) });
      assert.equal(res.statusCode, 200, res.body);
      pending = (res.json().items as Approval[]).find((a) => a.taskId === id);
      if (!pending) await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(pending, 'the approval request was made');
    const approved = await stack.app.inject({ method: 'POST', url: `/v1/approvals/${pending.id}/approve`, headers: bearer(approver.key), payload: {} });
    assert.equal(approved.statusCode, 200, approved.body);
    const task = await pollTask(stack, id, (t) => TERMINAL.has(t.status), 'alice', 60_000);
    assert.equal(task.status, 'succeeded', JSON.stringify(task));
    assert.equal((task['result'] as { value: unknown }).value, 5);
    assert.equal(target.refunds.filter((r) => r.order === order).length, 1, 'the refund happened once');

    const log = (await admin.acl('LOG')) as unknown[];
    assert.deepEqual(log, [], `ACL LOG must stay empty: ${JSON.stringify(log)}`);
  });
});
