import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Principal } from '../auth/principal.ts';
import type { Idempotency } from '../plugins/idempotency.ts';
import { NoQuerySchema, ProblemSchema } from '../schemas/tasks.ts';
import { QuotaOverridesSchema } from './overrides-store.ts';
import type { RateLimits } from './rate-limits.ts';

export interface AdminLimitsRoutesOptions {
  rateLimits: RateLimits;
  idempotency: Idempotency;
  principalOf: (request: FastifyRequest) => Principal;
}

const QuotasSchema = z.strictObject({
  readsPerMin: z.number().int(),
  writesPerMin: z.number().int(),
  taskCreatesPerMin: z.number().int(),
  concurrentTasks: z.number().int(),
});
const LimitsViewSchema = z.strictObject({ defaults: QuotasSchema, overrides: QuotaOverridesSchema });
const errors = { 400: ProblemSchema, 401: ProblemSchema, 403: ProblemSchema };

/**
 * `/v1/admin/limits`: the quota overrides of the caller's tenant (admin role only; 403 for
 * everyone else). GET shows the configured defaults and the overrides; PUT replaces all
 * overrides of the tenant with the body (so GET, edit, PUT is the whole workflow).
 */
export async function adminLimitsRoutes(app: FastifyInstance, options: AdminLimitsRoutesOptions): Promise<void> {
  const { rateLimits, idempotency } = options;
  const api = app.withTypeProvider<ZodTypeProvider>();
  // Who may use these routes is the `admin.manage` policy, decided for all of /v1/admin in app.ts
  // (before body validation, so a non-admin learns nothing about the expected body).
  const admin = (request: FastifyRequest): Principal => options.principalOf(request);

  api.get('/v1/admin/limits', { schema: { querystring: NoQuerySchema, response: { 200: LimitsViewSchema, ...errors } } }, async (request) => ({
    defaults: rateLimits.defaults,
    overrides: await rateLimits.overrides.get(admin(request).tenantId),
  }));

  api.put(
    '/v1/admin/limits',
    { schema: { querystring: NoQuerySchema, body: QuotaOverridesSchema, response: { 200: LimitsViewSchema, ...errors } } },
    async (request, reply) => {
      const principal = admin(request);
      if (await idempotency.guard(request, reply, principal, false)) return reply;
      await rateLimits.overrides.replace(principal.tenantId, request.body);
      return reply.send({ defaults: rateLimits.defaults, overrides: await rateLimits.overrides.get(principal.tenantId) });
    },
  );
}
