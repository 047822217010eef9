/**
 * The `airlock` CLI, BUILT with tsc, run through a real shell (bash) against a real listening
 * harness with a runner and Redis: `run` streams output and exits with the task's code (0
 * succeeded, 1 failed, 124 timed out, 130 cancelled), 2 on usage errors, 3 on a problem;
 * `tasks ls|get|logs -f|cancel`, `run -` from standard input, `--json`, `mcp config [--stdio]`;
 * with a broker and a loopback payments fixture: `run --capability` of a call that needs an
 * approval says on stderr which approval it waits for, an approver's `approvals ls|approve`
 * lets it finish (exit 0), `approvals deny` of a decided one exits 3 with the problem's code;
 * `tasks trace`; the admin's `audit verify`.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { activatePolicies, permitInvoke, putCapability, putCredential, resetPolicies } from '../helpers/capabilities.ts';
import { createPrincipalWithKey } from '../helpers/identity.ts';
import { AGENTS, pollTask, startStack, type Stack } from '../helpers/stack.ts';
import { startTargetFixture, type TargetFixture } from '../helpers/target-fixture.ts';

const SDK_DIR = fileURLToPath(new URL('../../clients/typescript/', import.meta.url));
const ADMIN_KEY = `admin-${randomUUID()}`;
const SECRETS = { tickets: `tk_${randomBytes(12).toString('hex')}`, payments: `pk_${randomBytes(12).toString('hex')}`, basic: 'u:p' };

interface Outcome {
  code: number | null;
  stdout: string;
  stderr: string;
}

describe('airlock CLI through a shell', () => {
  let stack: Stack;
  let dir: string;
  let cli: string;
  let env: NodeJS.ProcessEnv;
  let target: TargetFixture;
  before(async () => {
    target = await startTargetFixture(SECRETS);
    dir = await mkdtemp(path.join(tmpdir(), 'airlock-cli-'));
    execFileSync(process.execPath, [
      path.join(SDK_DIR, '../../node_modules/typescript/bin/tsc'), '-p', path.join(SDK_DIR, 'tsconfig.json'), '--outDir', path.join(dir, 'dist'),
    ], { stdio: 'inherit' });
    cli = path.join(dir, 'dist', 'cli.js');
    stack = await startStack({
      broker: true,
      harnessEnv: {
        AIRLOCK_ADMIN_API_KEY: ADMIN_KEY,
        AIRLOCK_ADMIN_TENANT: 'acme',
        AIRLOCK_VAULT_KEY: randomBytes(32).toString('base64'),
        CAPABILITY_PRIVATE_TARGETS: `127.0.0.1:${target.port}`,
        APPROVAL_POLL_MS: '1000',
      },
    });
    await stack.app.listen({ port: 0, host: '127.0.0.1' });
    env = {
      PATH: process.env['PATH'],
      AIRLOCK_URL: `http://127.0.0.1:${(stack.app.server.address() as AddressInfo).port}`,
      AIRLOCK_API_KEY: AGENTS.alice.key,
    };
  });
  after(async () => {
    if (stack) await resetPolicies(stack, ADMIN_KEY);
    await stack?.close();
    await target?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /** Runs `airlock <args>` in bash, as a user would type it. */
  const sh = (args: string, options: { input?: string; env?: NodeJS.ProcessEnv } = {}): Promise<Outcome> =>
    new Promise((resolve) => {
      const child = spawn('bash', ['-c', `node ${cli} ${args}`], { env: options.env ?? env, cwd: dir });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.stdin.end(options.input ?? '');
      child.on('close', (code) => resolve({ code, stdout, stderr }));
    });

  test('run: output on stdout, exit 0; the runtime from the extension', async () => {
    await writeFile(path.join(dir, 'ok.js'), 'console.log("hello from a file"); 1 + 1');
    const r = await sh('run ok.js');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /hello from a file/);
  });

  test('exit codes follow the task: 1 failed, 124 timed out; 2 usage; 3 refused', async () => {
    await writeFile(path.join(dir, 'fail.js'), 'throw new Error("boom")');
    const failed = await sh('run fail.js');
    assert.equal(failed.code, 1);
    assert.match(failed.stderr, /failed/);
    await writeFile(path.join(dir, 'loop.js'), 'for (;;) {}');
    const timedOut = await sh('run loop.js --timeout-ms 300');
    assert.equal(timedOut.code, 124, timedOut.stderr);
    assert.equal((await sh('run')).code, 2);
    assert.equal((await sh('run x.unknown')).code, 2);
    assert.equal((await sh('frobnicate')).code, 2);
    assert.equal((await sh('tasks ls', { env: { ...env, AIRLOCK_API_KEY: '' } })).code, 2, 'no key is a usage error');
    const refused = await sh('tasks get 00000000-0000-4000-8000-000000000000');
    assert.equal(refused.code, 3);
    assert.match(refused.stderr, /not_found/);
  });

  test('run - reads standard input; --json prints the finished task', async () => {
    const r = await sh('run - --runtime javascript --json', { input: '6 * 7' });
    assert.equal(r.code, 0, r.stderr);
    const task = JSON.parse(r.stdout) as { status: string; result: { value: unknown } };
    assert.equal(task.status, 'succeeded');
    assert.equal(task.result.value, 42);
  });

  test('a task cancelled while `run` follows it: exit 130', async () => {
    await writeFile(path.join(dir, 'slow.js'), 'console.log("started"); const t = Date.now(); while (Date.now() - t < 20000) {}');
    const begun = new Date().toISOString();
    const running = sh('run slow.js --timeout-ms 30000');
    // Find it and cancel it through the CLI, as a second terminal would. (Ours: created since
    // `run` began; the shared Redis may hold older running tasks of this agent.)
    let id = '';
    for (let i = 0; i < 100 && !id; i++) {
      const ls = await sh('tasks ls --status running --json');
      id = (JSON.parse(ls.stdout) as { items: { id: string; createdAt: string }[] }).items.find((t) => t.createdAt >= begun)?.id ?? '';
      if (!id) await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(id, 'the task is running');
    assert.equal((await sh(`tasks cancel ${id}`)).code, 0);
    const r = await running;
    assert.equal(r.code, 130, r.stderr);
  });

  test('tasks get, logs and logs -f', async () => {
    const created = await stack.app.inject({
      method: 'POST', url: '/v1/tasks', headers: stack.headers(),
      payload: { runtime: 'javascript', code: 'for (let i = 0; i < 3; i++) console.log("line " + i)' },
    });
    const id = (created.json() as { id: string }).id;
    const follow = await sh(`tasks logs ${id} -f`);
    assert.equal(follow.code, 0, follow.stderr);
    assert.match(follow.stdout, /line 0\nline 1\nline 2/);
    await pollTask(stack, id, (t) => t.status === 'succeeded');
    const logs = await sh(`tasks logs ${id}`);
    assert.match(logs.stdout, /line 2/);
    const get = await sh(`tasks get ${id}`);
    assert.equal((JSON.parse(get.stdout) as { id: string }).id, id);
  });

  test('mcp config prints JSON an MCP client takes', async () => {
    const r = await sh('mcp config');
    assert.equal(r.code, 0);
    const config = JSON.parse(r.stdout) as { mcpServers: { airlock: { url: string; headers: Record<string, string> } } };
    assert.equal(config.mcpServers.airlock.url, `${env['AIRLOCK_URL']}/mcp`);
    assert.ok(!r.stdout.includes(AGENTS.alice.key), 'the key is not printed');
    const stdio = await sh('mcp config --stdio');
    assert.equal(stdio.code, 0);
    const server = (JSON.parse(stdio.stdout) as { mcpServers: { airlock: { command: string; args: string[]; env: Record<string, string> } } }).mcpServers.airlock;
    assert.deepEqual([server.command, ...server.args], ['npx', 'airlock-mcp']);
    assert.equal(server.env['AIRLOCK_URL'], env['AIRLOCK_URL']);
    assert.ok(!stdio.stdout.includes(AGENTS.alice.key), 'the key is not printed');
  });

  test('approvals: run says what it waits for; an approver lists and approves; run ends 0; trace; audit verify', { timeout: 90_000 }, async () => {
    await putCredential(stack, ADMIN_KEY, 'payments', { type: 'header', header: 'X-Api-Key', value: SECRETS.payments });
    await putCapability(stack, ADMIN_KEY, 'payments.refund', {
      description: 'Refunds an order (cannot be undone)',
      input: { type: 'object', properties: { order: { type: 'string' }, amount: { type: 'integer' } }, required: ['order', 'amount'], additionalProperties: false },
      risk: 'irreversible',
      implementation: { type: 'http', method: 'POST', url: `${target.base}/refunds/{input.order}`, body: { amount: '{input.amount}' }, credential: 'payments' },
    });
    await activatePolicies(stack, ADMIN_KEY, permitInvoke('cli-caps', ['payments.refund']));
    await new Promise((r) => setTimeout(r, 1100)); // the broker's policy cache
    const approver = await createPrincipalWithKey(stack, ADMIN_KEY, 'user', { roles: ['approver'] });
    const asApprover = { ...env, AIRLOCK_API_KEY: approver.key };
    const order = `o-${randomUUID()}`;
    await writeFile(path.join(dir, 'pay.js'), `const r = await caps.payments.refund({ order: '${order}', amount: 2 }); console.log('refunded ' + r.refunded);`);

    let stderr = '';
    const running = new Promise<Outcome>((resolve) => {
      const child = spawn('bash', ['-c', `node ${cli} run pay.js --capability payments.refund --timeout-ms 60000`], { env, cwd: dir });
      let stdout = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.stdin.end();
      child.on('close', (code) => resolve({ code, stdout, stderr }));
    });
    for (let i = 0; i < 600 && !/waiting for approval/.test(stderr); i++) await new Promise((r) => setTimeout(r, 50));
    const said = /waiting for approval (\S+) of payments\.refund/.exec(stderr);
    assert.ok(said, `run says which approval it waits for: ${stderr}`);
    const approvalId = said[1]!;
    assert.match(stderr, new RegExp(`airlock approvals approve ${approvalId}`));

    const ls = await sh('approvals ls', { env: asApprover });
    assert.equal(ls.code, 0, ls.stderr);
    const listed = (JSON.parse(ls.stdout) as { items: { id: string; taskId: string }[] }).items.find((a) => a.id === approvalId);
    assert.ok(listed, 'the approver sees the request');
    const agentLs = await sh('approvals ls');
    assert.equal(agentLs.code, 3, 'an agent may not list approvals');
    assert.match(agentLs.stderr, /forbidden/);
    const approved = await sh(`approvals approve ${approvalId} --reason "looks right"`, { env: asApprover });
    assert.equal(approved.code, 0, approved.stderr);
    assert.equal((JSON.parse(approved.stdout) as { status: string }).status, 'approved');

    const done = await running;
    assert.equal(done.code, 0, done.stderr);
    assert.match(done.stdout, /refunded 2/);
    assert.equal(target.refunds.filter((r) => r.order === order).length, 1);
    const again = await sh(`approvals deny ${approvalId}`, { env: asApprover });
    assert.equal(again.code, 3);
    assert.match(again.stderr, /approval_not_pending/);

    const taskId = listed.taskId;
    const trace = await sh(`tasks trace ${taskId}`);
    assert.equal(trace.code, 0, trace.stderr);
    assert.equal((JSON.parse(trace.stdout) as { taskId: string }).taskId, taskId);
    const verify = await sh('audit verify', { env: { ...env, AIRLOCK_API_KEY: ADMIN_KEY } });
    assert.equal(verify.code, 0, verify.stderr);
    assert.equal((JSON.parse(verify.stdout) as { ok: boolean }).ok, true);
  });
});
