import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { CONFIG_KEY_ID_PREFIX } from '../auth/api-key-authenticator.ts';
import type { Principal } from '../auth/principal.ts';
import { UNRESTRICTED, intersect, narrow, parseScopes, splitScope } from '../auth/scopes.ts';
import type { Config } from '../config.ts';
import type { AuditProducer } from '../../protocol/audit/producer.ts';
import type { IdentityStore } from '../identity/identity-store.ts';
import {
  TASK_TOKEN_TYP,
  USER_TOKEN_TYP,
  type MintedToken,
  type TokenService,
} from '../identity/token-service.ts';
import {
  ForbiddenError,
  InvalidGrantError,
  InvalidRequestError,
  NotFoundError,
  NotReadyError,
} from '../problems.ts';
import {
  TokenParamsSchema,
  TokenResponseSchema,
  tokenRequestBodySchema,
} from '../schemas/identity.ts';
import { ProblemSchema } from '../schemas/tasks.ts';

export interface TokenRoutesOptions {
  config: Config;
  identity: IdentityStore;
  tokens: TokenService;
  audit: AuditProducer;
  principalOf: (request: FastifyRequest) => Principal;
}

const errors = { 400: ProblemSchema, 401: ProblemSchema, 403: ProblemSchema, 404: ProblemSchema };

/**
 * `POST /v1/tokens`: an agent's API key → a task token (`task+jwt`), optionally acting for a
 * user (RFC 8693: `subjectToken` = that user's `user+jwt`, rights = agent ∩ user ∩ requested);
 * a user's API key → a user token naming the one agent that may act for them (`mayAct`).
 * `DELETE /v1/tokens/:jti`: revoke a token (its owner, or an admin of its tenant).
 */
export async function tokenRoutes(
  app: FastifyInstance,
  options: TokenRoutesOptions,
): Promise<void> {
  const { config, identity, tokens, audit, principalOf } = options;
  const api = app.withTypeProvider<ZodTypeProvider>();

  api.post(
    '/v1/tokens',
    {
      schema: {
        body: tokenRequestBodySchema(config.TOKEN_MAX_TTL_SECONDS),
        response: { 200: TokenResponseSchema, ...errors },
      },
    },
    async (request, reply) => {
      const principal = principalOf(request);
      // A token cannot mint tokens: that would extend its own lifetime past what was granted.
      if (principal.tokenId)
        throw new ForbiddenError('Tokens are minted with an API key, not with a token');
      const body = request.body;
      const ttlSeconds = body.expiresInSeconds ?? config.TOKEN_DEFAULT_TTL_SECONDS;
      const requested =
        body.scope === undefined ? UNRESTRICTED : parseScopes(splitScope(body.scope));
      let minted: MintedToken;
      let actingFor: string | undefined;
      if (principal.kind === 'agent') {
        if (body.mayAct !== undefined)
          throw new InvalidRequestError('mayAct is for user tokens; agents send subjectToken');
        let allowed = parseScopes(principal.scopes);
        if (body.subjectToken !== undefined) {
          const subject = await tokens.verifyUserToken(body.subjectToken);
          if (
            !subject ||
            subject.tenantId !== principal.tenantId ||
            subject.mayAct !== principal.id
          ) {
            throw new InvalidGrantError(
              'subjectToken is not a valid, unexpired user token that names you in may_act',
            );
          }
          // Acting for a user: never more than both the agent and the user may do.
          allowed = intersect(allowed, parseScopes(subject.scopes));
          actingFor = subject.userId;
        }
        minted = await tokens.mintTaskToken(principal, {
          scopes: narrow(allowed, requested),
          ttlSeconds,
          actingFor,
        });
      } else {
        if (body.subjectToken !== undefined)
          throw new InvalidRequestError('subjectToken is for agents');
        if (body.mayAct === undefined)
          throw new InvalidRequestError('Name the agent that may act for you in mayAct');
        if (principal.keyId?.startsWith(CONFIG_KEY_ID_PREFIX)) {
          throw new ForbiddenError(
            'Config principals cannot delegate; create a user with the admin API',
          );
        }
        const agent = await identity.getPrincipal(principal.tenantId, 'agent', body.mayAct);
        if (!agent || agent.disabled) throw new NotFoundError(`Agent ${body.mayAct} not found`);
        const scopes = narrow(parseScopes(principal.scopes), requested);
        minted = await tokens.mintUserToken(principal, { scopes, ttlSeconds, mayAct: agent.id });
      }
      const tokenType = principal.kind === 'agent' ? TASK_TOKEN_TYP : USER_TOKEN_TYP;
      // Recorded before the token leaves: if the entry cannot be written, nobody gets the token
      // (it was signed, but a JWT no one holds is no change). Never the token itself: its jti.
      try {
        await audit.append({
          tenant: principal.tenantId,
          action: 'token.minted',
          outcome: 'success',
          agentId: principal.id,
          ...(actingFor ? { userId: actingFor } : {}),
          ...(principal.keyId ? { keyId: principal.keyId } : {}),
          jti: minted.jti,
          requestId: request.id,
          details: { tokenType, scope: minted.scopes.join(' '), expiresAt: new Date(minted.exp * 1000).toISOString(), ...(body.mayAct ? { mayAct: body.mayAct } : {}) },
        });
      } catch (err) {
        request.log.error({ err }, 'audit entry for a minted token could not be written');
        throw new NotReadyError('The audit log cannot be written right now; no token was issued');
      }
      // RFC 6749 §5.1: responses carrying tokens must not be cached.
      return reply.header('cache-control', 'no-store').send({
        token: minted.token,
        tokenType,
        jti: minted.jti,
        expiresAt: new Date(minted.exp * 1000).toISOString(),
        expiresInSeconds: ttlSeconds,
        scope: minted.scopes.join(' '),
        ...(actingFor ? { actingFor } : {}),
      });
    },
  );

  api.delete(
    '/v1/tokens/:jti',
    { schema: { params: TokenParamsSchema, response: { 204: z.null(), ...errors } } },
    async (request, reply) => {
      const principal = principalOf(request);
      const record = await identity.getToken(principal.tenantId, request.params.jti);
      const isOwner = record?.ownerKind === principal.kind && record.ownerId === principal.id;
      const isAdmin =
        principal.roles.includes('admin') &&
        (principal.scopes === undefined || principal.scopes.includes('admin'));
      // Another tenant's token, or someone else's without admin: 404, no existence oracle.
      if (!record || !(isOwner || isAdmin))
        throw new NotFoundError(`Token ${request.params.jti} not found`);
      await identity.revokeToken(request.params.jti, record.exp);
      request.auditChange = { target: `token:${request.params.jti}`, details: { owner: `${record.ownerKind}:${record.ownerId}` } };
      return reply.code(204).send(null);
    },
  );
}
