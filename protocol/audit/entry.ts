/**
 * The audit entry: what producers (harness, runners) append to the transport stream (a draft)
 * and what the sealer writes to a tenant's log (the draft plus `seq`, `producer`, `prevHash` and
 * `hash`). Never a secret, an API key, a token or a credential value; never a task's whole code
 * (its sha256 instead): `buildAuditDraft` refuses entries that look otherwise (secret-guard.ts).
 */
import { z } from 'zod';
import { JsonValueSchema } from '../json-value.ts';
import { isPlainDraft } from './draft-check.ts';
import { findSecret } from './secret-guard.ts';

const Hex64Schema = z.string().regex(/^[0-9a-f]{64}$/);
const IdSchema = z.string().min(1).max(200);

/** Tenant ids as the identity store allows them (a safe path segment). */
export const AuditTenantSchema = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/);
/** Dotted lowercase names: `task.created`, `auth.failed`, `admin.grant.put`. */
export const AuditActionSchema = z.string().max(64).regex(/^[a-z][a-z0-9_]*(?:\.[a-z][a-z0-9_]*)*$/);
export const AuditOutcomeSchema = z.enum(['success', 'failure', 'denied']);
export type AuditOutcome = z.infer<typeof AuditOutcomeSchema>;
/** Producer ids: `p_` + 16 hex (random per process). */
export const ProducerIdSchema = z.string().regex(/^p_[0-9a-f]{16}$/);

const VerdictSchema = z.strictObject({
  allowed: z.boolean(),
  policyIds: z.array(z.string().max(200)).max(100),
  policySetHash: z.string().max(128),
});

/** A policy decision as recorded: the Cedar policy ids and set hash that made it, and the shadow verdict. */
export const AuditDecisionSchema = VerdictSchema.extend({
  action: z.string().max(100),
  resource: z.string().max(300).optional(),
  errors: z.array(z.string().max(500)).max(20).optional(),
  shadow: VerdictSchema.optional(),
});
export type AuditDecision = z.infer<typeof AuditDecisionSchema>;

/** What a producer appends (before sealing). `tenant` absent = the system log. */
export const AuditDraftSchema = z.strictObject({
  time: z.iso.datetime(),
  tenant: AuditTenantSchema.optional(),
  action: AuditActionSchema,
  outcome: AuditOutcomeSchema,
  /** The principal: agent (or user) id, the user acted for, the API key id, the token's jti. */
  agentId: IdSchema.optional(),
  userId: IdSchema.optional(),
  keyId: IdSchema.optional(),
  jti: IdSchema.optional(),
  taskId: IdSchema.optional(),
  /** From the task's metadata (the sealer takes them from the task record when a script copied it). */
  promptSnippet: z.string().max(2000).optional(),
  sessionId: IdSchema.optional(),
  requestId: IdSchema.optional(),
  /** The OpenTelemetry trace the change happened in (32 hex), when traces are exported. */
  traceId: z.string().regex(/^[0-9a-f]{32}$/).optional(),
  decision: AuditDecisionSchema.optional(),
  details: z.record(z.string().max(100), JsonValueSchema).optional(),
});
export type AuditDraft = z.infer<typeof AuditDraftSchema>;
/** What a producer passes in: a draft whose `time` defaults to now. */
export type AuditDraftInput = Omit<AuditDraft, 'time'> & { time?: string };

/** An entry of a sealed log. `producer` is absent on entries the sealer wrote itself (`audit_gap`). */
export const SealedEntrySchema = AuditDraftSchema.extend({
  seq: z.number().int().min(1),
  producer: z.strictObject({ id: ProducerIdSchema, counter: z.number().int().min(1) }).optional(),
  prevHash: Hex64Schema,
  hash: Hex64Schema,
});
export type SealedEntry = z.infer<typeof SealedEntrySchema>;

/** Largest draft, as JSON, a producer may append. */
export const MAX_DRAFT_BYTES = 16 * 1024;

/** Actions the sealer makes durable at once instead of within its fsync interval. */
export function isUrgentAction(action: string): boolean {
  return action.startsWith('admin.') || action.startsWith('token.');
}

export class AuditEntryError extends Error {
  override readonly name = 'AuditEntryError';
}

/**
 * Validates a draft and refuses one that looks like it carries a secret or is too large.
 * `time` defaults to now. Throws AuditEntryError.
 */
export function buildAuditDraft(input: AuditDraftInput): AuditDraft {
  return buildAuditDraftJson(input).draft;
}

/** buildAuditDraft, and the draft's JSON (what a producer appends: made once, for the size check too). */
export function buildAuditDraftJson(input: AuditDraftInput): { draft: AuditDraft; json: string } {
  const candidate = { time: new Date().toISOString(), ...input };
  let draft: AuditDraft;
  // The fast check accepts only what the schema accepts; the schema decides the rest.
  if (isPlainDraft(candidate)) draft = candidate as AuditDraft;
  else {
    const parsed = AuditDraftSchema.safeParse(candidate);
    if (!parsed.success) throw new AuditEntryError(`invalid audit entry: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
    draft = parsed.data;
  }
  const secret = findSecret(draft);
  if (secret) throw new AuditEntryError(`audit entry refused, it may carry a secret (${secret})`);
  const json = JSON.stringify(draft);
  // A UTF-16 unit is at most 3 bytes of UTF-8: most entries need no encoding to know they fit.
  if (json.length * 3 > MAX_DRAFT_BYTES && new TextEncoder().encode(json).length > MAX_DRAFT_BYTES) {
    throw new AuditEntryError(`audit entry larger than ${MAX_DRAFT_BYTES} bytes`);
  }
  return { draft, json };
}

/** Which log an entry goes to: `tenants/<id>`, or `system` for entries without a known tenant. */
export function auditLogId(tenant: string | undefined): string {
  return tenant === undefined ? 'system' : `tenants/${tenant}`;
}

/** The checkpoint origin (and key name) of a log: `<prefix>/tenants/<id>` or `<prefix>/system`. */
export function auditOrigin(originPrefix: string, tenant: string | undefined): string {
  return `${originPrefix}/${auditLogId(tenant)}`;
}
