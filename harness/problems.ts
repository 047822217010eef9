import createError from '@fastify/error';

/**
 * Every problem the API answers with (RFC 9457). `code` is our stable id, also the last segment
 * of the `type` URI; `title` is constant per type. Keep in sync with docs/problems.md.
 */
export const PROBLEMS = {
  invalid_request: { status: 400, title: 'The request is not valid' },
  idempotency_key_missing: { status: 400, title: 'Idempotency-Key header is required' },
  idempotency_key_invalid: { status: 400, title: 'Idempotency-Key header is not valid' },
  unauthorized: { status: 401, title: 'Missing or invalid credentials' },
  forbidden: { status: 403, title: 'Not allowed' },
  not_found: { status: 404, title: 'Not found' },
  idempotency_request_in_flight: { status: 409, title: 'A request with this Idempotency-Key is in progress' },
  payload_too_large: { status: 413, title: 'Request body too large' },
  unsupported_media_type: { status: 415, title: 'Unsupported media type' },
  idempotency_key_reused: { status: 422, title: 'Idempotency-Key reused with a different request' },
  not_ready: { status: 503, title: 'Service not ready' },
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
export const InvalidRequestError = createError<[string]>('invalid_request', '%s', 400);
export const ForbiddenError = createError<[string]>('forbidden', '%s', 403);
