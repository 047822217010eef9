import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Principal } from '../auth/principal.ts';
import { GrantNameSchema, GrantSchema, type Grant, type GrantStore } from '../grants/grant-store.ts';
import { checkGrantHostPath } from '../grants/host-path.ts';
import type { Idempotency } from '../plugins/idempotency.ts';
import type { PrincipalResolver } from '../identity/principal-resolver.ts';
import { NameSchema } from '../identity/records.ts';
import { InvalidRequestError, NotFoundError } from '../problems.ts';
import { NoQuerySchema, ProblemSchema } from '../schemas/tasks.ts';

export interface AdminGrantRoutesOptions {
  grants: GrantStore;
  grantRoots: readonly string[];
  idempotency: Idempotency;
  /** Turns the agent names or ids of `allowedAgents` into ids. */
  principals: PrincipalResolver;
  principalOf: (request: FastifyRequest) => Principal;
}

const GrantBodySchema = z.strictObject({
  hostPath: z.string().min(2).max(4096),
  mode: z.enum(['ro', 'rw']),
  /** Required for `ro` grants too: the most a task may read through it. */
  maxBytes: z.number().int().positive().max(1024 ** 4),
  /** `*`, or agent (or user) names or ids of the tenant; stored as ids. */
  allowedAgents: z.array(z.union([z.literal('*'), NameSchema])).max(1000),
});
const NameParamsSchema = z.strictObject({ name: GrantNameSchema });
const errors = { 400: ProblemSchema, 401: ProblemSchema, 403: ProblemSchema, 404: ProblemSchema };

/**
 * Admin API for filesystem grants of the caller's tenant (`/v1/admin/grants`). Only principals
 * with the `admin` role; everyone else gets 403.
 */
export async function adminGrantRoutes(app: FastifyInstance, options: AdminGrantRoutesOptions): Promise<void> {
  const { grants, grantRoots, idempotency } = options;
  const api = app.withTypeProvider<ZodTypeProvider>();
  // Who may use these routes is the `admin.manage` policy, decided for all of /v1/admin in app.ts
  // (before body validation, so a non-admin learns nothing about the expected body).
  const admin = (request: FastifyRequest): Principal => options.principalOf(request);

  api.put(
    '/v1/admin/grants/:name',
    { schema: { querystring: NoQuerySchema, params: NameParamsSchema, body: GrantBodySchema, response: { 200: GrantSchema, 201: GrantSchema, ...errors } } },
    async (request, reply) => {
      const principal = admin(request);
      if (await idempotency.guard(request, reply, principal, false)) return reply;
      const problem = await checkGrantHostPath(request.body.hostPath, grantRoots);
      if (problem) throw new InvalidRequestError(problem);
      const allowedAgents = await resolveAllowedAgents(options.principals, principal.tenantId, request.body.allowedAgents);
      const existing = await grants.get(principal.tenantId, request.params.name);
      const now = new Date().toISOString();
      const grant: Grant = {
        name: request.params.name,
        ...request.body,
        allowedAgents,
        createdAt: existing?.createdAt ?? now,
        updatedAt: now,
      };
      await grants.put(principal.tenantId, grant);
      request.auditChange = { target: `grant:${grant.name}`, before: existing ?? null, after: grant };
      return reply.code(existing ? 200 : 201).send(grant);
    },
  );

  api.get(
    '/v1/admin/grants',
    { schema: { querystring: NoQuerySchema, response: { 200: z.strictObject({ items: z.array(GrantSchema) }), ...errors } } },
    async (request) => ({ items: await grants.list(admin(request).tenantId) }),
  );

  api.get(
    '/v1/admin/grants/:name',
    { schema: { querystring: NoQuerySchema, params: NameParamsSchema, response: { 200: GrantSchema, ...errors } } },
    async (request) => {
      const grant = await grants.get(admin(request).tenantId, request.params.name);
      if (!grant) throw new NotFoundError(`Grant ${request.params.name} not found`);
      return grant;
    },
  );

  api.delete(
    '/v1/admin/grants/:name',
    { schema: { querystring: NoQuerySchema, params: NameParamsSchema, response: { 204: z.null(), ...errors } } },
    async (request, reply) => {
      const principal = admin(request);
      if (await idempotency.guard(request, reply, principal, false)) return reply;
      const before = await grants.get(principal.tenantId, request.params.name);
      request.auditChange = { target: `grant:${request.params.name}`, before, after: null };
      if (!(await grants.delete(principal.tenantId, request.params.name))) {
        throw new NotFoundError(`Grant ${request.params.name} not found`);
      }
      return reply.code(204).send(null);
    },
  );
}

/**
 * `allowedAgents` as stored: `*` and ids. A name or id that is not an agent or user of the
 * tenant is a 400 naming each (`errors[].pointer` = `/body/allowedAgents/<i>`), and nothing is
 * stored: a grant listing nobody real would be refused to everyone without saying why.
 */
async function resolveAllowedAgents(
  principals: PrincipalResolver,
  tenantId: string,
  refs: readonly string[],
): Promise<string[]> {
  const named = refs.flatMap((ref, i) => (ref === '*' ? [] : [{ ref, i }]));
  const resolved = await principals.resolveAll(tenantId, named.map((n) => n.ref), (j) => `/body/allowedAgents/${named[j]?.i}`);
  if (!resolved.ok) {
    throw Object.assign(new InvalidRequestError(`allowedAgents: ${resolved.errors.map((e) => e.detail).join('; ')}`), {
      problemExtensions: { errors: resolved.errors },
    });
  }
  return [...(refs.includes('*') ? ['*'] : []), ...resolved.ids];
}
