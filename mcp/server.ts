import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { registerAirlockTools, type AirlockApi } from './airlock-tools.ts';

/** A new MCP server exposing Airlock's tools over `api`. */
export function createAirlockMcpServer(api: AirlockApi): McpServer {
  const server = new McpServer(
    { name: 'airlock', version: '0.1.0' },
    { instructions: 'Run code in Airlock sandboxes: run_code, then get_task for long tasks.' },
  );
  registerAirlockTools(server, api);
  return server;
}
