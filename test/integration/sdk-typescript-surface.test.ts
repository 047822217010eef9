/**
 * The TypeScript SDK's typed surface beyond tasks, BUILT with tsc and imported from its output,
 * against a real listening harness with a broker, a runner (isolates and containers), Redis and
 * a real loopback payments fixture, through the fault proxy (test/helpers/fault-proxy.ts):
 * - admin: agents, users, keys, credentials, capabilities, policies, limits, storage, grants,
 *   webhook secret, tenants — each through its typed method, answers as the API gives them;
 * - capabilities: an agent lists what it may call and reads the `caps` declarations;
 * - approvals: a task's irreversible call waits (create with `wait` answers `waiting_approval`),
 *   an approver lists, reads and approves it with the SDK, the task ends; deciding twice is a
 *   ConflictError with the problem's code; an agent is refused (ForbiddenError);
 * - audit: the trace of the task, the log and its verification; tokens minted and revoked;
 * - tasks.files.read: the bytes a container task wrote under /out;
 * - the package as another project gets it: `npm install <repo>/clients/typescript` (its prepare
 *   script builds it), then `import { Airlock } from '@airlock/sdk'` and `npx airlock`;
 * - retries, as the Python SDK does them: a 409 idempotency_request_in_flight is retried with
 *   the same key (one task); a POST without an Idempotency-Key whose answer was lost is NOT
 *   resent (ConnectionError, the server saw it once); a GET whose answer was lost is resent.
 */
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type * as SdkModule from '../../clients/typescript/src/index.ts';
import { DEFAULT_POLICIES_TEXT } from '../../harness/policy/policy-set.ts';
import { permitInvoke } from '../helpers/capabilities.ts';
import { dockerGate } from '../helpers/docker.ts';
import { startFaultProxy, type FaultProxy } from '../helpers/fault-proxy.ts';
import { AGENTS, startStack, type Stack } from '../helpers/stack.ts';
import { startTargetFixture, type TargetFixture } from '../helpers/target-fixture.ts';

type Sdk = typeof SdkModule;
type Airlock = InstanceType<Sdk['Airlock']>;
const SDK_DIR = fileURLToPath(new URL('../../clients/typescript/', import.meta.url));
const ADMIN_KEY = `admin-${randomUUID()}`;
const SECRETS = { tickets: `tk_${randomBytes(12).toString('hex')}`, payments: `pk_${randomBytes(12).toString('hex')}`, basic: 'u:p' };
const skipDocker = await dockerGate();
// Children that call the harness of this process must not block its event loop.
const run = promisify(execFile);

