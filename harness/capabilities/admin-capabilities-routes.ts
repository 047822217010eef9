import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { AuditProducer } from '../../protocol/audit/producer.ts';
import { CapabilityNameSchema } from '../../protocol/capability.ts';
import { recordAdminChange } from '../audit/admin-change-entry.ts';
import type { Principal } from '../auth/principal.ts';
import type { Idempotency } from '../plugins/idempotency.ts';
import { InvalidRequestError, NotFoundError } from '../problems.ts';
import { NoQuerySchema, ProblemSchema } from '../schemas/tasks.ts';
import type { CapabilityStore } from './capability-store.ts';
import { definitionProblems } from './check-definition.ts';
import { CapabilityBodySchema, CapabilitySchema, HTTP_REQUEST_INPUT_SCHEMA, type Capability } from './definition.ts';

export interface AdminCapabilityRoutesOptions {
  capabilities: CapabilityStore;
  idempotency: Idempotency;
  audit: AuditProducer;
  principalOf: (request: FastifyRequest) => Principal;
}

const NameParamsSchema = z.strictObject({ name: CapabilityNameSchema });
const errors = { 400: ProblemSchema, 401: ProblemSchema, 403: ProblemSchema, 404: ProblemSchema, 503: ProblemSchema };

/**
 * Admin API of the capability registry (`/v1/admin/capabilities`, admin role). A definition
 * whose schemas do not compile, or whose input is not an object schema, is a 400 whose `errors`
 * extension points at each problem (`/body/input`, …); nothing is stored then.
 */
export async function adminCapabilityRoutes(app: FastifyInstance, options: AdminCapabilityRoutesOptions): Promise<void> {
  const { capabilities, idempotency, audit, principalOf } = options;
  const api = app.withTypeProvider<ZodTypeProvider>();

  api.put(
    '/v1/admin/capabilities/:name',
    {
      schema: {
        querystring: NoQuerySchema,
        params: NameParamsSchema,
        body: CapabilityBodySchema,
        response: { 200: CapabilitySchema, 201: CapabilitySchema, ...errors },
      },
    },
    async (request, reply) => {
      const principal = principalOf(request);
      if (await idempotency.guard(request, reply, principal, false)) return reply;
      const problems = definitionProblems(request.body);
      if (problems.length > 0) {
        throw Object.assign(new InvalidRequestError(problems.map((p) => p.detail).join('; ')), {
          problemExtensions: { errors: problems },
        });
      }
      const existing = await capabilities.get(principal.tenantId, request.params.name);
      const now = new Date().toISOString();
      const capability: Capability = {
        ...request.body,
        name: request.params.name,
        input: request.body.input ?? (structuredClone(HTTP_REQUEST_INPUT_SCHEMA) as unknown as Capability['input']),
        createdAt: existing?.createdAt ?? now,
        updatedAt: now,
      };
      await recordAdminChange(audit, request, principal, 'admin.capability.put', {
        name: capability.name,
        risk: capability.risk,
        implementation: capability.implementation.type,
        credentialName: capability.implementation.credential ?? null,
      });
      await capabilities.put(principal.tenantId, capability);
      return reply.code(existing ? 200 : 201).send(capability);
    },
  );

  api.get(
    '/v1/admin/capabilities',
    { schema: { querystring: NoQuerySchema, response: { 200: z.strictObject({ items: z.array(CapabilitySchema) }), ...errors } } },
    async (request) => ({ items: await capabilities.list(principalOf(request).tenantId) }),
  );

  api.get(
    '/v1/admin/capabilities/:name',
    { schema: { querystring: NoQuerySchema, params: NameParamsSchema, response: { 200: CapabilitySchema, ...errors } } },
    async (request) => {
      const capability = await capabilities.get(principalOf(request).tenantId, request.params.name);
      if (!capability) throw new NotFoundError(`Capability ${request.params.name} not found`);
      return capability;
    },
  );

  api.delete(
    '/v1/admin/capabilities/:name',
    { schema: { querystring: NoQuerySchema, params: NameParamsSchema, response: { 204: z.null(), ...errors } } },
    async (request, reply) => {
      const principal = principalOf(request);
      if (await idempotency.guard(request, reply, principal, false)) return reply;
      if (!(await capabilities.get(principal.tenantId, request.params.name))) {
        throw new NotFoundError(`Capability ${request.params.name} not found`);
      }
      await recordAdminChange(audit, request, principal, 'admin.capability.delete', { name: request.params.name });
      await capabilities.delete(principal.tenantId, request.params.name);
      return reply.code(204).send(null);
    },
  );
}
