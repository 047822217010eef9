import { z } from 'zod';
import {
  AgentIdSchema,
  AgentViewSchema,
  ApiKeyViewSchema,
  KeyIdSchema,
  NameSchema,
  ScopeListSchema,
  TenantIdSchema,
  TenantSchema,
  UserIdSchema,
  UserRoleSchema,
  UserViewSchema,
} from '../identity/records.ts';

/* Request and response schemas of the admin identity API and the token endpoint. */

export const CreateAgentBodySchema = z.strictObject({
  name: NameSchema,
  /** The most the agent may ever do; absent = unrestricted (roles and policy decide). */
  scopes: ScopeListSchema.optional(),
});

export const CreateUserBodySchema = z.strictObject({
  name: NameSchema,
  roles: z.array(UserRoleSchema).min(1).max(3).default(['member']),
  scopes: ScopeListSchema.optional(),
});

export const CreateTenantBodySchema = z.strictObject({
  id: TenantIdSchema,
  name: NameSchema,
  /** The tenant's first admin; their API key is in the answer (shown once). */
  admin: z.strictObject({ name: NameSchema }),
});

export const IssueKeyBodySchema = z.strictObject({
  name: NameSchema.optional(),
  /** Narrows the owner's scopes for this key; absent = the owner's scopes. */
  scopes: ScopeListSchema.optional(),
});

export const ListQuerySchema = z.strictObject({
  limit: z.coerce.number().int().min(1).max(100).default(50),
  /** Pass `nextCursor` of the previous page. */
  cursor: z
    .string()
    .regex(/^\d{1,9}$/)
    .optional(),
});

export const AgentParamsSchema = z.strictObject({ id: AgentIdSchema });
export const UserParamsSchema = z.strictObject({ id: UserIdSchema });
export const KeyParamsSchema = z.strictObject({ keyId: KeyIdSchema });

/** A new key. `secret` is the whole key, shown only in this answer (null in an idempotent replay). */
export const IssuedKeySchema = z.strictObject({
  key: ApiKeyViewSchema,
  secret: z.string().nullable(),
});

export const CreatedTenantSchema = z.strictObject({
  tenant: TenantSchema,
  admin: UserViewSchema,
  key: ApiKeyViewSchema,
  secret: z.string().nullable(),
});

export const AgentListSchema = z.strictObject({
  items: z.array(AgentViewSchema),
  nextCursor: z.string().nullable(),
});
export const UserListSchema = z.strictObject({
  items: z.array(UserViewSchema),
  nextCursor: z.string().nullable(),
});
export const KeyListSchema = z.strictObject({ items: z.array(ApiKeyViewSchema) });
export const DisabledAgentSchema = z.strictObject({
  agent: AgentViewSchema,
  /** Queued or running tasks of the agent that were cancelled (kill switch). */
  cancelledTasks: z.number().int().nonnegative(),
});

/** Body of POST /v1/tokens. */
export function tokenRequestBodySchema(maxTtlSeconds: number) {
  return z.strictObject({
    /** Space-separated scopes (RFC 6749 §3.3); must be within the caller's. Absent = all the caller's task scopes. */
    scope: z.string().min(1).max(2000).optional(),
    /** Lifetime; at most TOKEN_MAX_TTL_SECONDS. Absent = TOKEN_DEFAULT_TTL_SECONDS. */
    expiresInSeconds: z.number().int().min(1).max(maxTtlSeconds).optional(),
    /** Agents: a user token (`user+jwt`) to act on behalf of that user (RFC 8693 subject_token). */
    subjectToken: z.string().min(1).max(8192).optional(),
    /** Users: the agent (id) that may act for you with the user token (RFC 8693 `may_act`). */
    mayAct: AgentIdSchema.optional(),
  });
}

export const TokenResponseSchema = z.strictObject({
  token: z.string(),
  tokenType: z.enum(['task+jwt', 'user+jwt']),
  jti: z.string(),
  /** ISO time the token expires. */
  expiresAt: z.string(),
  expiresInSeconds: z.number().int(),
  /** The granted scopes, space-separated: what was asked, narrowed to what the caller (and the user acted for) has. */
  scope: z.string(),
  /** With `subjectToken`: the user the token acts for. */
  actingFor: z.string().optional(),
});

export const TokenParamsSchema = z.strictObject({ jti: z.string().uuid() });
