/**
 * The OpenAPI document (GET /openapi.json) against the router of the real app: every route the
 * app registers is in the document with the same method, path parameters, query parameters and
 * body, and nothing else is; the document passes an OpenAPI 3.1 validator; the completions
 * (operation ids, security, problem+json errors, Idempotency-Key, rate-limit headers, SSE) are
 * there; GET /docs renders every operation. Routes come from Fastify itself (captureRoutes), so
 * a route added later cannot escape this test.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Validator } from '@seriousme/openapi-schema-validator';
import type { OpenAPIV3_1 } from 'openapi-types';
import { z } from 'zod';
import { NOT_IDEMPOTENT } from '../../harness/openapi/document.ts';
import { captureRoutes, type RegisteredRoute } from '../helpers/owasp-fixtures.ts';
import { startStack, type Stack } from '../helpers/stack.ts';

const METHODS = ['get', 'put', 'post', 'delete', 'patch'] as const;
/**
 * Routes that serve the document itself, the operator's /metrics, the web console's HTML pages
 * (/console: not API; they read and write through the documented /v1 routes), and HEAD/OPTIONS
 * that Fastify adds on its own.
 */
const CONSOLE_PAGES = [
  '/console', '/console/sign-in', '/console/sign-out', '/console/static/:file',
  '/console/approvals', '/console/approvals/:id', '/console/approvals/:id/decide',
  '/console/tasks', '/console/tasks/:id',
  '/console/admin', '/console/admin/agents/:id', '/console/admin/agents/:id/keys', '/console/admin/users/:id',
  '/console/admin/users/:id/keys', '/console/admin/keys/:keyId/revoke', '/console/admin/policies',
  '/console/admin/agents', '/console/admin/users', '/console/admin/agents/:id/disable', '/console/admin/users/:id/disable',
  '/console/admin/capabilities', '/console/admin/credentials', '/console/admin/grants', '/console/admin/limits',
];
const UNDOCUMENTED = new Set(['/openapi.json', '/docs', '/metrics', ...CONSOLE_PAGES]);

/** Fastify's `/v1/tasks/:id/files/*` → OpenAPI's `/v1/tasks/{id}/files/{*}`. */
const toOpenApiPath = (url: string) => url.replace(/:([A-Za-z0-9_]+)/g, '{$1}').replace(/\*$/, '{*}');

/** The keys of a zod object schema (route params/querystring), or none. */
function keysOf(schema: unknown): string[] {
  if (!schema) return [];
  assert.ok(schema instanceof z.ZodObject, 'route schemas are zod objects');
  return Object.keys(schema.shape).sort();
}

