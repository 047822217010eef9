import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { TaskStore } from '../../protocol/task-store.ts';
import type { Principal } from '../auth/principal.ts';
import { narrow, parseScopes } from '../auth/scopes.ts';
import type { IdentityStore } from '../identity/identity-store.ts';
import { cancelAgentTasks } from '../identity/kill-switch.ts';
import {
  ApiKeyViewSchema,
  AgentViewSchema,
  UserViewSchema,
  toAgentView,
  toKeyView,
  toUserView,
  type PrincipalRecord,
} from '../identity/records.ts';
import { redactSecret, type Idempotency } from '../plugins/idempotency.ts';
import { AlreadyExistsError, ForbiddenError, NotFoundError } from '../problems.ts';
import {
  AgentListSchema,
  AgentParamsSchema,
  CreateAgentBodySchema,
  CreateTenantBodySchema,
  CreateUserBodySchema,
  CreatedTenantSchema,
  DisabledAgentSchema,
  IssueKeyBodySchema,
  IssuedKeySchema,
  KeyListSchema,
  KeyParamsSchema,
  ListQuerySchema,
  UserListSchema,
  UserParamsSchema,
} from '../schemas/identity.ts';
import { ProblemSchema } from '../schemas/tasks.ts';
import type { TaskService } from '../tasks/task-service.ts';

export interface AdminIdentityRoutesOptions {
  identity: IdentityStore;
  tasks: TaskService;
  store: TaskStore;
  idempotency: Idempotency;
  principalOf: (request: FastifyRequest) => Principal;
}

const errors = {
  400: ProblemSchema,
  401: ProblemSchema,
  403: ProblemSchema,
  404: ProblemSchema,
  409: ProblemSchema,
};

/**
 * Body of the routes that take none (disable): absent (null) or `{}`. Any field is refused
 * (400) as on every other write route (API3 mass assignment), never silently ignored.
 */
const NoBodySchema = z.strictObject({}).nullish();


/** Validates a scope list and drops duplicates (400 `invalid_scope` for an unknown entry). */
function checkedScopes(scopes: readonly string[] | undefined): string[] | undefined {
  if (scopes === undefined) return undefined;
  parseScopes(scopes);
  return [...new Set(scopes)];
}

/**
 * Admin API for the caller's tenant: agents, users, API keys (`/v1/admin/agents|users|keys`),
 * and, for the bootstrap admin only, tenants. Admin role only: everyone else gets 403 before
 * the body is looked at; another tenant's object is a 404.
 */
