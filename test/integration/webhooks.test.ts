/**
 * Signed webhooks through the real app, runner, Redis and a loopback receiver of this test's
 * own: a task with a callbackUrl is POSTed to it when it ends, signed per Standard Webhooks
 * with the tenant's secret (verified here with the secret the admin API showed once); a
 * receiver that fails once gets the same webhook-id again after a backoff; a receiver the
 * operator did not open (another loopback address) is refused and never reached; no secret,
 * no callbackUrl.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { Queue } from 'bullmq';
import { verifyWebhook } from '../../harness/webhooks/signature.ts';
import { pollTask, startStack, TERMINAL, type Stack } from '../helpers/stack.ts';

const ADMIN_KEY = `admin-${randomUUID()}`;

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
  let secret = '';
  before(async () => {
    open = await receiver('127.0.0.1', 1);
    // Another loopback address and port the operator did not open: a broken check could only
    // reach this listener of the test's own.
    closed = await receiver('127.0.0.2', 0);
    stack = await startStack({
      harnessEnv: {
        AIRLOCK_ADMIN_API_KEY: ADMIN_KEY,
        AIRLOCK_ADMIN_TENANT: 'acme',
        WEBHOOK_PRIVATE_TARGETS: `127.0.0.1:${open.port}`,
        WEBHOOK_BACKOFF_MS: '300',
      },
    });
  });
  after(async () => {
    await stack?.deps.redis.del('airlock:webhooks:{acme}');
    await stack?.close();
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
