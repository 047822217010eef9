/**
 * Capability calls end to end through real parts: an agent POSTs a task declaring capabilities
 * to the real harness app; a real runner (isolate hosts, or the Docker backend with the real
 * sandbox image and its Python client) runs the code; each call goes sandbox → runner → the
 * real harness broker on its loopback listener → a REAL loopback HTTP fixture (ticketing and
 * payments APIs that check the credential and echo it back). The credential must reach the
 * fixture and appear nowhere else: not in the task (result, output), its events, the audit
 * streams, the runner's environment, or the container's environment.
 */
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { activatePolicies, auditDrafts, auditText, permitInvoke, putCapability, putCredential, resetPolicies } from '../helpers/capabilities.ts';
import { dockerGate } from '../helpers/docker.ts';
import { pollTask, REDIS_URL, startStack, TERMINAL, type Stack } from '../helpers/stack.ts';
import { startTargetFixture, type TargetFixture } from '../helpers/target-fixture.ts';

const ADMIN_KEY = `admin-${randomUUID()}`;
const SECRETS = {
  tickets: `tk_${randomBytes(18).toString('base64url')}`,
  payments: `pk_${randomBytes(18).toString('hex')}`,
  basic: `svc:${randomBytes(12).toString('hex')}`,
};
const skipDocker = await dockerGate();
const reverse = (s: string) => [...s].reverse().join('');

let redis: Redis;
let target: TargetFixture;

async function setUp(stack: Stack): Promise<void> {
  const base = target.base;
  await putCredential(stack, ADMIN_KEY, 'tickets', { type: 'bearer', value: SECRETS.tickets });
  await putCredential(stack, ADMIN_KEY, 'payments', { type: 'header', header: 'X-Api-Key', value: SECRETS.payments });
  const obj = (properties: Record<string, unknown>, required: string[]) => ({ type: 'object', properties, required, additionalProperties: false });
  await putCapability(stack, ADMIN_KEY, 'tickets.create', {
    description: 'Opens a ticket',
    input: obj({ title: { type: 'string' } }, ['title']),
    risk: 'write',
    implementation: { type: 'http', method: 'POST', url: `${base}/tickets`, body: 'input', credential: 'tickets' },
  });
  await putCapability(stack, ADMIN_KEY, 'payments.refund', {
    description: 'Refunds an order',
    input: obj({ order: { type: 'string' }, amount: { type: 'integer' } }, ['order', 'amount']),
    risk: 'write',
    implementation: { type: 'http', method: 'POST', url: `${base}/refunds/{input.order}`, body: { amount: '{input.amount}' }, credential: 'payments' },
  });
  await putCapability(stack, ADMIN_KEY, 'hang.wait', {
    description: 'Never answers',
    input: obj({ id: { type: 'string' } }, ['id']),
    risk: 'read',
    timeoutMs: 60_000,
    implementation: { type: 'http', method: 'GET', url: `${base}/hang?id={input.id}` },
  });
  await activatePolicies(stack, ADMIN_KEY, `${permitInvoke('e2e-caps', ['tickets.create', 'payments.refund', 'hang.wait'])}
    @id("refund-limit") forbid (principal, action == Airlock::Action::"capabilities.invoke", resource == Airlock::Capability::"payments.refund")
      when { resource.numbers.hasTag("amount") && resource.numbers.getTag("amount") > 1000 };`);
  await new Promise((r) => setTimeout(r, 1100)); // the broker's policy cache
}