describe('TypeScript SDK: admin, capability, approval and audit routes, retries', () => {
  let stack: Stack;
  let proxy: FaultProxy;
  let target: TargetFixture;
  let sdk: Sdk;
  let buildDir: string;
  let admin: Airlock;
  let agent: Airlock;
  before(async () => {
    buildDir = await mkdtemp(path.join(tmpdir(), 'airlock-sdk-'));
    execFileSync(process.execPath, [
      path.join(SDK_DIR, '../../node_modules/typescript/bin/tsc'), '-p', path.join(SDK_DIR, 'tsconfig.json'), '--outDir', buildDir,
    ], { stdio: 'inherit' });
    sdk = (await import(path.join(buildDir, 'index.js'))) as Sdk;
    target = await startTargetFixture(SECRETS);
    stack = await startStack({
      broker: true,
      harnessEnv: {
        AIRLOCK_ADMIN_API_KEY: ADMIN_KEY,
        AIRLOCK_ADMIN_TENANT: 'acme',
        AIRLOCK_VAULT_KEY: randomBytes(32).toString('base64'),
        CAPABILITY_PRIVATE_TARGETS: `127.0.0.1:${target.port}`,
        APPROVAL_POLL_MS: '1000',
      },
      runnerEnv: skipDocker ? {} : { RUNNER_BACKENDS: 'isolate,docker', WARM_POOL_SIZE: '0' },
    });
    await stack.app.listen({ port: 0, host: '127.0.0.1' });
    proxy = await startFaultProxy(`http://127.0.0.1:${(stack.app.server.address() as AddressInfo).port}`);
    admin = new sdk.Airlock({ apiKey: ADMIN_KEY, baseUrl: proxy.url });
    agent = new sdk.Airlock({ apiKey: AGENTS.alice.key, baseUrl: proxy.url });
  });
  after(async () => {
    await admin?.admin.policies.deactivate().catch(() => {});
    await proxy?.close();
    await stack?.close();
    await target?.close();
    if (buildDir) await rm(buildDir, { recursive: true, force: true });
  });

  /** Whether some page of a list holds `id` (the shared Redis may hold many principals of acme). */
  async function listed(
    list: (q: { limit: number; cursor?: string }) => Promise<{ items: { id: string }[]; nextCursor?: string | null }>,
    id: string,
  ): Promise<boolean> {
    let cursor: string | undefined;
    for (let page = 0; page < 1000; page++) {
      const res = await list({ limit: 100, ...(cursor ? { cursor } : {}) });
      if (res.items.some((x) => x.id === id)) return true;
      if (!res.nextCursor) return false;
      cursor = res.nextCursor;
    }
    return false;
  }

  test('admin: agents, users and their keys; a disabled agent and a revoked key are refused', async () => {
    const made = await admin.admin.agents.create({ name: `sdk agent ${randomUUID().slice(0, 8)}` });
    assert.ok(made.id);
    assert.equal((await admin.admin.agents.get(made.id)).id, made.id);
    assert.ok(await listed((q) => admin.admin.agents.list(q), made.id), 'the new agent is listed');
    const key = await admin.admin.agents.keys.create(made.id, {});
    assert.ok(key.secret);
    assert.ok((await admin.admin.agents.keys.list(made.id)).items.some((k) => k.id === key.key.id));
    const theirs = new sdk.Airlock({ apiKey: key.secret!, baseUrl: proxy.url });
    assert.ok(Array.isArray((await theirs.tasks.list()).items));
    await admin.admin.keys.revoke(key.key.id);
    await assert.rejects(theirs.tasks.list(), sdk.UnauthorizedError);
    const second = await admin.admin.agents.keys.create(made.id, {});
    await admin.admin.agents.disable(made.id);
    await assert.rejects(new sdk.Airlock({ apiKey: second.secret!, baseUrl: proxy.url }).tasks.list(), sdk.UnauthorizedError);

    const user = await admin.admin.users.create({ name: `sdk user ${randomUUID().slice(0, 8)}`, roles: ['member'] });
    assert.equal((await admin.admin.users.get(user.id)).id, user.id);
    assert.ok(await listed((q) => admin.admin.users.list(q), user.id), 'the new user is listed');
    await admin.admin.users.keys.create(user.id, {});
    assert.equal((await admin.admin.users.keys.list(user.id)).items.length, 1);
    await admin.admin.users.disable(user.id);
    await assert.rejects(agent.admin.agents.list(), (err: unknown) => err instanceof sdk.ForbiddenError && err.code === 'forbidden');
  });

  test('admin: limits, storage, grants, webhook secret, tenants, policies', async () => {
    assert.ok(await admin.admin.limits.get());
    assert.ok(await admin.admin.storage.get());
    assert.ok(await admin.admin.storage.tenant('acme'));
    assert.ok(Array.isArray((await admin.admin.grants.list()).items));
    const secret = await admin.admin.webhooks.rotateSecret();
    assert.match(String(secret.secret), /^whsec_/);
    assert.equal((await admin.admin.webhooks.get()).configured, true);
    const id = `t-${randomUUID().slice(0, 8)}`;
    const tenant = await admin.admin.tenants.create({ id, name: 'SDK tenant', admin: { name: 'their admin' } });
    assert.ok(JSON.stringify(tenant).includes(id));
    assert.ok(await admin.admin.policies.get());
    const valid = await admin.admin.policies.validate({ text: DEFAULT_POLICIES_TEXT });
    assert.ok(valid.policyIds.length > 0);
    await assert.rejects(admin.admin.policies.validate({ text: 'permit (' }), (err: unknown) => {
      assert.ok(err instanceof sdk.AirlockError);
      assert.equal(err.code, 'invalid_policy');
      return true;
    });
  });

  test('capabilities and approvals: the call waits; an approver approves through the SDK; the task ends', { timeout: 90_000 }, async () => {
    await admin.admin.credentials.put('payments', { type: 'header', header: 'X-Api-Key', value: SECRETS.payments });
    assert.ok((await admin.admin.credentials.list()).items.some((c) => c.name === 'payments'));
    assert.equal((await admin.admin.credentials.get('payments')).name, 'payments');
    await admin.admin.capabilities.put('payments.refund', {
      description: 'Refunds an order (cannot be undone)',
      input: { type: 'object', properties: { order: { type: 'string' }, amount: { type: 'integer' } }, required: ['order', 'amount'], additionalProperties: false },
      risk: 'irreversible',
      implementation: { type: 'http', method: 'POST', url: `${target.base}/refunds/{input.order}`, body: { amount: '{input.amount}' }, credential: 'payments' },
    });
    assert.equal((await admin.admin.capabilities.get('payments.refund')).name, 'payments.refund');
    assert.ok((await admin.admin.capabilities.list()).items.some((c) => c.name === 'payments.refund'));
    await admin.admin.policies.activate({ text: `${DEFAULT_POLICIES_TEXT}\n${permitInvoke('sdk-caps', ['payments.refund'])}` });
    await new Promise((r) => setTimeout(r, 1100)); // the broker's policy cache

    assert.ok((await agent.capabilities.list()).items.some((c) => c.name === 'payments.refund'));
    assert.match(await agent.capabilities.declarations(), /refund/);

    const approverUser = await admin.admin.users.create({ name: `approver ${randomUUID().slice(0, 8)}`, roles: ['approver'] });
    const approver = new sdk.Airlock({ apiKey: (await admin.admin.users.keys.create(approverUser.id, {})).secret!, baseUrl: proxy.url });

    const order = `o-${randomUUID()}`;
    const waiting = await agent.tasks.create({
      runtime: 'javascript', code: `const r = await caps.payments.refund({ order: '${order}', amount: 5 }); r`,
      capabilities: ['payments.refund'], timeoutMs: 60_000, wait: 30,
    });
    assert.equal(waiting.status, 'waiting_approval', 'a wait ends when the task starts waiting for a human');
    await assert.rejects(agent.approvals.list(), sdk.ForbiddenError);
    const pending = (await approver.approvals.list({ status: 'pending', limit: 100 })).items.find((a) => a.taskId === waiting.id);
    assert.ok(pending, 'the approver sees the request');
    assert.equal(pending.capability, 'payments.refund');
    assert.deepEqual(waiting.pendingApprovals, [{ id: pending.id, capability: 'payments.refund', deadline: pending.deadline }], 'the agent learns what it waits for');
    assert.deepEqual((await agent.tasks.get(waiting.id)).pendingApprovals?.map((a) => a.id), [pending.id]);
    assert.match(String((await approver.approvals.get(pending.id)).code), /caps\.payments\.refund/);
    const approved = await approver.approvals.approve(pending.id, { reason: 'fine' });
    assert.equal(approved.status, 'approved');
    await assert.rejects(approver.approvals.deny(pending.id), (err: unknown) => {
      assert.ok(err instanceof sdk.ConflictError);
      assert.equal(err.code, 'approval_not_pending');
      return true;
    });
    // The events end with the task's terminal status.
    for await (const event of agent.tasks.events(waiting.id)) void event;
    const final = await agent.tasks.get(waiting.id);
    assert.equal(final.status, 'succeeded', JSON.stringify(final));
    assert.equal(target.refunds.filter((r) => r.order === order).length, 1);

    const trace = await agent.tasks.trace(waiting.id);
    assert.equal('taskId' in trace ? trace.taskId : undefined, waiting.id);
    await admin.admin.capabilities.delete('payments.refund');
    await assert.rejects(admin.admin.capabilities.get('payments.refund'), sdk.NotFoundError);
    await admin.admin.credentials.delete('payments');
  });

  test('audit: the log and its verification (admin); an agent is refused', async () => {
    const page = await admin.audit.list({ limit: 5 });
    assert.ok(Array.isArray(page.items));
    const verified = await admin.audit.verify();
    assert.equal(typeof verified.ok, 'boolean');
    await assert.rejects(agent.audit.verify(), sdk.ForbiddenError);
  });

  test('tokens: minted from a key, then revoked', async () => {
    const token = await agent.tokens.create({});
    assert.ok(token.token);
    const withToken = new sdk.Airlock({ apiKey: token.token, baseUrl: proxy.url });
    assert.ok(Array.isArray((await withToken.tasks.list()).items));
    const jti = JSON.parse(Buffer.from(token.token.split('.')[1]!, 'base64url').toString()).jti as string;
    await agent.tokens.revoke(jti);
    await assert.rejects(withToken.tasks.list(), sdk.UnauthorizedError);
  });

  test('tasks.files.read: the bytes a container task wrote under /out', { skip: skipDocker, timeout: 120_000 }, async () => {
    const task = await agent.run('open("/out/report.txt", "w").write("made by python")', { runtime: 'python' });
    assert.equal(task.status, 'succeeded', JSON.stringify(task));
    const bytes = await agent.tasks.files.read(task.id, 'report.txt');
    assert.equal(Buffer.from(bytes).toString(), 'made by python');
    await assert.rejects(agent.tasks.files.read(task.id, 'nope.txt'), sdk.NotFoundError);
  });

  test('another project installs the package from its path, imports it and runs its bin', { timeout: 120_000 }, async () => {
    const project = await mkdtemp(path.join(tmpdir(), 'airlock-sdk-user-'));
    try {
      await writeFile(path.join(project, 'package.json'), JSON.stringify({ name: 'sdk-user', version: '1.0.0', private: true, type: 'module' }));
      execFileSync('npm', ['install', '--offline', '--no-audit', '--no-fund', SDK_DIR], { cwd: project, stdio: 'pipe' });
      await writeFile(path.join(project, 'main.js'), [
        "import { Airlock, NotFoundError } from '@airlock/sdk';",
        'const airlock = new Airlock();',
        "const task = await airlock.run('6 * 7', { runtime: 'javascript' });",
        "const missing = await airlock.tasks.get('00000000-0000-4000-8000-000000000000').catch((e) => e instanceof NotFoundError && e.code);",
        'console.log(JSON.stringify({ status: task.status, value: task.result.value, missing }));',
      ].join('\n'));
      const env = { ...process.env, AIRLOCK_URL: proxy.url, AIRLOCK_API_KEY: AGENTS.alice.key };
      const out = JSON.parse((await run(process.execPath, ['main.js'], { cwd: project, env })).stdout) as Record<string, unknown>;
      assert.deepEqual(out, { status: 'succeeded', value: 42, missing: 'not_found' });
      const listed = (await run('npx', ['--offline', 'airlock', 'tasks', 'ls', '--json', '--limit', '2'], { cwd: project, env })).stdout;
      assert.ok(Array.isArray((JSON.parse(listed) as { items: unknown[] }).items));
    } finally {
      await rm(project, { recursive: true, force: true });
    }
  });

  test('retry: a 409 idempotency_request_in_flight is retried with the same key; one task', async () => {
    proxy.keys.length = 0;
    proxy.faults.push({ match: (r) => r.method === 'POST' && r.url === '/v1/tasks', kind: '409-in-flight' });
    const task = await agent.tasks.create({ runtime: 'javascript', code: '2+2' });
    assert.equal(proxy.faults.length, 0);
    assert.equal(proxy.keys.length, 2);
    assert.equal(proxy.keys[0], proxy.keys[1]);
    assert.ok(task.id);
    proxy.faults.push({ match: (r) => r.method === 'POST' && r.url === '/v1/tasks', kind: '409-in-flight' });
    await assert.rejects(new sdk.Airlock({ apiKey: AGENTS.alice.key, baseUrl: proxy.url, maxRetries: 0 }).tasks.create({ runtime: 'javascript', code: '1' }), (err: unknown) => {
      assert.ok(err instanceof sdk.ConflictError);
      assert.equal(err.code, 'idempotency_request_in_flight');
      return true;
    });
  });

  test('retry: a lost answer to a POST without an Idempotency-Key is not resent; a GET is', async () => {
    const before = proxy.requests.filter((r) => r === 'POST /v1/tokens').length;
    proxy.faults.push({ match: (r) => r.method === 'POST' && r.url === '/v1/tokens', kind: 'drop-after-answer' });
    await assert.rejects(agent.tokens.create({}), sdk.ConnectionError);
    assert.equal(proxy.requests.filter((r) => r === 'POST /v1/tokens').length - before, 1, 'sent once');
    const gets = () => proxy.requests.filter((r) => r === 'GET /v1/runtimes').length;
    const g = gets();
    proxy.faults.push({ match: (r) => r.method === 'GET' && r.url === '/v1/runtimes', kind: 'drop-after-answer' });
    assert.ok((await agent.runtimes()).runtimes.length > 0);
    assert.equal(gets() - g, 2, 'resent once');
  });
});
