/**
 * Airlock's MCP server driven by the OFFICIAL MCP client (@modelcontextprotocol/sdk) over both
 * transports, against a real listening harness with a runner and Redis:
 * - stdio: `npm run mcp`'s entry (mcp/stdio.ts) as a child process, key from the environment;
 * - streamable HTTP: POST /mcp on the harness, Bearer auth with the same API keys.
 * Lists the tools (with their annotations), runs code, reads and cancels a task, lists
 * capabilities and reads a trace; problems come back as tool errors; no credential → 401;
 * a foreign Origin → 403; another tenant's task is as unknown through MCP as through REST.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { AGENTS, startStack, type Stack } from '../helpers/stack.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

const textOf = (r: CallToolResult) => r.content.map((c) => (c.type === 'text' ? c.text : '')).join('');

describe('MCP server with the official MCP client', () => {
  let stack: Stack;
  let url: string;
  before(async () => {
    stack = await startStack();
    await stack.app.listen({ port: 0, host: '127.0.0.1' });
    url = `http://127.0.0.1:${(stack.app.server.address() as AddressInfo).port}`;
  });
  after(async () => {
    await stack?.close();
  });

  const transports = {
    stdio: () =>
      new StdioClientTransport({
        command: process.execPath,
        args: ['--import', 'tsx', 'mcp/stdio.ts'],
        cwd: ROOT,
        env: { PATH: process.env['PATH'] ?? '', AIRLOCK_URL: url, AIRLOCK_API_KEY: AGENTS.alice.key },
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

      test('lists the tools with schemas and annotations', async () => {
        const { tools } = await client.listTools();
        assert.deepEqual(tools.map((t) => t.name).sort(), ['cancel_task', 'get_task', 'get_trace', 'list_capabilities', 'run_code']);
        const run = tools.find((t) => t.name === 'run_code')!;
        assert.equal(run.annotations?.readOnlyHint, false);
        assert.equal(run.annotations?.openWorldHint, false);
        assert.deepEqual(run.inputSchema.required?.sort(), ['code', 'runtime']);
      });

      test('run_code runs the code and answers its result; get_task reads it', async () => {
        const marker = randomUUID();
        const r = (await client.callTool({ name: 'run_code', arguments: { runtime: 'javascript', code: `console.log("${marker}"); 6 * 7` } })) as CallToolResult;
        assert.ok(!r.isError, textOf(r));
        const task = r.structuredContent as { id: string; status: string; result: { stdout: string; value: unknown } };
        assert.equal(task.status, 'succeeded');
        assert.equal(task.result.value, 42);
        assert.match(task.result.stdout, new RegExp(marker));
        const got = (await client.callTool({ name: 'get_task', arguments: { id: task.id } })) as CallToolResult;
        assert.equal((got.structuredContent as { status: string }).status, 'succeeded');
        const trace = (await client.callTool({ name: 'get_trace', arguments: { id: task.id } })) as CallToolResult;
        assert.ok(!trace.isError, textOf(trace));
        const caps = (await client.callTool({ name: 'list_capabilities', arguments: {} })) as CallToolResult;
        assert.ok(!caps.isError, textOf(caps));
      });

      test('a long task comes back running; cancel_task stops it', async () => {
        const created = await stack.app.inject({
          method: 'POST', url: '/v1/tasks', headers: stack.headers(),
          payload: { runtime: 'javascript', code: 'const t = Date.now(); while (Date.now() - t < 20000) {}', timeoutMs: 30000 },
        });
        const id = (created.json() as { id: string }).id;
        const running = (await client.callTool({ name: 'get_task', arguments: { id } })) as CallToolResult;
        assert.match(textOf(running), /get_task|running|queued/);
        const cancelled = (await client.callTool({ name: 'cancel_task', arguments: { id } })) as CallToolResult;
        assert.equal((cancelled.structuredContent as { status: string }).status, 'cancelled');
      });

      test('problems are tool errors the model can read; bad arguments are refused', async () => {
        const missing = (await client.callTool({ name: 'get_task', arguments: { id: randomUUID() } })) as CallToolResult;
        assert.equal(missing.isError, true);
        assert.match(textOf(missing), /404 not_found/);
        const bad = (await client.callTool({ name: 'run_code', arguments: { runtime: 'cobol', code: 'x' } })) as CallToolResult;
        assert.equal(bad.isError, true);
      });
    });
  }

  test("another tenant's agent sees the task through MCP exactly as through REST: not found", async () => {
    const created = await stack.app.inject({
      method: 'POST', url: '/v1/tasks', headers: stack.headers(), payload: { runtime: 'javascript', code: '1' },
    });
    const id = (created.json() as { id: string }).id;
    const other = Object.entries(AGENTS).find(([, a]) => a.tenantId !== AGENTS.alice.tenantId);
    assert.ok(other, 'the test agents span two tenants');
    const client = new Client({ name: 'other', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(`${url}/mcp`), {
      requestInit: { headers: { authorization: `Bearer ${other[1].key}` } },
    }));
    try {
      const r = (await client.callTool({ name: 'get_task', arguments: { id } })) as CallToolResult;
      assert.equal(r.isError, true);
      assert.match(textOf(r), /404 not_found/);
    } finally {
      await client.close();
    }
  });

  test('POST /mcp without a credential is 401; with a foreign Origin 403', async () => {
    const body = { jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} };
    const headers = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
    const none = await fetch(`${url}/mcp`, { method: 'POST', headers, body: JSON.stringify(body) });
    assert.equal(none.status, 401);
    const foreign = await fetch(`${url}/mcp`, {
      method: 'POST',
      headers: { ...headers, authorization: `Bearer ${AGENTS.alice.key}`, origin: 'https://evil.example' },
      body: JSON.stringify(body),
    });
    assert.equal(foreign.status, 403);
  });
});