async function waitFor(what: string, ok: () => boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function runTask(stack: Stack, body: Record<string, unknown>): Promise<Record<string, unknown> & { status: string; id: string }> {
  const res = await stack.app.inject({ method: 'POST', url: '/v1/tasks', headers: stack.headers('alice'), payload: body });
  assert.equal(res.statusCode, 201, res.body);
  const task = await pollTask(stack, res.json().id, (t) => TERMINAL.has(t.status), 'alice', 90_000);
  return task as Record<string, unknown> & { status: string; id: string };
}

/** Every place a credential must not be, for one task. */
async function assertNoSecretAnywhere(stack: Stack, taskId: string): Promise<void> {
  const task = await stack.app.inject({ method: 'GET', url: `/v1/tasks/${taskId}`, headers: stack.headers('alice', null) });
  const events = JSON.stringify(await stack.deps.store.readEvents(taskId, '-', 10_000));
  const audit = await auditText(redis);
  const env = JSON.stringify(process.env);
  for (const secret of Object.values(SECRETS)) {
    for (const form of [secret, Buffer.from(secret).toString('base64'), encodeURIComponent(secret)]) {
      assert.ok(!task.body.includes(form), 'task');
      assert.ok(!events.includes(form), 'events');
      assert.ok(!audit.includes(form), 'audit');
      assert.ok(!env.includes(form), 'runner environment');
    }
  }
}

const JS = `
const t = await caps.tickets.create({ title: 'Disk full' });
let denied = null;
try { await caps.payments.refund({ order: 'ORDER', amount: 5000 }); } catch (e) { denied = [e.code, e.capability]; }
const r = await caps.call('payments.refund', { order: 'ORDER', amount: 5 });
console.log('echo:', t.seenAuthorization);
({ t, denied, r })`;

before(async () => {
  redis = new Redis(REDIS_URL);
  target = await startTargetFixture(SECRETS);
});
after(async () => {
  await target.close();
  redis.disconnect();
});

describe('isolate tasks', () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack({
      broker: true,
      harnessEnv: {
        AIRLOCK_ADMIN_API_KEY: ADMIN_KEY,
        AIRLOCK_ADMIN_TENANT: 'acme',
        AIRLOCK_VAULT_KEY: randomBytes(32).toString('base64'),
        CAPABILITY_PRIVATE_TARGETS: `127.0.0.1:${target.port}`,
      },
    });
    await setUp(stack);
  });
  after(async () => {
    await resetPolicies(stack, ADMIN_KEY);
    await stack.close();
  });

  test('caps.* reach the fixture with the right credential; denials are catchable; the echo is redacted', { timeout: 60_000 }, async () => {
    const order = `o-${randomUUID()}`;
    const task = await runTask(stack, { runtime: 'javascript', code: JS.replace(/ORDER/g, order), capabilities: ['tickets.create', 'payments.refund'] });
    assert.equal(task.status, 'succeeded', JSON.stringify(task));
    const result = task['result'] as { value: { t: { id: number; title: string; seenAuthorization: string }; denied: unknown; r: unknown }; stdout: string };
    assert.equal(result.value.t.title, 'Disk full');
    assert.equal(result.value.t.seenAuthorization, 'Bearer [REDACTED]');
    assert.deepEqual(result.value.denied, ['capability_denied', 'payments.refund']);
    assert.deepEqual(result.value.r, { refunded: 5, order, refundId: `re_${target.refunds.length}` });
    assert.match(result.stdout, /echo: Bearer \[REDACTED\]/);
    const tickets = target.seen.filter((s) => s.url === '/tickets');
    assert.equal(tickets.at(-1)?.headers.authorization, `Bearer ${SECRETS.tickets}`);
    assert.equal(target.refunds.filter((r) => r.order === order).length, 1, 'the denied refund never reached the target');
    const calls = (await auditDrafts(redis, task.id)).filter((e) => e.action === 'capability.call');
    assert.deepEqual(calls.map((e) => [(e.details as { seq: number }).seq, e.outcome]), [[0, 'success'], [1, 'denied'], [2, 'success']]);
    await assertNoSecretAnywhere(stack, task.id);
  });

  test('cancelling a task aborts its call in flight, all the way to the target', { timeout: 60_000 }, async () => {
    const hangId = randomUUID();
    const res = await stack.app.inject({
      method: 'POST',
      url: '/v1/tasks',
      headers: stack.headers('alice'),
      payload: { runtime: 'javascript', code: `await caps.hang.wait({ id: '${hangId}' })`, capabilities: ['hang.wait'], timeoutMs: 50_000 },
    });
    assert.equal(res.statusCode, 201, res.body);
    const id = res.json().id as string;
    const until = (what: string, ok: () => boolean) => waitFor(what, ok);
    await until('the call to reach the target', () => target.seen.some((s) => s.url === `/hang?id=${hangId}`));
    const cancelled = await stack.app.inject({ method: 'DELETE', url: `/v1/tasks/${id}`, headers: stack.headers('alice') });
    assert.equal(cancelled.json().status, 'cancelled');
    await until('the target to see the connection closed', () => target.hangsClosed.includes(hangId));
    const calls = (await auditDrafts(redis, id)).filter((e) => e.action === 'capability.call');
    assert.equal((calls.at(-1)?.details as { aborted?: boolean } | undefined)?.aborted, true, JSON.stringify(calls));
  });

  test('an undeclared capability is not callable', { timeout: 60_000 }, async () => {
    const task = await runTask(stack, {
      runtime: 'javascript',
      code: `let code; try { await caps.call('payments.refund', { order: 'x', amount: 1 }); } catch (e) { code = e.code; } ({ code, keys: Object.keys(caps).sort() })`,
      capabilities: ['tickets.create'],
    });
    assert.equal(task.status, 'succeeded', JSON.stringify(task));
    assert.deepEqual((task['result'] as { value: unknown }).value, { code: 'capability_denied', keys: ['call', 'tickets'] });
  });
});

