import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Principal } from '../auth/principal.ts';
import type { Idempotency } from '../plugins/idempotency.ts';
import { Authorizer } from '../policy/authorizer.ts';
import { compilePolicySet, PolicySetError, SCHEMA_TEXT, type PolicySet } from '../policy/policy-set.ts';
import type { PolicyStore } from '../policy/policy-store.ts';
import { InvalidPolicyError } from '../problems.ts';
import { NoQuerySchema, ProblemSchema } from '../schemas/tasks.ts';

export interface AdminPolicyRoutesOptions {
  policies: PolicyStore;
  idempotency: Idempotency;
  principalOf: (request: FastifyRequest) => Principal;
}

/** Largest policy set text accepted. */
const MAX_POLICY_BYTES = 256 * 1024;

const PolicyTextSchema = z.strictObject({ text: z.string().min(1).max(MAX_POLICY_BYTES) });
const PolicySetViewSchema = z.strictObject({
  text: z.string(),
  /** sha256 of the text: what every decision records. */
  hash: z.string(),
  policyIds: z.array(z.string()),
});
const PoliciesViewSchema = z.strictObject({
  active: PolicySetViewSchema.extend({ isDefault: z.boolean() }),
  shadow: PolicySetViewSchema.nullable(),
  /** Bumped by every change of the active or shadow set (0: never changed). */
  version: z.number().int(),
  /** The last change: when, and by whom (`<kind>:<id>`). */
  changedAt: z.string().optional(),
  changedBy: z.string().optional(),
  /** The Cedar schema policies are validated against. */
  schema: z.string(),
});
const errors = { 400: ProblemSchema, 401: ProblemSchema, 403: ProblemSchema, 422: ProblemSchema };

const view = (set: PolicySet) => ({ text: set.text, hash: set.hash, policyIds: Object.keys(set.policies) });

/**
 * The set, or 422 invalid_policy: `detail` names each problem, and the `errors` extension lists
 * them one by one (`{ detail, policyId? }`), the policy named by its `@id` when known.
 */
function compileOr422(text: string): PolicySet {
  try {
    return compilePolicySet(text);
  } catch (err) {
    if (err instanceof PolicySetError) {
      throw Object.assign(new InvalidPolicyError(err.message), {
        problemExtensions: {
          errors: err.problems.map((p) => ({ detail: p.message, ...(p.policyId ? { policyId: p.policyId } : {}) })),
        },
      });
    }
    throw err;
  }
}

/**
 * The tenant's Cedar policies (`/v1/admin/policies`; the admin.manage policy guards all of
 * /v1/admin). A set is validated against the schema before it is activated or shadowed; an
 * invalid one is a 422 that changes nothing. A shadow set is evaluated beside the active one and
 * its decisions are recorded and logged, never enforced.
 */
export async function adminPolicyRoutes(app: FastifyInstance, options: AdminPolicyRoutesOptions): Promise<void> {
  const { policies, idempotency, principalOf } = options;
  const lockoutCheck = new Authorizer();
  const api = app.withTypeProvider<ZodTypeProvider>();

  /** What an audit entry keeps of the policies: hashes and policy ids (the text can be long). */
  const summary = async (tenantId: string) => {
    const sets = await policies.forTenant(tenantId);
    const brief = (set: PolicySet) => ({ hash: set.hash, policyIds: Object.keys(set.policies).slice(0, 50) });
    return { active: { ...brief(sets.active), isDefault: sets.isDefault }, shadow: sets.shadow ? brief(sets.shadow) : null, version: sets.version };
  };
  /** Runs a change and records the policies before and after it on the request (audit). */
  const audited = async (request: FastifyRequest, tenantId: string, target: string, change: () => Promise<unknown>) => {
    const before = await summary(tenantId);
    await change();
    request.auditChange = { target, before, after: await summary(tenantId) };
  };

  const current = async (tenantId: string) => {
    const sets = await policies.forTenant(tenantId);
    return {
      active: { ...view(sets.active), isDefault: sets.isDefault },
      shadow: sets.shadow ? view(sets.shadow) : null,
      version: sets.version,
      ...(sets.changedAt ? { changedAt: sets.changedAt } : {}),
      ...(sets.changedBy ? { changedBy: sets.changedBy } : {}),
      schema: SCHEMA_TEXT,
    };
  };

  api.get(
    '/v1/admin/policies',
    { schema: { querystring: NoQuerySchema, response: { 200: PoliciesViewSchema, ...errors } } },
    async (request) => current(principalOf(request).tenantId),
  );

  api.post(
    '/v1/admin/policies/validate',
    { schema: { querystring: NoQuerySchema, body: PolicyTextSchema, response: { 200: PolicySetViewSchema, ...errors } } },
    async (request) => view(compileOr422(request.body.text)),
  );

  api.put(
    '/v1/admin/policies/active',
    { schema: { querystring: NoQuerySchema, body: PolicyTextSchema, response: { 200: PoliciesViewSchema, ...errors } } },
    async (request, reply) => {
      const principal = principalOf(request);
      if (await idempotency.guard(request, reply, principal, false)) return reply;
      const candidate = compileOr422(request.body.text);
      // An admin cannot lock every admin out: the new set must still let this admin manage.
      const self = lockoutCheck.decide({ active: candidate, shadow: null }, principal, 'admin.manage', {
        type: 'Tenant',
        id: principal.tenantId,
      });
      if (!self.allowed) {
        throw new InvalidPolicyError(
          'This policy set would deny you admin.manage, locking you out of the admin API; keep a permit for admins',
        );
      }
      await audited(request, principal.tenantId, 'policies.active', () => policies.activate(principal.tenantId, request.body.text, principal));
      return reply.send(await current(principal.tenantId));
    },
  );

  api.delete(
    '/v1/admin/policies/active',
    { schema: { querystring: NoQuerySchema, response: { 200: PoliciesViewSchema, ...errors } } },
    async (request, reply) => {
      const principal = principalOf(request);
      if (await idempotency.guard(request, reply, principal, false)) return reply;
      await audited(request, principal.tenantId, 'policies.active', () => policies.resetToDefault(principal.tenantId, principal));
      return reply.send(await current(principal.tenantId));
    },
  );

  api.put(
    '/v1/admin/policies/shadow',
    { schema: { querystring: NoQuerySchema, body: PolicyTextSchema, response: { 200: PoliciesViewSchema, ...errors } } },
    async (request, reply) => {
      const principal = principalOf(request);
      if (await idempotency.guard(request, reply, principal, false)) return reply;
      compileOr422(request.body.text);
      await audited(request, principal.tenantId, 'policies.shadow', () => policies.setShadow(principal.tenantId, request.body.text, principal));
      return reply.send(await current(principal.tenantId));
    },
  );

  api.delete(
    '/v1/admin/policies/shadow',
    { schema: { querystring: NoQuerySchema, response: { 200: PoliciesViewSchema, ...errors } } },
    async (request, reply) => {
      const principal = principalOf(request);
      if (await idempotency.guard(request, reply, principal, false)) return reply;
      await audited(request, principal.tenantId, 'policies.shadow', () => policies.setShadow(principal.tenantId, null, principal));
      return reply.send(await current(principal.tenantId));
    },
  );
}
