import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { TenantStorage } from '../../protocol/storage-usage.ts';
import type { Principal } from '../auth/principal.ts';
import type { Idempotency } from '../plugins/idempotency.ts';
import { ForbiddenError } from '../problems.ts';
import { NoQuerySchema, ProblemSchema } from '../schemas/tasks.ts';

export interface AdminStorageRoutesOptions {
  storage: TenantStorage;
  idempotency: Idempotency;
  principalOf: (request: FastifyRequest) => Principal;
}

const SettingsSchema = z.strictObject({
  /** Bytes the tenant's tasks may store (Redis + blobs); 0 refuses every new task. */
  quotaBytes: z.number().int().min(0).optional(),
  /** How long the tenant's finished tasks are kept (tasks created from now on). */
  retentionMs: z.number().int().min(1000).max(366 * 24 * 3600 * 1000).optional(),
});

const StorageViewSchema = z.strictObject({
  tenantId: z.string(),
  /** In force: the override, else the default (null = unlimited). */
  quotaBytes: z.number().int().nullable(),
  retentionMs: z.number().int(),
  overrides: SettingsSchema,
  defaults: z.strictObject({ quotaBytes: z.number().int().nullable(), retentionMs: z.number().int() }),
  usage: z.strictObject({
    redisBytes: z.number().int(),
    blobBytes: z.number().int(),
    totalBytes: z.number().int(),
    tasks: z.number().int(),
  }),
});
type StorageView = z.infer<typeof StorageViewSchema>;

const TenantParamsSchema = z.strictObject({ tenantId: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/) });
const errors = { 400: ProblemSchema, 401: ProblemSchema, 403: ProblemSchema };

/**
 * `/v1/admin/storage`: what a tenant stores and its storage quota and retention.
 * - `GET /v1/admin/storage`, `GET /v1/admin/storage/tenants/<own tenant>`: any admin, for their
 *   own tenant.
 * - `GET /v1/admin/storage/tenants/:tenantId` of another tenant, and every `PUT`: the operator
 *   (bootstrap admin) only; anyone else gets the same 403 whether the tenant exists or not. A
 *   tenant's own admins may not change its quota: the quota protects the Redis every tenant
 *   shares, so lifting it is not theirs to decide. PUT replaces the overrides (fields left out
 *   go back to the defaults); a new retention applies to tasks created after it.
 */
export async function adminStorageRoutes(app: FastifyInstance, options: AdminStorageRoutesOptions): Promise<void> {
  const { storage, idempotency } = options;
  const api = app.withTypeProvider<ZodTypeProvider>();
  // Admin role: the `admin.manage` policy, decided for all of /v1/admin in app.ts.
  const operator = (request: FastifyRequest, readOf?: string): Principal => {
    const principal = options.principalOf(request);
    if (readOf === principal.tenantId) return principal;
    if (!principal.roles.includes('bootstrap')) {
      throw new ForbiddenError("Only the operator (bootstrap admin) sets storage settings or reads another tenant's storage");
    }
    return principal;
  };

  const view = async (tenantId: string): Promise<StorageView> => {
    const [overrides, usage] = await Promise.all([storage.settings(tenantId), storage.usage(tenantId)]);
    const { defaults } = storage;
    return {
      tenantId,
      quotaBytes: overrides.quotaBytes ?? defaults.quotaBytes,
      retentionMs: overrides.retentionMs ?? defaults.retentionMs,
      overrides,
      defaults,
      usage: { ...usage, totalBytes: usage.redisBytes + usage.blobBytes },
    };
  };

  api.get(
    '/v1/admin/storage',
    { schema: { querystring: NoQuerySchema, response: { 200: StorageViewSchema, ...errors } } },
    async (request) => view(options.principalOf(request).tenantId),
  );

  api.get(
    '/v1/admin/storage/tenants/:tenantId',
    { schema: { params: TenantParamsSchema, querystring: NoQuerySchema, response: { 200: StorageViewSchema, ...errors } } },
    async (request) => {
      operator(request, request.params.tenantId);
      return view(request.params.tenantId);
    },
  );

  api.put(
    '/v1/admin/storage/tenants/:tenantId',
    {
      schema: {
        params: TenantParamsSchema,
        querystring: NoQuerySchema,
        body: SettingsSchema,
        response: { 200: StorageViewSchema, ...errors },
      },
    },
    async (request, reply) => {
      const principal = operator(request);
      if (await idempotency.guard(request, reply, principal, false)) return reply;
      const before = await view(request.params.tenantId);
      await storage.replaceSettings(request.params.tenantId, request.body);
      const after = await view(request.params.tenantId);
      request.auditChange = {
        target: `storage:${request.params.tenantId}`,
        before: { quotaBytes: before.quotaBytes, retentionMs: before.retentionMs },
        after: { quotaBytes: after.quotaBytes, retentionMs: after.retentionMs },
      };
      return reply.send(after);
    },
  );
}