export async function adminIdentityRoutes(
  app: FastifyInstance,
  options: AdminIdentityRoutesOptions,
): Promise<void> {
  const { identity, idempotency } = options;
  const api = app.withTypeProvider<ZodTypeProvider>();
  // Who may use these routes is the `admin.manage` policy, decided for all of /v1/admin in app.ts.
  const admin = (request: FastifyRequest): Principal => options.principalOf(request);
  const claim = (request: FastifyRequest, reply: FastifyReply, secret = false) =>
    idempotency.guard(
      request,
      reply,
      admin(request),
      false,
      secret ? { redact: redactSecret } : {},
    );
  const issue = async (
    owner: PrincipalRecord,
    input: { name?: string | undefined; scopes?: string[] | undefined },
  ) => {
    // A key can only narrow its owner's scopes, never widen them.
    const scopes = input.scopes
      ? narrow(parseScopes(owner.scopes), parseScopes(input.scopes), {
          allowAdmin: owner.roles.includes('admin'),
        })
      : undefined;
    const { record, secret } = await identity.issueKey(owner, { name: input.name, scopes });
    return { key: toKeyView(record), secret };
  };
  const found = <T>(value: T | null, what: string): T => {
    if (value === null) throw new NotFoundError(`${what} not found`);
    return value;
  };

  api.post(
    '/v1/admin/tenants',
    { schema: { body: CreateTenantBodySchema, response: { 201: CreatedTenantSchema, ...errors } } },
    async (request, reply) => {
      if (!admin(request).roles.includes('bootstrap')) {
        throw new ForbiddenError('Only the bootstrap admin creates tenants');
      }
      if (await claim(request, reply, true)) return reply;
      const { id, name } = request.body;
      const tenant = { id, name, createdAt: new Date().toISOString() };
      if (!(await identity.createTenant(tenant)))
        throw new AlreadyExistsError(`Tenant ${id} already exists`);
      const user = await identity.createPrincipal(id, 'user', {
        name: request.body.admin.name,
        roles: ['admin'],
      });
      const { key, secret } = await issue(user, {});
      // Never the key's secret: its id.
      request.auditChange = { target: `tenant:${id}`, before: null, after: { tenant, admin: toUserView(user), keyId: key.id } };
      return reply.code(201).send({ tenant, admin: toUserView(user), key, secret });
    },
  );

  for (const kind of ['agent', 'user'] as const) {
    const plural = `/v1/admin/${kind}s`;
    const Params = kind === 'agent' ? AgentParamsSchema : UserParamsSchema;
    const View = kind === 'agent' ? AgentViewSchema : UserViewSchema;
    const toView = kind === 'agent' ? toAgentView : toUserView;
    const label = kind === 'agent' ? 'Agent' : 'User';
    const get = async (request: FastifyRequest, id: string) =>
      found(await identity.getPrincipal(admin(request).tenantId, kind, id), `${label} ${id}`);

    api.get(
      plural,
      {
        schema: {
          querystring: ListQuerySchema,
          response: { 200: kind === 'agent' ? AgentListSchema : UserListSchema, ...errors },
        },
      },
      async (request) => {
        const { limit, cursor } = request.query;
        const page = await identity.listPrincipals(
          admin(request).tenantId,
          kind,
          limit,
          Number(cursor ?? 0),
        );
        return {
          items: page.items.map(toView),
          nextCursor: page.nextOffset === null ? null : String(page.nextOffset),
        };
      },
    );

    api.get(
      `${plural}/:id`,
      { schema: { params: Params, response: { 200: View, ...errors } } },
      async (request) => toView(await get(request, request.params.id)),
    );

    api.get(
      `${plural}/:id/keys`,
      { schema: { params: Params, response: { 200: KeyListSchema, ...errors } } },
      async (request) => {
        const owner = await get(request, request.params.id);
        return { items: (await identity.listKeys(owner)).map(toKeyView) };
      },
    );

    api.post(
      `${plural}/:id/keys`,
      {
        schema: {
          params: Params,
          body: IssueKeyBodySchema,
          response: { 201: IssuedKeySchema, ...errors },
        },
      },
      async (request, reply) => {
        const owner = await get(request, request.params.id);
        if (owner.disabled) throw new ForbiddenError(`${label} ${owner.id} is disabled`);
        if (await claim(request, reply, true)) return reply;
        const issued = await issue(owner, request.body);
        request.auditChange = { target: `key:${issued.key.id}`, before: null, after: issued.key };
        return reply.code(201).send(issued);
      },
    );
  }

  api.post(
    '/v1/admin/agents',
    { schema: { body: CreateAgentBodySchema, response: { 201: AgentViewSchema, ...errors } } },
    async (request, reply) => {
      const principal = admin(request);
      if (await claim(request, reply)) return reply;
      const scopes = checkedScopes(request.body.scopes);
      const agent = await identity.createPrincipal(principal.tenantId, 'agent', {
        name: request.body.name,
        ...(scopes ? { scopes } : {}),
      });
      request.auditChange = { target: `agent:${agent.id}`, before: null, after: toAgentView(agent) };
      return reply
        .code(201)
        .header('location', `/v1/admin/agents/${agent.id}`)
        .send(toAgentView(agent));
    },
  );

  api.post(
    '/v1/admin/users',
    { schema: { body: CreateUserBodySchema, response: { 201: UserViewSchema, ...errors } } },
    async (request, reply) => {
      const principal = admin(request);
      if (await claim(request, reply)) return reply;
      const scopes = checkedScopes(request.body.scopes);
      const user = await identity.createPrincipal(principal.tenantId, 'user', {
        name: request.body.name,
        roles: [...new Set(request.body.roles)],
        ...(scopes ? { scopes } : {}),
      });
      request.auditChange = { target: `user:${user.id}`, before: null, after: toUserView(user) };
      return reply
        .code(201)
        .header('location', `/v1/admin/users/${user.id}`)
        .send(toUserView(user));
    },
  );

  api.post(
    '/v1/admin/agents/:id/disable',
    { schema: { params: AgentParamsSchema, body: NoBodySchema, response: { 200: DisabledAgentSchema, ...errors } } },
    async (request, reply) => {
      const principal = admin(request);
      if (await claim(request, reply)) return reply;
      const agent = found(
        await identity.disablePrincipal(principal.tenantId, 'agent', request.params.id),
        `Agent ${request.params.id}`,
      );
      // Kill switch: the agent's keys and tokens are refused from now on; its live tasks end.
      const cancelled = await cancelAgentTasks(options, principal.tenantId, agent.id, { principal, request });
      request.auditChange = { target: `agent:${agent.id}`, after: { disabled: true }, details: { killSwitch: true, cancelledTasks: cancelled.slice(0, 200), cancelledCount: cancelled.length } };
      return reply.send({ agent: toAgentView(agent), cancelledTasks: cancelled.length });
    },
  );

  api.post(
    '/v1/admin/users/:id/disable',
    { schema: { params: UserParamsSchema, body: NoBodySchema, response: { 200: UserViewSchema, ...errors } } },
    async (request, reply) => {
      const principal = admin(request);
      if (await claim(request, reply)) return reply;
      const user = found(
        await identity.disablePrincipal(principal.tenantId, 'user', request.params.id),
        `User ${request.params.id}`,
      );
      request.auditChange = { target: `user:${user.id}`, after: { disabled: true } };
      return reply.send(toUserView(user));
    },
  );

  api.delete(
    '/v1/admin/keys/:keyId',
    { schema: { params: KeyParamsSchema, response: { 200: ApiKeyViewSchema, ...errors } } },
    async (request, reply) => {
      const principal = admin(request);
      if (await claim(request, reply)) return reply;
      const key = found(
        await identity.revokeKey(principal.tenantId, request.params.keyId),
        `Key ${request.params.keyId}`,
      );
      request.auditChange = { target: `key:${key.id}`, after: toKeyView(key) };
      return reply.send(toKeyView(key));
    },
  );
}
