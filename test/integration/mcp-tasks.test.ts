/**
 * MCP tasks and approvals, driven by the OFFICIAL MCP client (@modelcontextprotocol/sdk) over
 * both transports against a real listening harness, broker, runner, Redis and a real loopback
 * payments fixture whose refund capability is irreversible (so every call needs a human):
 * - stdio: the `airlock-mcp` bin as a user gets it — `npm install <repo>/mcp` into a fresh
 *   project, then `npx airlock-mcp` there (nothing but MCP on stdout, or the client fails);
 * - streamable HTTP: POST /mcp on the harness.
 * A task-augmented run_code answers a task at once; while the call waits for an approver the
 * MCP task is `input_required` with a message saying so; an approver approves through the REST
 * API and `tasks/result` delivers the finished task. A plain run_code of such code answers
 * promptly with the task waiting and how to get it approved. tasks/get, tasks/list and
 * tasks/cancel are the caller's Airlock tasks (another tenant's task is unknown).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult, Task } from '@modelcontextprotocol/sdk/types.js';
import type { Approval } from '../../protocol/approval.ts';
import { activatePolicies, permitInvoke, putCapability, putCredential, resetPolicies } from '../helpers/capabilities.ts';
import { bearer, createPrincipalWithKey, createTenant } from '../helpers/identity.ts';
import { AGENTS, pollTask, startStack, TERMINAL, type Stack } from '../helpers/stack.ts';
import { startTargetFixture, type TargetFixture } from '../helpers/target-fixture.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const ADMIN_KEY = `admin-${randomUUID()}`;
const SECRETS = { tickets: `tk_${randomBytes(12).toString('hex')}`, payments: `pk_${randomBytes(12).toString('hex')}`, basic: 'u:p' };

describe('MCP tasks: a call waiting for approval is input_required', () => {
  let stack: Stack;
  let target: TargetFixture;
  let url: string;
  let approverKey: string;
  let foreignAdminKey: string;
  let project: string;

  before(async () => {
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
    });
    await stack.app.listen({ port: 0, host: '127.0.0.1' });
    url = `http://127.0.0.1:${(stack.app.server.address() as AddressInfo).port}`;
    await putCredential(stack, ADMIN_KEY, 'payments', { type: 'header', header: 'X-Api-Key', value: SECRETS.payments });
    await putCapability(stack, ADMIN_KEY, 'payments.refund', {
      description: 'Refunds an order (cannot be undone)',
      input: { type: 'object', properties: { order: { type: 'string' }, amount: { type: 'integer' } }, required: ['order', 'amount'], additionalProperties: false },
      risk: 'irreversible',
      implementation: { type: 'http', method: 'POST', url: `${target.base}/refunds/{input.order}`, body: { amount: '{input.amount}' }, credential: 'payments' },
    });
    await activatePolicies(stack, ADMIN_KEY, permitInvoke('mcp-tasks-caps', ['payments.refund']));
    await new Promise((r) => setTimeout(r, 1100)); // the broker's policy cache
    approverKey = (await createPrincipalWithKey(stack, ADMIN_KEY, 'user', { roles: ['approver'] })).key;
    foreignAdminKey = (await createTenant(stack, ADMIN_KEY)).adminKey;
    // The stdio server as a user installs it: a fresh project, `npm install <repo>/mcp`.
    project = await mkdtemp(path.join(tmpdir(), 'airlock-mcp-user-'));
    await writeFile(path.join(project, 'package.json'), JSON.stringify({ name: 'mcp-user', version: '1.0.0', private: true }));
    execFileSync('npm', ['install', '--offline', '--no-audit', '--no-fund', path.join(ROOT, 'mcp')], { cwd: project, stdio: 'pipe' });
  });
  after(async () => {
    if (stack) await resetPolicies(stack, ADMIN_KEY);
    await stack?.close();
    await target?.close();
    if (project) await rm(project, { recursive: true, force: true });
  });

  const refundCode = (order: string) => `const r = await caps.payments.refund({ order: '${order}', amount: 7 }); r`;
  const runArgs = (order: string) => ({ runtime: 'javascript', code: refundCode(order), capabilities: ['payments.refund'], timeoutMs: 60_000 });

  async function pendingApproval(taskId: string): Promise<Approval> {
    for (let i = 0; i < 200; i++) {
      const res = await stack.app.inject({ method: 'GET', url: '/v1/approvals?status=pending&limit=100', headers: bearer(approverKey) });
      assert.equal(res.statusCode, 200, res.body);
      const found = (res.json().items as Approval[]).find((a) => a.taskId === taskId);
      if (found) return found;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`no pending approval for task ${taskId}`);
  }

  const transports = {
    stdio: () =>
      new StdioClientTransport({
        command: 'npx',
        args: ['--offline', 'airlock-mcp'],
        cwd: project,
        env: { PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? project, AIRLOCK_URL: url, AIRLOCK_API_KEY: AGENTS.alice.key },
        stderr: 'pipe',
      }),
    http: () =>
      new StreamableHTTPClientTransport(new URL(`${url}/mcp`), {
        requestInit: { headers: { authorization: `Bearer ${AGENTS.alice.key}` } },
      }),
  };

  for (const [name, make] of Object.entries(transports)) {
    describe(`over ${name}`, () => {
      let client: Client;
      before(async () => {
        client = new Client({ name: 'airlock-test', version: '1.0.0' });
        await client.connect(make());
      });
      after(async () => {
        await client?.close();
      });

      test('the server declares tasks; run_code supports them (optional)', async () => {
        const caps = client.getServerCapabilities();
        assert.ok(caps?.tasks?.requests?.tools?.call, JSON.stringify(caps));
        assert.ok(caps?.tasks?.cancel && caps?.tasks?.list);
        const { tools } = await client.listTools();
        assert.equal(tools.find((t) => t.name === 'run_code')?.execution?.taskSupport, 'optional');
        assert.equal(tools.find((t) => t.name === 'get_task')?.execution?.taskSupport ?? 'forbidden', 'forbidden');
      });

      test('a task-augmented run_code: working, input_required while it waits for an approver, then the result', { timeout: 90_000 }, async () => {
        const order = `o-${randomUUID()}`;
        const seen: Task['status'][] = [];
        let taskId: string | undefined;
        let result: CallToolResult | undefined;
        for await (const message of client.experimental.tasks.callToolStream({ name: 'run_code', arguments: runArgs(order) })) {
          if (message.type === 'taskCreated') taskId = message.task.taskId;
          else if (message.type === 'taskStatus') {
            seen.push(message.task.status);
            if (message.task.status === 'input_required') {
              assert.equal(target.refunds.filter((r) => r.order === order).length, 0, 'nothing ran before the decision');
              const approval = await pendingApproval(message.task.taskId);
              assert.match(message.task.statusMessage ?? '', new RegExp(`approve.*${approval.id}.*payments\\.refund`, 'i'), 'names the approval');
              const decided = await stack.app.inject({ method: 'POST', url: `/v1/approvals/${approval.id}/approve`, headers: bearer(approverKey), payload: {} });
              assert.equal(decided.statusCode, 200, decided.body);
            }
          } else if (message.type === 'result') result = message.result as CallToolResult;
          else if (message.type === 'error') assert.fail(String(message.error));
        }
        assert.ok(taskId);
        assert.ok(seen.includes('input_required'), `statuses seen: ${seen.join(', ')}`);
        const view = result?.structuredContent as { id: string; status: string; result: { value: { refunded: number; order: string } } };
        assert.equal(view.id, taskId, 'the MCP task id is the Airlock task id');
        assert.equal(view.status, 'succeeded', JSON.stringify(result));
        assert.equal(view.result.value.refunded, 7);
        assert.equal(target.refunds.filter((r) => r.order === order).length, 1, 'the refund ran once');
        assert.equal((await client.experimental.tasks.getTask(taskId)).status, 'completed');
      });

      test('a plain run_code of such code answers promptly: waiting, with what to do; tasks/get, list, cancel', { timeout: 90_000 }, async () => {
        const order = `o-${randomUUID()}`;
        const r = (await client.callTool({ name: 'run_code', arguments: runArgs(order) })) as CallToolResult;
        assert.ok(!r.isError, JSON.stringify(r));
        const view = r.structuredContent as { id: string; status: string; note: string; pendingApprovals: { id: string }[] };
        assert.equal(view.status, 'waiting_approval', JSON.stringify(view));
        const approval = await pendingApproval(view.id);
        assert.deepEqual(view.pendingApprovals.map((a) => a.id), [approval.id]);
        assert.match(view.note, new RegExp(`approvals approve ${approval.id}`), 'says which approval, and how to decide it');
        const got = (await client.callTool({ name: 'get_task', arguments: { id: view.id } })) as CallToolResult;
        assert.equal((got.structuredContent as { status: string }).status, 'waiting_approval');
        const task = await client.experimental.tasks.getTask(view.id);
        assert.equal(task.status, 'input_required');
        assert.match(task.statusMessage ?? '', new RegExp(approval.id));
        const listed = await client.experimental.tasks.listTasks();
        assert.ok(listed.tasks.some((t) => t.taskId === view.id && t.status === 'input_required'));
        const cancelled = await client.experimental.tasks.cancelTask(view.id);
        assert.equal(cancelled.status, 'cancelled');
        const after = await pollTask(stack, view.id, (t) => TERMINAL.has(t.status));
        assert.equal(after.status, 'cancelled');
        assert.equal(target.refunds.filter((x) => x.order === order).length, 0, 'a cancelled call never ran');
        await assert.rejects(client.experimental.tasks.getTask(randomUUID()), /not found/i);
      });
    });
  }

  test("another tenant's MCP client cannot see or cancel the task", async () => {
    const created = await stack.app.inject({
      method: 'POST', url: '/v1/tasks', headers: stack.headers(), payload: { runtime: 'javascript', code: 'const t = Date.now(); while (Date.now() - t < 20000) {}', timeoutMs: 30000 },
    });
    const id = (created.json() as { id: string }).id;
    const other = await createPrincipalWithKey(stack, foreignAdminKey, 'agent', {});
    const client = new Client({ name: 'other', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(`${url}/mcp`), { requestInit: { headers: bearer(other.key) } }));
    try {
      await assert.rejects(client.experimental.tasks.getTask(id), /not found/i);
      await assert.rejects(client.experimental.tasks.cancelTask(id), /not found/i);
      assert.ok(!(await client.experimental.tasks.listTasks()).tasks.some((t) => t.taskId === id));
    } finally {
      await client.close();
    }
    const still = await stack.app.inject({ method: 'GET', url: `/v1/tasks/${id}`, headers: stack.headers() });
    assert.notEqual(still.json().status, 'cancelled');
    await stack.app.inject({ method: 'DELETE', url: `/v1/tasks/${id}`, headers: stack.headers() });
  });
});
