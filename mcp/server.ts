import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { registerAirlockTools, type AirlockApi } from './airlock-tools.ts';
import { AirlockTaskStore } from './task-store.ts';

/** A new MCP server exposing Airlock's tools over `api`, with MCP tasks backed by Airlock's tasks. */
export function createAirlockMcpServer(api: AirlockApi): McpServer {
  const server = new McpServer(
    { name: 'airlock', version: '0.1.0' },
    {
      instructions: 'Run code in Airlock sandboxes: run_code, then get_task for long tasks.',
      capabilities: { tasks: { list: {}, cancel: {}, requests: { tools: { call: {} } } } },
      taskStore: new AirlockTaskStore(api),
    },
  );
  registerAirlockTools(server, api);
  return server;
}
