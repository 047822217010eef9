import createError from '@fastify/error';

/**
 * Every problem the API answers with (RFC 9457). `code` is our stable id, also the last segment
 * of the `type` URI; `title` is constant per type. Keep in sync with docs/problems.md.
 */
export const PROBLEMS = {
  invalid_request: { status: 400, title: 'The request is not valid' },
  invalid_scope: { status: 400, title: 'The requested scope is not valid or exceeds the credential' },
  invalid_grant: { status: 400, title: 'The subject token is not valid for this exchange' },
  idempotency_key_missing: { status: 400, title: 'Idempotency-Key header is required' },
  idempotency_key_invalid: { status: 400, title: 'Idempotency-Key header is not valid' },
  unauthorized: { status: 401, title: 'Missing or invalid credentials' },
  forbidden: { status: 403, title: 'Not allowed' },
  insufficient_scope: { status: 403, title: 'The credential lacks the scope this request needs' },
  /** Raised as protocol/storage-usage.ts StorageQuotaExceededError (usedBytes, quotaBytes, requiredBytes). */
  storage_quota_exceeded: { status: 403, title: "The tenant's storage quota is used up" },
  not_found: { status: 404, title: 'Not found' },
  /** The request did not arrive in time (Node's requestTimeout / headersTimeout). */
  request_timeout: { status: 408, title: 'The request took too long to arrive' },
  already_exists: { status: 409, title: 'It already exists' },
  idempotency_request_in_flight: { status: 409, title: 'A request with this Idempotency-Key is in progress' },
  /** Sent with `status` (the state it has) and `approval` (the request as it is). */
  approval_not_pending: { status: 409, title: 'The approval request is no longer pending' },
  payload_too_large: { status: 413, title: 'Request body too large' },
  unsupported_media_type: { status: 415, title: 'Unsupported media type' },
  /** The request's header section is over Node's limit (--max-http-header-size, 16 KiB). */
  headers_too_large: { status: 431, title: 'Request header fields too large' },
  idempotency_key_reused: { status: 422, title: 'Idempotency-Key reused with a different request' },
  invalid_policy: { status: 422, title: 'The policy set is not valid' },
  /** Sent by harness/ratelimit with the IANA type `…/http-problem-types#quota-exceeded`, not PROBLEM_BASE_URL. */
  quota_exceeded: { status: 429, title: 'Request quota exceeded' },
  not_ready: { status: 503, title: 'Service not ready' },
  /** No live runner can run the task's runtime now; sent with `Retry-After`, nothing created. */
  runtime_unavailable: { status: 503, title: 'No runner can run this runtime now' },
  /** A store the API needs (Redis) cannot be reached; sent with `Retry-After`. */
  temporarily_unavailable: { status: 503, title: 'The service is temporarily unavailable' },
  internal: { status: 500, title: 'Internal Server Error' },
} as const;
export type ProblemCode = keyof typeof PROBLEMS;

export function isProblemCode(code: unknown): code is ProblemCode {
  return typeof code === 'string' && Object.hasOwn(PROBLEMS, code);
}

/* Errors raised by the harness itself; rendered through PROBLEMS by the error handler. */
export const NotFoundError = createError<[string]>('not_found', '%s', 404);
export const UnauthorizedError = createError<[string]>('unauthorized', '%s', 401);
export const IdempotencyKeyMissingError = createError<[string]>('idempotency_key_missing', '%s', 400);
export const IdempotencyKeyInvalidError = createError<[string]>('idempotency_key_invalid', '%s', 400);
export const IdempotencyKeyReusedError = createError<[string]>('idempotency_key_reused', '%s', 422);
export const IdempotencyInFlightError = createError<[string]>('idempotency_request_in_flight', '%s', 409);
export const NotReadyError = createError<[string]>('not_ready', '%s', 503);
export const RuntimeUnavailableError = createError<[string]>('runtime_unavailable', '%s', 503);
export const InvalidRequestError = createError<[string]>('invalid_request', '%s', 400);
export const ForbiddenError = createError<[string]>('forbidden', '%s', 403);
export const InvalidGrantError = createError<[string]>('invalid_grant', '%s', 400);
export const InvalidScopeError = createError<[string]>('invalid_scope', '%s', 400);
export const InsufficientScopeError = createError<[string]>('insufficient_scope', '%s', 403);
export const ApprovalNotPendingError = createError<[string]>('approval_not_pending', '%s', 409);
export const AlreadyExistsError = createError<[string]>('already_exists', '%s', 409);
export const InvalidPolicyError = createError<[string]>('invalid_policy', '%s', 422);
