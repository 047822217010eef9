/**
 * Capability calls: what sandboxed code, the runner and the harness broker say to each other when
 * code calls `caps.tickets.create({...})`. Keep in sync: the runner's broker client (runner/),
 * the harness broker (harness/broker/) and the in-sandbox clients (runner/isolate-host bootstrap,
 * images/). Versioned (`v1`): a side that gets another version refuses the message.
 *
 * Flow: sandbox → runner (isolate host IPC, or the supervisor's socket in a container) → harness
 * broker (its own listener, only runners reach it) → target. The runner holds no credential of
 * the vault: it authenticates each call with the broker token of the task attempt it runs (a
 * random secret it made when it started the attempt; the task record keeps only its SHA-256, so
 * the token dies with the attempt and no other runner can learn it).
 */
import { z } from 'zod';

/**
 * A capability's name: dot-separated lower-case words, e.g. `tickets.create`, `http.request`.
 * The first word is its namespace (`caps.tickets.create` in code).
 */
export const CapabilityNameSchema = z
  .string()
  .max(128)
  .regex(/^[a-z][a-z0-9_]{0,62}(\.[a-z][a-z0-9_]{0,62})+$/, 'must be dot-separated lower-case words, e.g. tickets.create');
export type CapabilityName = z.infer<typeof CapabilityNameSchema>;

/** How much a capability can change the world; policies and approvals key on it. */
export const CapabilityRiskSchema = z.enum(['read', 'write', 'irreversible']);
export type CapabilityRisk = z.infer<typeof CapabilityRiskSchema>;

/**
 * Why a call did not return an output: a stable code the code can branch on (the error it
 * catches carries it as `code`). Keep in sync with docs/errors.md.
 */
export const CapabilityErrorCodeSchema = z.enum([
  /** Policy refused the call, or the task did not declare the capability. */
  'capability_denied',
  /** The input does not match the capability's input schema. */
  'capability_invalid_input',
  /** The target answered with an error, or its answer does not match the output schema. */
  'capability_failed',
  /** The target did not answer within the capability's timeoutMs. */
  'capability_timeout',
  /** The capability's per-agent rate limit is used up. */
  'capability_rate_limited',
  /** The target keeps failing (open circuit), or the broker cannot be reached. */
  'capability_unavailable',
  /**
   * A retried task reached a call that was started but never settled, on a target that cannot
   * deduplicate it (no idempotency header): it is not run again; a human resolves it.
   */
  'capability_uncertain',
  /** A human denied the approval the call needed. */
  'approval_denied',
  /** Nobody decided the approval before its deadline. */
  'approval_expired',
  /**
   * Broker → runner only, never shown to code: the call waits for a human's decision and the
   * broker stopped holding the request (it holds each about APPROVAL_POLL_MS). The runner sends
   * the same call again (same seq, same key) until it gets any other answer.
   */
  'approval_pending',
]);
export type CapabilityErrorCode = z.infer<typeof CapabilityErrorCodeSchema>;

export const CapabilityErrorSchema = z.strictObject({
  code: CapabilityErrorCodeSchema,
  message: z.string().max(4096),
});
export type CapabilityError = z.infer<typeof CapabilityErrorSchema>;

/**
 * One call, runner → broker: `POST <BROKER_URL>/v1/broker/calls` with
 * `Authorization: Bearer <broker token of this task attempt>`.
 * `seq` numbers the task's calls in the order the code made them (0, 1, …): with `name` and the
 * input's hash it forms the call's exactly-once key, so a retried attempt's calls are answered
 * from their record, and a retry that diverges at a position is told apart.
 */
export const BrokerCallRequestSchema = z.strictObject({
  version: z.literal('v1'),
  taskId: z.uuid(),
  attempt: z.number().int().positive(),
  seq: z.number().int().nonnegative(),
  name: CapabilityNameSchema,
  /** The call's input as the code gave it (JSON); the broker validates it against the schema. */
  input: z.unknown(),
  /**
   * How long the broker may hold this request while the call's approval is pending (capped by
   * its APPROVAL_POLL_MS); 0 = answer `approval_pending` at once. Absent: up to APPROVAL_POLL_MS.
   * The runner sends 0 first, so it learns at once that the call waits for a human and stops
   * the task's wall clock before the broker holds the call.
   */
  approvalWaitMs: z.number().int().min(0).max(3_600_000).optional(),
});
export type BrokerCallRequest = z.infer<typeof BrokerCallRequestSchema>;

/** The broker's answer to one call (HTTP 200 either way; other statuses are transport faults). */
/**
 * Broker → runner only: how long the broker held *this* request waiting for the call's approval
 * decision before it went on (the runner's wall clock stood still meanwhile; what came after —
 * running the call — counts again).
 */
const approvalWaitMs = z.number().nonnegative().optional();
export const BrokerCallResultSchema = z.discriminatedUnion('ok', [
  z.strictObject({
    ok: z.literal(true),
    /** The target's answer (JSON), secrets redacted. */
    output: z.unknown(),
    /** Answered from the record of an earlier attempt's call, not run again. */
    replayed: z.boolean().optional(),
    approvalWaitMs,
  }),
  z.strictObject({ ok: z.literal(false), error: CapabilityErrorSchema, approvalWaitMs }),
]);
export type BrokerCallResult = z.infer<typeof BrokerCallResultSchema>;
