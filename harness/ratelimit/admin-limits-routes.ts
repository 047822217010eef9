import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Principal } from '../auth/principal.ts';
import type { Idempotency } from '../plugins/idempotency.ts';
import { NoQuerySchema, ProblemSchema } from '../schemas/tasks.ts';
import type { PrincipalResolver } from '../identity/principal-resolver.ts';
import { NameSchema } from '../identity/records.ts';
import { InvalidRequestError } from '../problems.ts';
import { MAX_OVERRIDE_ENTRIES, QuotaOverridesSchema } from './overrides-store.ts';
import { QuotaOverrideSchema, type QuotaOverride } from './policies.ts';
import type { RateLimits } from './rate-limits.ts';

export interface AdminLimitsRoutesOptions {
  rateLimits: RateLimits;
  idempotency: Idempotency;
  /** Turns the agent names or ids of `agents` into ids. */
  principals: PrincipalResolver;
  principalOf: (request: FastifyRequest) => Principal;
}

/**
 * The PUT body: like the stored overrides, except that `agents` may be keyed by agent (or user)
 * names as well as ids; they are stored by id.
 */
const OverridesBodySchema = QuotaOverridesSchema.extend({
  agents: z
    .record(NameSchema, QuotaOverrideSchema)
    .refine((r) => Object.keys(r).length <= MAX_OVERRIDE_ENTRIES, `at most ${MAX_OVERRIDE_ENTRIES} agents`)
    .optional(),
});

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
    { schema: { querystring: NoQuerySchema, body: OverridesBodySchema, response: { 200: LimitsViewSchema, ...errors } } },
    async (request, reply) => {
      const principal = admin(request);
      if (await idempotency.guard(request, reply, principal, false)) return reply;
      const agents = await overridesById(options.principals, principal.tenantId, request.body.agents ?? {});
      const before = await rateLimits.overrides.get(principal.tenantId);
      await rateLimits.overrides.replace(principal.tenantId, { ...request.body, agents });
      const after = await rateLimits.overrides.get(principal.tenantId);
      request.auditChange = { target: 'limits', before, after };
      return reply.send({ defaults: rateLimits.defaults, overrides: after });
    },
  );
}

/**
 * The agents' overrides keyed by id. A name or id that is not an agent or user of the tenant is
 * a 400 naming each (`errors[].pointer` = `/body/agents/<key>`), and nothing is stored: before,
 * it was stored as given and silently applied to nobody. Two keys naming the same agent are a
 * 400 too (which one would win is not obvious).
 */
async function overridesById(
  principals: PrincipalResolver,
  tenantId: string,
  byRef: Readonly<Record<string, QuotaOverride>>,
): Promise<Record<string, QuotaOverride>> {
  const refs = Object.keys(byRef);
  const pointer = (i: number) => `/body/agents/${escapePointer(refs[i] ?? '')}`;
  const errors: { detail: string; pointer: string }[] = [];
  const out: Record<string, QuotaOverride> = {};
  const seen = new Map<string, string>();
  for (const [i, ref] of refs.entries()) {
    const r = await principals.resolve(tenantId, ref);
    if (!r.ok) {
      errors.push({ detail: r.message, pointer: pointer(i) });
      continue;
    }
    const earlier = seen.get(r.id);
    if (earlier !== undefined) {
      errors.push({ detail: `"${ref}" and "${earlier}" are the same agent (${r.id}): give it once`, pointer: pointer(i) });
      continue;
    }
    seen.set(r.id, ref);
    out[r.id] = byRef[ref] as QuotaOverride;
  }
  if (errors.length > 0) {
    throw Object.assign(new InvalidRequestError(`agents: ${errors.map((e) => e.detail).join('; ')}`), {
      problemExtensions: { errors },
    });
  }
  return out;
}

/** Escapes one JSON Pointer reference token (RFC 6901 §3). */
function escapePointer(token: string): string {
  return token.replaceAll('~', '~0').replaceAll('/', '~1');
}
