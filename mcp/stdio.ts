/**
 * `npm run mcp` / `npx airlock-mcp`: Airlock's MCP server over stdio for a local MCP client.
 * Talks to a running Airlock at AIRLOCK_URL (default http://127.0.0.1:8080) with
 * AIRLOCK_API_KEY. Nothing but MCP messages goes to stdout; diagnostics go to stderr.
 */
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import type { AirlockApi } from './airlock-tools.ts';
import { createAirlockMcpServer } from './server.ts';

const key = process.env['AIRLOCK_API_KEY'];
if (!key) {
  process.stderr.write('airlock-mcp: set AIRLOCK_API_KEY (an agent API key of your Airlock)\n');
  process.exit(2);
}
const base = (process.env['AIRLOCK_URL'] ?? 'http://127.0.0.1:8080').replace(/\/+$/, '');

const api: AirlockApi = {
  async call(method, path, body, idempotencyKey) {
    const headers: Record<string, string> = { authorization: `Bearer ${key}` };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (idempotencyKey) headers['idempotency-key'] = `"${idempotencyKey}"`;
    const res = await fetch(base + path, { method, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // not JSON: keep the text
    }
    return { status: res.status, body: parsed };
  },
};

await createAirlockMcpServer(api).connect(new StdioServerTransport());
process.stderr.write(`airlock-mcp: serving MCP on stdio for ${base}\n`);
