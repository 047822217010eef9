/**
 * Signed webhooks through the real app, runner, Redis and a loopback receiver of this test's
 * own: a task with a callbackUrl is POSTed to it when it ends, signed per Standard Webhooks
 * with the tenant's secret (verified here with the secret the admin API showed once); a
 * receiver that fails once gets the same webhook-id again after a backoff; a receiver the
 * operator did not open (another loopback address) is refused and never reached; no secret,
 * no callbackUrl. A task whose capability call waits for a human's approval (a real broker and
 * a loopback payments fixture; the capability is irreversible) is POSTed when it starts waiting
 * (`task.waiting_approval`, signed) and again when it ends after the approval.
 */
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { Queue } from 'bullmq';
import { verifyWebhook } from '../../harness/webhooks/signature.ts';
import type { Approval } from '../../protocol/approval.ts';
import { activatePolicies, permitInvoke, putCapability, putCredential, resetPolicies } from '../helpers/capabilities.ts';
import { bearer, createPrincipalWithKey } from '../helpers/identity.ts';
import { pollTask, startStack, TERMINAL, type Stack } from '../helpers/stack.ts';
import { startTargetFixture, type TargetFixture } from '../helpers/target-fixture.ts';

const ADMIN_KEY = `admin-${randomUUID()}`;
const SECRETS = { tickets: `tk_${randomBytes(12).toString('hex')}`, payments: `pk_${randomBytes(12).toString('hex')}`, basic: 'u:p' };

interface Delivery {
  headers: http.IncomingHttpHeaders;
  body: string;
}

