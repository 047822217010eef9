import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { AuditProducer } from '../../protocol/audit/producer.ts';
import { recordAdminChange } from '../audit/admin-change-entry.ts';
import type { Principal } from '../auth/principal.ts';
import type { Idempotency } from '../plugins/idempotency.ts';
import { NotFoundError } from '../problems.ts';
import { NoQuerySchema, ProblemSchema } from '../schemas/tasks.ts';
import {
  CredentialInjectionSchema,
  CredentialNameSchema,
  CredentialViewSchema,
  type CredentialStore,
} from './credential-store.ts';

export interface AdminCredentialRoutesOptions {
  credentials: CredentialStore;
  idempotency: Idempotency;
  audit: AuditProducer;
  principalOf: (request: FastifyRequest) => Principal;
}

/** Largest credential value accepted. */
export const MAX_CREDENTIAL_BYTES = 8 * 1024;

const BodySchema = z
  .strictObject({
    type: z.enum(['bearer', 'basic', 'header', 'query']),
    value: z
      .string()
      .min(1)
      .refine((v) => Buffer.byteLength(v) <= MAX_CREDENTIAL_BYTES, `must be at most ${MAX_CREDENTIAL_BYTES} bytes`)
      // It goes into a header or a query string: a line break would split the request.
      .refine((v) => !/[\r\n\0]/.test(v), 'must not contain CR, LF or NUL'),
    header: z.string().optional(),
    param: z.string().optional(),
  })
  .superRefine((body, ctx) => {
    const { value: _v, ...injection } = body;
    const parsed = CredentialInjectionSchema.safeParse(injection);
    if (!parsed.success) {
      for (const issue of parsed.error.issues) ctx.addIssue({ code: 'custom', path: issue.path, message: issue.message });
    }
    if (body.type === 'basic' && !body.value.includes(':')) {
      ctx.addIssue({ code: 'custom', path: ['value'], message: 'a basic credential is user:password' });
    }
  });
const NameParamsSchema = z.strictObject({ name: CredentialNameSchema });
const errors = { 400: ProblemSchema, 401: ProblemSchema, 403: ProblemSchema, 404: ProblemSchema, 503: ProblemSchema };

/**
 * Admin API of the credentials vault (`/v1/admin/credentials`, admin role: app.ts decides
 * `admin.manage` for all of /v1/admin). A value goes in and never comes out: every answer is the
 * name, how it is injected, the id of the key that sealed it, and timestamps.
 */
export async function adminCredentialRoutes(app: FastifyInstance, options: AdminCredentialRoutesOptions): Promise<void> {
  const { credentials, idempotency, audit, principalOf } = options;
  const api = app.withTypeProvider<ZodTypeProvider>();

  api.put(
    '/v1/admin/credentials/:name',
    {
      schema: {
        querystring: NoQuerySchema,
        params: NameParamsSchema,
        body: BodySchema,
        response: { 200: CredentialViewSchema, 201: CredentialViewSchema, ...errors },
      },
    },
    async (request, reply) => {
      const principal = principalOf(request);
      if (await idempotency.guard(request, reply, principal, false)) return reply;
      const { value, ...rest } = request.body;
      const injection = CredentialInjectionSchema.parse(rest);
      await recordAdminChange(audit, request, principal, 'admin.credential.put', { name: request.params.name, type: injection.type });
      const { view, created } = await credentials.put(principal.tenantId, request.params.name, injection, value);
      return reply.code(created ? 201 : 200).send(view);
    },
  );

  api.get(
    '/v1/admin/credentials',
    { schema: { querystring: NoQuerySchema, response: { 200: z.strictObject({ items: z.array(CredentialViewSchema) }), ...errors } } },
    async (request) => ({ items: await credentials.list(principalOf(request).tenantId) }),
  );

  api.get(
    '/v1/admin/credentials/:name',
    { schema: { querystring: NoQuerySchema, params: NameParamsSchema, response: { 200: CredentialViewSchema, ...errors } } },
    async (request) => {
      const view = await credentials.describe(principalOf(request).tenantId, request.params.name);
      if (!view) throw new NotFoundError(`Credential ${request.params.name} not found`);
      return view;
    },
  );

  api.delete(
    '/v1/admin/credentials/:name',
    { schema: { querystring: NoQuerySchema, params: NameParamsSchema, response: { 204: z.null(), ...errors } } },
    async (request, reply) => {
      const principal = principalOf(request);
      if (await idempotency.guard(request, reply, principal, false)) return reply;
      if (!(await credentials.describe(principal.tenantId, request.params.name))) {
        throw new NotFoundError(`Credential ${request.params.name} not found`);
      }
      await recordAdminChange(audit, request, principal, 'admin.credential.delete', { name: request.params.name });
      await credentials.delete(principal.tenantId, request.params.name);
      return reply.code(204).send(null);
    },
  );
}