describe('python container tasks', { skip: skipDocker }, () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack({
      broker: true,
      runnerEnv: { RUNNER_BACKENDS: 'docker', WARM_POOL_SIZE: '1' },
      harnessEnv: {
        AIRLOCK_ADMIN_API_KEY: ADMIN_KEY,
        AIRLOCK_ADMIN_TENANT: 'acme',
        AIRLOCK_VAULT_KEY: randomBytes(32).toString('base64'),
        CAPABILITY_PRIVATE_TARGETS: `127.0.0.1:${target.port}`,
      },
    });
    await setUp(stack);
  });
  after(async () => {
    await resetPolicies(stack, ADMIN_KEY);
    await stack.close();
  });

  test('`from airlock import caps` reaches the fixture through the broker; the credential is nowhere in the container', { timeout: 120_000 }, async () => {
    const order = `py-${randomUUID()}`;
    const code = `import json, os
from airlock import caps, CapabilityError
t = caps.tickets.create(title="From Python")
try:
    caps.payments.refund(order="${order}", amount=5000)
    denied = None
except CapabilityError as e:
    denied = e.code
r = caps.call("payments.refund", {"order": "${order}", "amount": 9})
files = ""
for root, _, names in os.walk("/"):
    if root.startswith(("/proc", "/sys", "/dev", "/usr", "/lib")):
        continue
    for n in names:
        try:
            with open(os.path.join(root, n), "rb") as f:
                files += f.read(65536).decode("latin-1")
        except Exception:
            pass
# The secrets reversed: the program file itself must not hold them.
secrets = [s[::-1] for s in ${JSON.stringify([reverse(SECRETS.tickets), reverse(SECRETS.payments)])}]
print(json.dumps({"t": t, "denied": denied, "r": r, "env": dict(os.environ), "filesHaveSecret": any(s in files for s in secrets)}))`;
    const task = await runTask(stack, { runtime: 'python', code, capabilities: ['tickets.create', 'payments.refund'], timeoutMs: 60_000 });
    assert.equal(task.status, 'succeeded', JSON.stringify(task));
    const out = JSON.parse((task['result'] as { stdout: string }).stdout) as {
      t: { title: string; seenAuthorization: string }; denied: string; r: unknown; env: Record<string, string>; filesHaveSecret: boolean;
    };
    assert.equal(out.t.title, 'From Python');
    assert.equal(out.t.seenAuthorization, 'Bearer [REDACTED]');
    assert.equal(out.denied, 'capability_denied');
    assert.deepEqual(out.r, { refunded: 9, order, refundId: `re_${target.refunds.length}` });
    assert.equal(out.filesHaveSecret, false, 'no file of the container holds a credential');
    assert.ok(!JSON.stringify(out.env).includes(SECRETS.tickets) && !JSON.stringify(out.env).includes(SECRETS.payments));
    await assertNoSecretAnywhere(stack, task.id);
  });
});