describe('OpenAPI document', () => {
  let stack: Stack;
  let routes: RegisteredRoute[];
  let doc: OpenAPIV3_1.Document;
  before(async () => {
    ({ result: stack, routes } = await captureRoutes(() => startStack({ runner: false })));
    const res = await stack.app.inject({ method: 'GET', url: '/openapi.json' });
    assert.equal(res.statusCode, 200);
    assert.match(String(res.headers['content-type']), /^application\/json/);
    doc = res.json();
  });
  after(async () => {
    await stack?.close();
  });

  test('passes an OpenAPI 3.1 validator', async () => {
    assert.equal(doc.openapi, '3.1.0');
    const validator = new Validator();
    const result = await validator.validate(doc as unknown as Parameters<Validator["validate"]>[0]);
    assert.deepEqual(result.errors ?? [], [], JSON.stringify(result.errors, null, 1));
    assert.equal(result.valid, true);
  });

  test('every route of the router is in the document, and the document has nothing else', () => {
    const fromRouter = new Set(
      routes
        .filter((r) => !['HEAD', 'OPTIONS'].includes(r.method) && !UNDOCUMENTED.has(r.url))
        .map((r) => `${r.method} ${toOpenApiPath(r.url)}`),
    );
    const fromDoc = new Set(
      Object.entries(doc.paths ?? {}).flatMap(([path, item]) =>
        METHODS.filter((m) => item?.[m]).map((m) => `${m.toUpperCase()} ${path}`),
      ),
    );
    assert.ok(fromRouter.size > 30, `the router has the whole API (${fromRouter.size} routes)`);
    assert.deepEqual([...fromRouter].filter((r) => !fromDoc.has(r)), [], 'routes missing from the document');
    assert.deepEqual([...fromDoc].filter((r) => !fromRouter.has(r)), [], 'operations no route serves');
  });

  test("each operation takes exactly its route's path parameters, query parameters and body", () => {
    for (const route of routes) {
      if (['HEAD', 'OPTIONS'].includes(route.method) || UNDOCUMENTED.has(route.url)) continue;
      const path = toOpenApiPath(route.url);
      const op = doc.paths?.[path]?.[route.method.toLowerCase() as (typeof METHODS)[number]];
      assert.ok(op, `${route.method} ${path}`);
      const params = (op.parameters ?? []) as OpenAPIV3_1.ParameterObject[];
      const named = (where: string) => params.filter((p) => p.in === where).map((p) => p.name).sort();
      const where = `${route.method} ${path}`;
      assert.deepEqual(named('path'), keysOf(route.params), `${where}: path parameters`);
      assert.deepEqual(named('query'), keysOf(route.querystring), `${where}: query parameters`);
      assert.equal(Boolean(op.requestBody), Boolean(route.body), `${where}: request body`);
    }
  });

  test('operations are complete: ids, auth, problem errors, Idempotency-Key, rate-limit headers, SSE', () => {
    const ids = new Set<string>();
    for (const [path, item] of Object.entries(doc.paths ?? {})) {
      for (const method of METHODS) {
        const op = item?.[method];
        if (!op) continue;
        const where = `${method.toUpperCase()} ${path}`;
        assert.ok(op.operationId && !ids.has(op.operationId), `${where}: a unique operationId`);
        ids.add(op.operationId);
        const responses = op.responses as Record<string, OpenAPIV3_1.ResponseObject>;
        for (const [status, response] of Object.entries(responses)) {
          if (Number(status) >= 400) {
            assert.deepEqual(Object.keys(response.content ?? {}), ['application/problem+json'], `${where} ${status}`);
          }
        }
        if (!path.startsWith('/v1/')) continue;
        assert.deepEqual(op.security, [{ bearer: [] }], `${where}: Bearer auth`);
        for (const status of ['400', '401', '403', '429', '503']) assert.ok(responses[status], `${where}: ${status}`);
        assert.ok(responses['429']?.headers?.['Retry-After'], `${where}: 429 has Retry-After`);
        if (path.includes('{')) assert.ok(responses['404'], `${where}: 404`);
        if (op.requestBody) assert.ok(responses['413'], `${where}: 413`);
        const ok = Object.entries(responses).find(([s]) => s.startsWith('2'));
        assert.ok(ok?.[1].headers?.['RateLimit'], `${where}: RateLimit header on success`);
        const takesKey = ((op.parameters ?? []) as OpenAPIV3_1.ParameterObject[]).some(
          (p) => p.in === 'header' && p.name === 'Idempotency-Key',
        );
        const mutating = method !== 'get' && !NOT_IDEMPOTENT.has(`${method.toUpperCase()} ${path}`);
        assert.equal(takesKey, mutating, `${where}: Idempotency-Key`);
        if (takesKey) assert.ok(responses['409'] && responses['422'], `${where}: 409 and 422 for key reuse`);
      }
    }
    const events = doc.paths?.['/v1/tasks/{id}/events']?.get?.responses?.['200'] as OpenAPIV3_1.ResponseObject;
    assert.ok(events.content?.['text/event-stream'], 'the event stream is documented as SSE');
  });

  test('a route that the list says takes no Idempotency-Key really ignores one', async () => {
    // The refused structured-field form (`"k";x=1`) is a 400 on every route that reads the key.
    const res = await stack.app.inject({
      method: 'POST',
      url: '/v1/admin/policies/validate',
      headers: { ...stack.headers('alice', null), 'idempotency-key': '"k";x=1' },
      payload: { policies: 'permit(principal, action, resource);' },
    });
    assert.notEqual(res.json().code, 'invalid_idempotency_key', res.body);
    const honoured = await stack.app.inject({
      method: 'DELETE',
      url: `/v1/tasks/${crypto.randomUUID()}`,
      headers: { ...stack.headers('alice', null), 'idempotency-key': '"k";x=1' },
    });
    assert.equal(honoured.statusCode, 400, honoured.body);
  });

  test('GET /docs renders every operation as HTML, with no script', async () => {
    const res = await stack.app.inject({ method: 'GET', url: '/docs' });
    assert.equal(res.statusCode, 200);
    assert.match(String(res.headers['content-type']), /^text\/html/);
    assert.match(String(res.headers['content-security-policy']), /default-src 'none'/);
    assert.doesNotMatch(res.body, /<script/i);
    for (const item of Object.values(doc.paths ?? {})) {
      for (const method of METHODS) {
        const id = item?.[method]?.operationId;
        if (id) assert.ok(res.body.includes(`id="${id}"`), `${id} on the page`);
      }
    }
  });
});
