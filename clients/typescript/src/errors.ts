/**
 * Errors the SDK throws. An answer that is an RFC 9457 problem becomes an {@link AirlockError}
 * (or a subclass chosen by status) carrying the problem's stable `code`: branch on `code`, not
 * on the message.
 */
export interface Problem {
  type: string;
  title: string;
  status: number;
  code: string;
  detail?: string;
  instance?: string;
  [extension: string]: unknown;
}

export class AirlockError extends Error {
  override readonly name: string = 'AirlockError';
  /** HTTP status (0 when no answer arrived). */
  readonly status: number;
  /** The problem's stable code, e.g. `not_found`, `quota_exceeded`, `policy_denied`. */
  readonly code: string;
  /** The whole problem body, extensions included. */
  readonly problem: Problem | undefined;

  constructor(message: string, status: number, code: string, problem?: Problem) {
    super(message);
    this.status = status;
    this.code = code;
    this.problem = problem;
  }
}

export class BadRequestError extends AirlockError { override readonly name = 'BadRequestError'; }
export class UnauthorizedError extends AirlockError { override readonly name = 'UnauthorizedError'; }
export class ForbiddenError extends AirlockError { override readonly name = 'ForbiddenError'; }
export class NotFoundError extends AirlockError { override readonly name = 'NotFoundError'; }
export class ConflictError extends AirlockError { override readonly name = 'ConflictError'; }

/** 429: a quota is used up. Wait `retryAfterMs` (the SDK already retried up to `maxRetries`). */
export class RateLimitedError extends AirlockError {
  override readonly name = 'RateLimitedError';
  readonly retryAfterMs: number;
  constructor(message: string, problem: Problem | undefined, retryAfterMs: number) {
    super(message, 429, problem?.code ?? 'quota_exceeded', problem);
    this.retryAfterMs = retryAfterMs;
  }
}

/** 503 (Redis, a runner or the audit log unavailable) after the SDK's retries. */
export class UnavailableError extends AirlockError {
  override readonly name = 'UnavailableError';
  readonly retryAfterMs: number | undefined;
  constructor(message: string, problem: Problem | undefined, retryAfterMs?: number) {
    super(message, 503, problem?.code ?? 'temporarily_unavailable', problem);
    this.retryAfterMs = retryAfterMs;
  }
}

/** No answer: the connection failed or dropped (after the SDK's retries). */
export class ConnectionError extends AirlockError {
  override readonly name = 'ConnectionError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, 0, 'connection_failed');
    if (options?.cause !== undefined) Object.defineProperty(this, 'cause', { value: options.cause });
  }
}

/** The error for a problem answer. */
export function errorFromProblem(status: number, problem: Problem | undefined, retryAfterMs: number | undefined): AirlockError {
  const code = problem?.code ?? `http_${status}`;
  const message = problem ? `${problem.title}${problem.detail ? `: ${problem.detail}` : ''} (${code})` : `HTTP ${status}`;
  switch (status) {
    case 400:
    case 413:
    case 415:
    case 422:
      return new BadRequestError(message, status, code, problem);
    case 401:
      return new UnauthorizedError(message, status, code, problem);
    case 403:
      return new ForbiddenError(message, status, code, problem);
    case 404:
      return new NotFoundError(message, status, code, problem);
    case 409:
      return new ConflictError(message, status, code, problem);
    case 429:
      return new RateLimitedError(message, problem, retryAfterMs ?? 1000);
    case 503:
      return new UnavailableError(message, problem, retryAfterMs);
    default:
      return new AirlockError(message, status, code, problem);
  }
}
