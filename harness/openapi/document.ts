/**
 * The OpenAPI 3.1 document of the API, generated from the zod schemas the routes validate with
 * (`@fastify/swagger` collects the routes, fastify-type-provider-zod turns zod into JSON Schema),
 * then completed with what the route schemas do not say: operation ids, the Bearer security
 * scheme, the `Idempotency-Key` header, the problem+json errors each route can answer, the
 * `RateLimit`/`RateLimit-Policy`/`Retry-After` headers and the SSE response of the event stream.
 *
 * Nothing here is written twice: a route added to the app appears in the document by itself,
 * and test/integration/openapi.test.ts fails when the router and the document disagree.
 */
import type { OpenAPIV3_1 } from 'openapi-types';

type Document = OpenAPIV3_1.Document;
type Operation = OpenAPIV3_1.OperationObject;

const METHODS = ['get', 'put', 'post', 'delete', 'patch'] as const;

/**
 * Mutating routes that do not take an `Idempotency-Key` (every other POST/PUT/PATCH/DELETE under
 * /v1 does; the openapi test probes each route to hold this list true).
 */
export const NOT_IDEMPOTENT = new Set(['POST /v1/tokens', 'DELETE /v1/tokens/{jti}', 'POST /v1/admin/policies/validate']);

/** `GET /v1/tasks/{id}/events` → `getTaskEvents`; `POST /v1/admin/agents/{id}/disable` → `postAdminAgentDisable`. */
export function operationId(method: string, path: string): string {
  const words = path
    .split('/')
    .filter((s) => s !== '' && s !== 'v1' && !s.startsWith('{'))
    .flatMap((s) => s.split(/[^A-Za-z0-9]+/))
    .filter(Boolean);
  const byId = path.endsWith('}') ? 'ById' : '';
  const name = words.map((w) => w[0]!.toUpperCase() + w.slice(1)).join('');
  return `${method.toLowerCase()}${name}${byId}`;
}

const problem = (description: string): OpenAPIV3_1.ResponseObject => ({
  description,
  content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } },
});

const rateLimitHeaders: Record<string, OpenAPIV3_1.HeaderObject> = {
  RateLimit: { description: 'Remaining quota per policy (draft-ietf-httpapi-ratelimit-headers)', schema: { type: 'string' } },
  'RateLimit-Policy': { description: 'The quota policies that apply to this request', schema: { type: 'string' } },
};

/** Which problems a route can answer, from what it takes (body, path parameters, idempotency). */
function errorResponses(method: string, path: string, op: Operation, idempotent: boolean): Record<string, OpenAPIV3_1.ResponseObject> {
  const errors: Record<string, OpenAPIV3_1.ResponseObject> = {
    '400': problem('The request is malformed: a field, parameter or header is invalid'),
  };
  if (path.startsWith('/v1/')) {
    errors['401'] = problem('No valid credential: send `Authorization: Bearer <API key or token>`');
    errors['403'] = problem('A policy refused the request');
    errors['429'] = {
      ...problem('A rate limit or quota is used up; retry after `Retry-After` seconds'),
      headers: { 'Retry-After': { description: 'Seconds to wait', schema: { type: 'integer' } }, ...rateLimitHeaders },
    };
  }
  if (path.includes('{')) errors['404'] = problem('No such resource (or not visible to the caller)');
  if (op.requestBody) {
    errors['413'] = problem('The body is larger than the limit');
    errors['415'] = problem('The body is not `application/json`');
  }
  if (idempotent) {
    errors['409'] = problem('A request with the same `Idempotency-Key` is still in progress, or the state conflicts');
    errors['422'] = problem('The `Idempotency-Key` was used before with another request');
  } else if (method !== 'get') {
    errors['409'] = problem('The request conflicts with the current state');
  }
  errors['503'] = {
    ...problem('A dependency (Redis, a runner, the audit log) is unavailable; retry after `Retry-After`'),
    headers: { 'Retry-After': { description: 'Seconds to wait', schema: { type: 'integer' } } },
  };
  return errors;
}

