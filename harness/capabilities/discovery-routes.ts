import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { JsonValueSchema } from '../../protocol/json-value.ts';
import type { Principal } from '../auth/principal.ts';
import type { PolicyGate } from '../policy/gate.ts';
import { NoQuerySchema, ProblemSchema } from '../schemas/tasks.ts';
import type { CapabilityStore } from './capability-store.ts';
import { declarations } from './declarations.ts';
import { invocableBy } from './invocable.ts';

export interface DiscoveryRoutesOptions {
  capabilities: CapabilityStore;
  policy: PolicyGate;
  principalOf: (request: FastifyRequest) => Principal;
}

const ItemSchema = z.strictObject({
  name: z.string(),
  description: z.string(),
  risk: z.string(),
  timeoutMs: z.number(),
  input: z.record(z.string(), JsonValueSchema),
  output: z.record(z.string(), JsonValueSchema).optional(),
});

/**
 * What the caller may invoke (policy applied, without input: argument conditions apply per
 * call): `GET /v1/capabilities` with the JSON Schemas, `GET /v1/capabilities.d.ts` as
 * TypeScript declarations of the `caps` global. Never the implementation (URLs, credential
 * names): that is the admin's view.
 */
export async function discoveryRoutes(app: FastifyInstance, options: DiscoveryRoutesOptions): Promise<void> {
  const { capabilities, policy, principalOf } = options;
  const api = app.withTypeProvider<ZodTypeProvider>();

  api.get(
    '/v1/capabilities',
    { schema: { querystring: NoQuerySchema, response: { 200: z.strictObject({ items: z.array(ItemSchema) }), 401: ProblemSchema, 403: ProblemSchema } } },
    async (request) => {
      const items = await invocableBy(capabilities, policy, request, principalOf(request));
      return {
        items: items.map((c) => ({
          name: c.name,
          description: c.description,
          risk: c.risk,
          timeoutMs: c.timeoutMs,
          input: c.input,
          ...(c.output ? { output: c.output } : {}),
        })),
      };
    },
  );

  api.get('/v1/capabilities.d.ts', { schema: { querystring: NoQuerySchema } }, async (request, reply) => {
    const items = await invocableBy(capabilities, policy, request, principalOf(request));
    return reply.header('content-type', 'application/typescript; charset=utf-8').send(declarations(items));
  });
}
