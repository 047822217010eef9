/**
 * Approvals (issue 11): a capability call that Cedar `capabilities.requireApproval` says needs a
 * human does not run until a user with the `approver` (or `admin`) role of the task's tenant
 * decides it. One request per call (its exactly-once key: task, seq, name, input hash), so a
 * resent or retried call finds the same request instead of asking twice.
 *
 * A decision is bound to what it showed: `bindingSha256` = SHA-256 of the canonical JSON (RFC
 * 8785) of `{ capability, input }` with the *whole* input (also the fields shown redacted). The
 * broker runs the call only if the request it finds approved carries the binding of the call in
 * hand; another input is another call key, hence another request.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { canonicalJson } from './audit/canonical-json.ts';
import { CapabilityNameSchema, CapabilityRiskSchema } from './capability.ts';

export const ApprovalStatusSchema = z.enum(['pending', 'approved', 'denied', 'expired', 'cancelled']);
export type ApprovalStatus = z.infer<typeof ApprovalStatusSchema>;
export const APPROVAL_STATUSES = ApprovalStatusSchema.options;

/** What the request shows and binds: fixed when it is created, never changed. */
export const ApprovalRequestSchema = z.strictObject({
  id: z.uuid(),
  tenantId: z.string(),
  taskId: z.uuid(),
  /** The task's owner (an agent, or a user who created the task). */
  agentId: z.string(),
  principalKind: z.enum(['agent', 'user']),
  /** The user the task acts for (RFC 8693 delegation), if any: never its approver. */
  actingFor: z.string().optional(),
  capability: CapabilityNameSchema,
  risk: CapabilityRiskSchema,
  /** Position of the call among the task's calls, and its exactly-once key. */
  seq: z.number().int().nonnegative(),
  callKey: z.string(),
  /** The call's input without the fields its schema marks `"x-airlock-redact": true`. */
  input: z.unknown(),
  /** Names of top-level fields removed from `input` (the approver knows something is hidden). */
  redacted: z.array(z.string()).optional(),
  inputSha256: z.string().regex(/^[0-9a-f]{64}$/),
  bindingSha256: z.string().regex(/^[0-9a-f]{64}$/),
  /** Ids of the policies that asked for approval (empty: the fail-safe default asked). */
  policyIds: z.array(z.string()),
  promptSnippet: z.string().optional(),
  /** The task's code, when the broker could read it (at most 64 KiB; `codeTruncated` past that). */
  code: z.string().optional(),
  codeTruncated: z.boolean().optional(),
  /** Where the task is seen: `/v1/tasks/<id>` (its owner's view). */
  taskUrl: z.string(),
  /**
   * Set when the call is a compensation of the rollback of a task that ended (`seq` and
   * `capability` of the call it undoes; harness/rollback/): the request lives on after its task
   * ended, and the rollback waits for it.
   */
  compensates: z.strictObject({ seq: z.number().int().nonnegative(), capability: CapabilityNameSchema }).optional(),
  createdAt: z.string(),
  deadline: z.string(),
});
export type ApprovalRequest = z.infer<typeof ApprovalRequestSchema>;

/** A request with its state, as the API shows it. */
export const ApprovalSchema = ApprovalRequestSchema.extend({
  status: ApprovalStatusSchema,
  decidedAt: z.string().optional(),
  /** The user who approved or denied (absent for expired and cancelled). */
  decidedBy: z.string().optional(),
  reason: z.string().optional(),
});
export type Approval = z.infer<typeof ApprovalSchema>;

/** SHA-256 (hex) of the canonical JSON of `{ capability, input }`: what a decision is bound to. */
export function approvalBinding(capability: string, input: unknown): string {
  return createHash('sha256').update(canonicalJson({ capability, input: input ?? null })).digest('hex');
}

/** Published on {@link APPROVALS_CHANNEL} when a request leaves `pending`: `<id> <status>`. */
export function approvalNotification(id: string, status: ApprovalStatus): string {
  return `${id} ${status}`;
}

export const APPROVALS_CHANNEL = 'airlock:approvals:decided';

/** Per-tenant keys, all in the tenant's cluster slot (the decide script touches several). */
const tag = (tenantId: string) => `{appr:${tenantId}}`;
export const approvalKeys = {
  /** Hash: `request` (JSON, fixed), `status`, `deadlineMs`, `decidedAt`, `decidedBy`, `reason`. */
  record: (tenantId: string, id: string) => `airlock:approval:${tag(tenantId)}:${id}`,
  /** String: the id of the request of this call key (find-or-create). */
  call: (tenantId: string, callKey: string) => `airlock:approval:${tag(tenantId)}:call:${callKey}`,
  /** Sorted set per status: id by creation time (ms), for the list. */
  byStatus: (tenantId: string, status: ApprovalStatus) => `airlock:approvals:${tag(tenantId)}:${status}`,
  /** Sorted set: id of each pending request by its deadline (ms), for expiry on read. */
  deadlines: (tenantId: string) => `airlock:approvals:${tag(tenantId)}:deadlines`,
  /** Set: ids of a task's requests (cancel with the task). */
  ofTask: (tenantId: string, taskId: string) => `airlock:approvals:${tag(tenantId)}:task:${taskId}`,
} as const;