/** Completes the generated document in place and returns it. */
export function completeDocument(doc: Document): Document {
  doc.components ??= {};
  doc.components.securitySchemes = {
    bearer: {
      type: 'http',
      scheme: 'bearer',
      description: 'An API key (`ak_…`) or a token minted with POST /v1/tokens',
    },
  };
  doc.components.schemas = {
    ...doc.components.schemas,
    Problem: {
      type: 'object',
      description: 'RFC 9457 problem details; `code` is stable and documented in docs/errors.md',
      required: ['type', 'title', 'status', 'code'],
      properties: {
        type: { type: 'string' },
        title: { type: 'string' },
        status: { type: 'integer' },
        detail: { type: 'string' },
        instance: { type: 'string' },
        code: { type: 'string' },
      },
    },
  };
  hoistSharedDefs(doc);
  for (const [path, item] of Object.entries(doc.paths ?? {})) {
    for (const method of METHODS) {
      const op = item?.[method];
      if (!op) continue;
      op.operationId = operationId(method, path);
      const v1 = path.startsWith('/v1/');
      op.tags = [v1 ? (path.split('/')[2] === 'admin' ? 'admin' : path.split('/')[2]!) : 'service'];
      // POST /mcp authenticates like /v1 (its tools call /v1 routes with the caller's credential).
      if (v1 || path === '/mcp') op.security = [{ bearer: [] }];
      if (path === '/mcp') {
        op.description = 'MCP over streamable HTTP (JSON-RPC 2.0, protocol revision 2025-11-25): tools run_code, get_task, cancel_task, list_capabilities, get_trace';
      }
      const idempotent = v1 && method !== 'get' && !NOT_IDEMPOTENT.has(`${method.toUpperCase()} ${path}`);
      if (idempotent) {
        op.parameters = [
          ...(op.parameters ?? []).filter((p) => !('name' in p) || p.name.toLowerCase() !== 'idempotency-key'),
          {
            name: 'Idempotency-Key',
            in: 'header',
            required: false,
            description: 'Makes a retry safe: the same key with the same request answers the first result (24 h)',
            schema: { type: 'string', maxLength: 255 },
          },
        ];
      }
      // The generator writes plain response objects (no $ref) for every status.
      const responses = (op.responses ??= {}) as Record<string, OpenAPIV3_1.ResponseObject>;
      for (const [status, response] of Object.entries(errorResponses(method, path, op, idempotent))) {
        // Errors are problem+json, whatever media type the generator gave a declared one.
        responses[status] = { ...response, ...pickDescription(responses[status]) };
      }
      for (const [status, response] of Object.entries(responses)) {
        if (Number(status) >= 400) responses[status] = { ...response, content: problem('').content };
        if (status.startsWith('2') && v1) {
          response.headers = { ...response.headers, ...rateLimitHeaders };
        }
      }
      if (method === 'get' && path === '/v1/tasks/{id}/events') {
        responses['200'] = {
          description: 'Server-Sent Events: `status`, `output` and `result` events until the task ends; resume with `Last-Event-ID`',
          headers: rateLimitHeaders,
          content: { 'text/event-stream': { schema: { type: 'string' } } },
        };
      }
    }
  }
  return doc;
}

function pickDescription(response: unknown): { description?: string } {
  const d = (response as { description?: unknown } | undefined)?.description;
  return typeof d === 'string' && d !== 'Default Response' ? { description: d } : {};
}

const SHARED = '#/components/schemas/__shared#/$defs/';

/**
 * The zod transform puts recursive schemas (JsonValue) in `components.schemas.__shared.$defs`
 * and points at them with `#/components/schemas/__shared#/$defs/<name>`: a reference with two
 * fragments, which generators (openapi-typescript) read as the `__shared` object itself, so the
 * SDK's types for every JSON value were wrong. Each such definition moves to the component that
 * aliases it (JsonValue; else `Shared_<name>`), every reference is rewritten to it, and
 * `__shared` is gone.
 */
function hoistSharedDefs(doc: Document): void {
  const schemas = (doc.components?.schemas ?? {}) as Record<string, unknown>;
  const shared = schemas['__shared'] as { $defs?: Record<string, unknown> } | undefined;
  if (!shared?.$defs) return;
  const home = new Map<string, string>();
  for (const name of Object.keys(shared.$defs)) {
    const aliases = Object.keys(schemas).filter((k) => (schemas[k] as { $ref?: string })?.$ref === `${SHARED}${name}`);
    home.set(name, aliases.find((k) => !k.endsWith('Input')) ?? aliases[0] ?? `Shared_${name}`);
  }
  const rewrite = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(rewrite);
    if (value === null || typeof value !== 'object') return value;
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      out[k] = k === '$ref' && typeof v === 'string' && v.startsWith(SHARED) ? `#/components/schemas/${home.get(v.slice(SHARED.length))}` : rewrite(v);
    }
    return out;
  };
  delete schemas['__shared'];
  for (const [name, def] of Object.entries(shared.$defs)) schemas[home.get(name)!] = rewrite(def);
  for (const k of Object.keys(schemas)) schemas[k] = rewrite(schemas[k]);
  doc.paths = rewrite(doc.paths) as Document['paths'];
}
