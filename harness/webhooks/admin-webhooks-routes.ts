/**
 * Admin API of the tenant's webhook signing secret (admin role: app.ts decides `admin.manage`
 * for all of /v1/admin). `POST /v1/admin/webhooks/secret` makes a new secret and shows it once
 * (a replay with the same Idempotency-Key answers `secret: null`: the key store never holds it);
 * `GET /v1/admin/webhooks` says whether one is set and since when.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { AuditProducer } from '../../protocol/audit/producer.ts';
import { recordAdminChange } from '../audit/admin-change-entry.ts';
import type { Principal } from '../auth/principal.ts';
import { redactSecret, type Idempotency } from '../plugins/idempotency.ts';
import { NoQuerySchema, ProblemSchema } from '../schemas/tasks.ts';
import type { WebhookSecrets } from './webhook-secrets.ts';

export interface AdminWebhookRoutesOptions {
  secrets: WebhookSecrets;
  idempotency: Idempotency;
  audit: AuditProducer;
  principalOf: (request: FastifyRequest) => Principal;
}

const errors = { 400: ProblemSchema, 401: ProblemSchema, 403: ProblemSchema, 503: ProblemSchema };


export async function adminWebhookRoutes(app: FastifyInstance, options: AdminWebhookRoutesOptions): Promise<void> {
  const { secrets, idempotency, audit, principalOf } = options;
  const api = app.withTypeProvider<ZodTypeProvider>();

  api.get(
    '/v1/admin/webhooks',
    {
      schema: {
        querystring: NoQuerySchema,
        response: { 200: z.strictObject({ configured: z.boolean(), rotatedAt: z.string().optional() }), ...errors },
      },
    },
    async (request) => secrets.info(principalOf(request).tenantId),
  );

  api.post(
    '/v1/admin/webhooks/secret',
    {
      schema: {
        querystring: NoQuerySchema,
        // Nothing to send; whatever is sent must be an empty object (mass assignment, API3).
        body: z.strictObject({}).nullish(),
        response: {
          201: z.strictObject({
            /** `whsec_…`: verify deliveries with it. Shown once; null on an idempotent replay. */
            secret: z.string().nullable(),
            rotatedAt: z.string(),
          }),
          ...errors,
        },
      },
    },
    async (request, reply) => {
      const principal = principalOf(request);
      if (await idempotency.guard(request, reply, principal, false, { redact: redactSecret })) return reply;
      await recordAdminChange(audit, request, principal, 'admin.webhook_secret.rotate', {});
      return reply.code(201).send(await secrets.rotate(principal.tenantId));
    },
  );
}