async function receiver(host: string, failFirst: number): Promise<{ url: string; port: number; got: Delivery[]; close(): Promise<void> }> {
  const got: Delivery[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      got.push({ headers: req.headers, body });
      res.writeHead(got.length <= failFirst ? 500 : 204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://${host}:${port}/hook`,
    port,
    got,
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}

async function until<T>(check: () => T | undefined | Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('signed webhooks', () => {
  let stack: Stack;
  let open: Awaited<ReturnType<typeof receiver>>;
  let closed: Awaited<ReturnType<typeof receiver>>;
  let target: TargetFixture;
  let secret = '';
  before(async () => {
    target = await startTargetFixture(SECRETS);
    open = await receiver('127.0.0.1', 1);
    // Another loopback address and port the operator did not open: a broken check could only
    // reach this listener of the test's own.
    closed = await receiver('127.0.0.2', 0);
    stack = await startStack({
      broker: true,
      harnessEnv: {
        AIRLOCK_ADMIN_API_KEY: ADMIN_KEY,
        AIRLOCK_ADMIN_TENANT: 'acme',
        AIRLOCK_VAULT_KEY: randomBytes(32).toString('base64'),
        CAPABILITY_PRIVATE_TARGETS: `127.0.0.1:${target.port}`,
        APPROVAL_POLL_MS: '1000',
        WEBHOOK_PRIVATE_TARGETS: `127.0.0.1:${open.port}`,
        WEBHOOK_BACKOFF_MS: '300',
      },
    });
  });
  after(async () => {
    await stack?.deps.redis.del('airlock:webhooks:{acme}');
    if (stack) await resetPolicies(stack, ADMIN_KEY);
    await stack?.close();
    await target?.close();
    await open?.close();
    await closed?.close();
  });

  const create = (payload: Record<string, unknown>) =>
    stack.app.inject({ method: 'POST', url: '/v1/tasks', headers: stack.headers(), payload });
  const admin = (method: 'GET' | 'POST', url: string, key = randomUUID()) =>
    stack.app.inject({ method, url, headers: { authorization: `Bearer ${ADMIN_KEY}`, 'idempotency-key': `"${key}"` } });

  test('without a webhook secret a callbackUrl is refused and nothing is created', async () => {
    await stack.deps.redis.del('airlock:webhooks:{acme}');
    const res = await create({ runtime: 'javascript', code: '1', callbackUrl: open.url });
    assert.equal(res.statusCode, 400, res.body);
    assert.match(res.json().detail, /webhooks\/secret/);
    for (const bad of ['ftp://127.0.0.1/x', 'http://user:pw@127.0.0.1/x', 'not a url']) {
      const r = await create({ runtime: 'javascript', code: '1', callbackUrl: bad });
      assert.equal(r.statusCode, 400, `${bad}: ${r.body}`);
    }
  });

  test('the admin makes a secret, shown once', async () => {
    const key = randomUUID();
    const made = await admin('POST', '/v1/admin/webhooks/secret', key);
    assert.equal(made.statusCode, 201, made.body);
    secret = made.json().secret as string;
    assert.match(secret, /^whsec_[A-Za-z0-9+/]{43}=$/);
    const replay = await admin('POST', '/v1/admin/webhooks/secret', key);
    assert.equal(replay.json().secret, null, 'a replay never shows it again');
    const info = await admin('GET', '/v1/admin/webhooks');
    assert.equal(info.json().configured, true);
    assert.ok(!info.body.includes(secret.slice(6)));
    const agent = await stack.app.inject({ method: 'POST', url: '/v1/admin/webhooks/secret', headers: stack.headers() });
    assert.equal(agent.statusCode, 403, 'an agent cannot rotate it');
  });

  test('a finished task is POSTed, signed; a failed delivery is retried with the same webhook-id', async () => {
    const res = await create({ runtime: 'javascript', code: 'console.log("hooked"); 2 + 2', callbackUrl: open.url });
    assert.equal(res.statusCode, 201, res.body);
    const id = res.json().id as string;
    assert.equal(res.json().callbackUrl, open.url);
    await pollTask(stack, id, (t) => TERMINAL.has(t.status));
    await until(() => (open.got.length >= 2 ? true : undefined));
    const [first, second] = open.got as [Delivery, Delivery];
    assert.equal(first.headers['webhook-id'], second.headers['webhook-id'], 'same id on the retry');
    for (const d of [first, second]) {
      const ok = verifyWebhook(secret, {
        id: String(d.headers['webhook-id']),
        timestamp: String(d.headers['webhook-timestamp']),
        signature: String(d.headers['webhook-signature']),
      }, d.body);
      assert.ok(ok, 'the signature verifies with the secret the admin was shown');
      assert.ok(!verifyWebhook(`whsec_${Buffer.alloc(32).toString('base64')}`, {
        id: String(d.headers['webhook-id']), timestamp: String(d.headers['webhook-timestamp']), signature: String(d.headers['webhook-signature']),
      }, d.body), 'and not with another secret');
      assert.ok(!verifyWebhook(secret, {
        id: String(d.headers['webhook-id']), timestamp: String(d.headers['webhook-timestamp']), signature: String(d.headers['webhook-signature']),
      }, d.body.replace('succeeded', 'failed')), 'nor for an altered body');
    }
    const body = JSON.parse(second.body) as { type: string; data: { id: string; status: string; result: { stdout: string } } };
    assert.equal(body.type, 'task.succeeded');
    assert.equal(body.data.id, id);
    assert.match(body.data.result.stdout, /hooked/);
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal(open.got.length, 2, 'delivered once it succeeded, no more');
  });

  test('a call waiting for approval is POSTed when it starts waiting, and the task again when it ends', { timeout: 90_000 }, async () => {
    await putCredential(stack, ADMIN_KEY, 'payments', { type: 'header', header: 'X-Api-Key', value: SECRETS.payments });
    await putCapability(stack, ADMIN_KEY, 'payments.refund', {
      description: 'Refunds an order (cannot be undone)',
      input: { type: 'object', properties: { order: { type: 'string' }, amount: { type: 'integer' } }, required: ['order', 'amount'], additionalProperties: false },
      risk: 'irreversible',
      implementation: { type: 'http', method: 'POST', url: `${target.base}/refunds/{input.order}`, body: { amount: '{input.amount}' }, credential: 'payments' },
    });
    await activatePolicies(stack, ADMIN_KEY, permitInvoke('webhook-caps', ['payments.refund']));
    await new Promise((r) => setTimeout(r, 1100)); // the broker's policy cache
    const approver = await createPrincipalWithKey(stack, ADMIN_KEY, 'user', { roles: ['approver'] });
    const order = `o-${randomUUID()}`;
    const res = await create({
      runtime: 'javascript', code: `const r = await caps.payments.refund({ order: '${order}', amount: 3 }); r`,
      capabilities: ['payments.refund'], timeoutMs: 60_000, callbackUrl: open.url,
    });
    assert.equal(res.statusCode, 201, res.body);
    const id = res.json().id as string;
    type Body = { type: string; data: { id: string; status: string; pendingApprovals?: { id: string; capability: string }[] } };
    const ofTask = () => open.got.map((d) => ({ d, body: JSON.parse(d.body) as Body })).filter((x) => x.body.data.id === id);
    const waiting = await until(() => ofTask().find((x) => x.body.type === 'task.waiting_approval'), 30_000);
    const headers = waiting.d.headers;
    assert.ok(verifyWebhook(secret, { id: String(headers['webhook-id']), timestamp: String(headers['webhook-timestamp']), signature: String(headers['webhook-signature']) }, waiting.d.body));
    assert.equal(target.refunds.filter((r) => r.order === order).length, 0, 'the webhook came before anything ran');
    assert.ok(!ofTask().some((x) => TERMINAL.has(x.body.data.status)), 'nothing says the task ended');

    const approval = await until(async () => {
      const list = await stack.app.inject({ method: 'GET', url: '/v1/approvals?status=pending&limit=100', headers: bearer(approver.key) });
      return (list.json().items as Approval[]).find((a) => a.taskId === id);
    });
    assert.deepEqual(waiting.body.data.pendingApprovals, [{ id: approval.id, capability: 'payments.refund', deadline: approval.deadline }], 'the body names the request');
    const decided = await stack.app.inject({ method: 'POST', url: `/v1/approvals/${approval.id}/approve`, headers: bearer(approver.key), payload: {} });
    assert.equal(decided.statusCode, 200, decided.body);
    const done = await until(() => ofTask().find((x) => x.body.type === 'task.succeeded'), 30_000);
    assert.equal(done.body.data.status, 'succeeded');
    assert.notEqual(done.d.headers['webhook-id'], headers['webhook-id']);
    await new Promise((r) => setTimeout(r, 1000));
    assert.deepEqual(ofTask().map((x) => x.body.type), ['task.waiting_approval', 'task.succeeded'], 'one each');
  });

  test('a receiver the operator did not open is refused and never reached', async () => {
    const res = await create({ runtime: 'javascript', code: '1', callbackUrl: closed.url });
    assert.equal(res.statusCode, 201, res.body);
    const id = res.json().id as string;
    await pollTask(stack, id, (t) => TERMINAL.has(t.status));
    const connection = stack.deps.redis.duplicate({ maxRetriesPerRequest: null });
    const queue = new Queue(`${stack.queueName}-webhooks`, { connection });
    try {
      const reason = await until(async () => {
        const job = await queue.getJob(`${id}.succeeded`);
        return job?.failedReason || undefined;
      });
      assert.match(reason, /refused/);
    } finally {
      await queue.close();
      connection.disconnect();
    }
    assert.equal(closed.got.length, 0);
  });
});
