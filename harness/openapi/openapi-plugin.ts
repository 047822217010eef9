/**
 * `GET /openapi.json` (the OpenAPI 3.1 document, see document.ts) and `GET /docs` (the same as
 * a readable page, rendered on the server: no script, no network, works in any browser or curl).
 * Register before any route: @fastify/swagger learns the routes as they are added.
 */
import swagger from '@fastify/swagger';
import type { FastifyInstance } from 'fastify';
import { jsonSchemaTransform, jsonSchemaTransformObject } from 'fastify-type-provider-zod';
import type { OpenAPIV3_1 } from 'openapi-types';
import { completeDocument } from './document.ts';
import { renderDocsPage } from './docs-page.ts';

export async function registerOpenApi(app: FastifyInstance, version: string): Promise<void> {
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Airlock',
        version,
        description:
          'Runs code written by AI agents in sandboxes (V8 isolates, network-less containers). ' +
          'Errors are RFC 9457 problem+json with a stable `code` (docs/errors.md).',
        license: { name: 'See the repository' },
      },
    },
    transform: jsonSchemaTransform,
    transformObject: jsonSchemaTransformObject,
  });

  let cached: OpenAPIV3_1.Document | undefined;
  // Built on first use: every route exists by then, and the document never changes afterwards.
  const document = (): OpenAPIV3_1.Document =>
    (cached ??= completeDocument(structuredClone(app.swagger() as OpenAPIV3_1.Document)));

  app.get('/openapi.json', { schema: { hide: true }, logLevel: 'warn' }, async (_request, reply) =>
    reply.type('application/json; charset=utf-8').send(document()),
  );
  app.get('/docs', { schema: { hide: true }, logLevel: 'warn' }, async (_request, reply) =>
    reply
      .type('text/html; charset=utf-8')
      .header('content-security-policy', "default-src 'none'; style-src 'unsafe-inline'")
      .send(renderDocsPage(document())),
  );
}
