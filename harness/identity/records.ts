import { z } from 'zod';

/** Tenant ids are chosen by the operator: a slug. */
export const TenantIdSchema = z
  .string()
  .regex(/^[A-Za-z0-9_-]{1,64}$/, 'letters, digits, _ and -, at most 64');
/** Ids of store principals are generated: `agt_` / `usr_` + 20 hex digits. */
export const AgentIdSchema = z.string().regex(/^agt_[0-9a-f]{20}$/, 'an agent id (agt_...)');
export const UserIdSchema = z.string().regex(/^usr_[0-9a-f]{20}$/, 'a user id (usr_...)');
export const KeyIdSchema = z.string().regex(/^[0-9a-f]{24}$/, 'a key id (24 hex digits)');
export const NameSchema = z.string().min(1).max(200);
/** `auditor`: reads the tenant's audit log (GET /v1/audit, verify), nothing else. */
export const UserRoleSchema = z.enum(['admin', 'approver', 'member', 'auditor']);
export type UserRole = z.infer<typeof UserRoleSchema>;
/** A scope list as stored (validated by harness/auth/scopes.ts before it is stored). */
export const ScopeListSchema = z.array(z.string().max(100)).max(100);

export const TenantSchema = z.strictObject({
  id: TenantIdSchema,
  name: NameSchema,
  createdAt: z.string(),
});
export type Tenant = z.infer<typeof TenantSchema>;

/** An agent or user as stored in Redis. Agents have no roles. */
export const PrincipalRecordSchema = z.strictObject({
  kind: z.enum(['agent', 'user']),
  id: z.string(),
  tenantId: TenantIdSchema,
  name: NameSchema,
  roles: z.array(UserRoleSchema),
  /** What this principal may do at most; absent = unrestricted (roles and policy decide). */
  scopes: ScopeListSchema.optional(),
  disabled: z.boolean(),
  createdAt: z.string(),
  disabledAt: z.string().optional(),
});
export type PrincipalRecord = z.infer<typeof PrincipalRecordSchema>;

/** An API key as stored: never the secret, only its SHA-256. */
export const ApiKeyRecordSchema = z.strictObject({
  id: KeyIdSchema,
  tenantId: TenantIdSchema,
  ownerKind: z.enum(['agent', 'user']),
  ownerId: z.string(),
  name: NameSchema.optional(),
  scopes: ScopeListSchema.optional(),
  /** SHA-256 (hex) of the whole key string `ak_<id>_<secret>`. */
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  createdAt: z.string(),
  revokedAt: z.string().optional(),
});
export type ApiKeyRecord = z.infer<typeof ApiKeyRecordSchema>;

/** A minted token's owner, kept until it expires so it can be revoked by `jti` within its tenant. */
export const TokenRecordSchema = z.strictObject({
  tenantId: TenantIdSchema,
  /** The agent (task token) or user (user token) it was minted for. */
  ownerKind: z.enum(['agent', 'user']),
  ownerId: z.string(),
  /** Expiry, seconds since the epoch. */
  exp: z.number().int(),
});
export type TokenRecord = z.infer<typeof TokenRecordSchema>;

/* Views: what the admin API shows. */
export const AgentViewSchema = z.strictObject({
  id: z.string(),
  name: NameSchema,
  scopes: ScopeListSchema.optional(),
  disabled: z.boolean(),
  createdAt: z.string(),
  disabledAt: z.string().optional(),
});
export const UserViewSchema = AgentViewSchema.extend({ roles: z.array(UserRoleSchema) });
export const ApiKeyViewSchema = z.strictObject({
  id: KeyIdSchema,
  ownerKind: z.enum(['agent', 'user']),
  ownerId: z.string(),
  name: NameSchema.optional(),
  scopes: ScopeListSchema.optional(),
  createdAt: z.string(),
  revokedAt: z.string().optional(),
  /** First characters of the key (`ak_<id>_`), to recognise it; never the secret. */
  prefix: z.string(),
});

export function toAgentView(r: PrincipalRecord): z.infer<typeof AgentViewSchema> {
  return {
    id: r.id,
    name: r.name,
    ...(r.scopes ? { scopes: r.scopes } : {}),
    disabled: r.disabled,
    createdAt: r.createdAt,
    ...(r.disabledAt ? { disabledAt: r.disabledAt } : {}),
  };
}

export function toUserView(r: PrincipalRecord): z.infer<typeof UserViewSchema> {
  return { ...toAgentView(r), roles: r.roles };
}

export function toKeyView(r: ApiKeyRecord): z.infer<typeof ApiKeyViewSchema> {
  return {
    id: r.id,
    ownerKind: r.ownerKind,
    ownerId: r.ownerId,
    ...(r.name ? { name: r.name } : {}),
    ...(r.scopes ? { scopes: r.scopes } : {}),
    createdAt: r.createdAt,
    ...(r.revokedAt ? { revokedAt: r.revokedAt } : {}),
    prefix: `ak_${r.id}_`,
  };
}
