/**
 * `POST /mcp`: Airlock's MCP server over streamable HTTP (stateless: a server and transport per
 * request, JSON answers, no session), for MCP clients that reach the harness over the network.
 * Registered among the /v1 routes, so the caller authenticates with the same API keys and
 * tokens and is rate-limited like any request; each tool then calls the REST API in-process
 * (`inject`) with the caller's own Authorization header, so tools get the same policies, rate
 * limits and audit entries as the REST routes — nothing is decided twice or differently here.
 * A browser page must not drive it: a request with an `Origin` not in MCP_ALLOWED_ORIGINS is
 * refused (403), as the MCP transport spec requires against DNS rebinding.
 */
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { JSONRPCMessageSchema, SUPPORTED_PROTOCOL_VERSIONS } from '@modelcontextprotocol/sdk/types.js';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { AirlockApi } from '../../mcp/airlock-tools.ts';
import { createAirlockMcpServer } from '../../mcp/server.ts';
import { ForbiddenError, InvalidRequestError } from '../problems.ts';

export interface McpRouteOptions {
  /** The root app: tools call its /v1 routes through inject. */
  root: FastifyInstance;
  allowedOrigins: readonly string[];
}

export async function mcpRoutes(app: FastifyInstance, options: McpRouteOptions): Promise<void> {
  app.post('/mcp', async (request, reply) => {
    const origin = request.headers.origin;
    if (origin !== undefined && !options.allowedOrigins.includes(origin)) {
      throw new ForbiddenError(`Origin ${origin.slice(0, 200)} may not use the MCP endpoint (MCP_ALLOWED_ORIGINS)`);
    }
    checkTransport(request);
    const authorization = request.headers.authorization ?? '';
    const api: AirlockApi = {
      async call(method, path, body, idempotencyKey) {
        const res = await options.root.inject({
          method,
          url: path,
          headers: {
            authorization,
            ...(idempotencyKey ? { 'idempotency-key': `"${idempotencyKey}"` } : {}),
            ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          },
          ...(body === undefined ? {} : { payload: JSON.stringify(body) }),
        });
        let parsed: unknown = res.body;
        try {
          parsed = res.json();
        } catch {
          // not JSON: keep the text
        }
        return { status: res.statusCode, body: parsed };
      },
    };
    const server = createAirlockMcpServer(api);
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
    await server.connect(transport);
    reply.hijack();
    reply.raw.on('close', () => {
      void transport.close();
      void server.close();
    });
    await transport.handleRequest(request.raw, reply.raw, request.body);
  });
}

/**
 * What the transport would refuse with a JSON-RPC error body, refused first as problems like
 * every other 4xx of the harness: the Accept header the streamable HTTP transport requires, a
 * body that is one JSON-RPC 2.0 message, a known MCP-Protocol-Version.
 */
function checkTransport(request: FastifyRequest): void {
  const accept = request.headers.accept ?? '';
  if (!accept.includes('application/json') || !accept.includes('text/event-stream')) {
    throw new InvalidRequestError('MCP clients must send Accept: application/json, text/event-stream');
  }
  if (!JSONRPCMessageSchema.safeParse(request.body).success) {
    throw new InvalidRequestError('The body must be one JSON-RPC 2.0 message');
  }
  const version = request.headers['mcp-protocol-version'];
  if (version !== undefined && !SUPPORTED_PROTOCOL_VERSIONS.includes(String(version))) {
    throw new InvalidRequestError(`Unsupported MCP-Protocol-Version; supported: ${SUPPORTED_PROTOCOL_VERSIONS.join(', ')}`);
  }
}
