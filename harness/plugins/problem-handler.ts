import { randomUUID } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AuditEntryError } from '../../protocol/audit/entry.ts';
import { isAuditUnavailable } from '../../protocol/audit/producer.ts';
import { isResponseSerializationError } from 'fastify-type-provider-zod';
import { PROBLEMS, isProblemCode, type ProblemCode } from '../problems.ts';

export interface ProblemBody {
  type: string;
  title: string;
  status: number;
  detail: string;
  instance: string;
  code: ProblemCode;
  [extension: string]: unknown;
}

/** Maps Fastify's own error codes onto ours. */
const FASTIFY_CODES: Record<string, ProblemCode> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'payload_too_large',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'unsupported_media_type',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'invalid_request',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'invalid_request',
  FST_ERR_CTP_INVALID_JSON_BODY: 'invalid_request',
  FST_ERR_VALIDATION: 'invalid_request',
};

/** The RFC 9457 body of problem `code` for `request` (also sent inside SSE `error` events). */
export function problemBody(
  problemBaseUrl: string,
  request: FastifyRequest,
  code: ProblemCode,
  detail: string,
  extensions: Record<string, unknown> = {},
): ProblemBody {
  const { status, title } = PROBLEMS[code];
  return {
    type: new URL(code, problemBaseUrl).href,
    title,
    status,
    detail,
    instance: `urn:uuid:${request.id}`,
    code,
    ...extensions,
  };
}

function sendProblem(
  problemBaseUrl: string,
  request: FastifyRequest,
  reply: FastifyReply,
  code: ProblemCode,
  detail: string,
  extensions: Record<string, unknown> = {},
) {
  const body = problemBody(problemBaseUrl, request, code, detail, extensions);
  const { status } = body;
  // RFC 9110 §15.5.2: a 401 MUST say which scheme to use.
  if (status === 401) reply.header('www-authenticate', 'Bearer');
  return reply.code(status).header('content-type', 'application/problem+json').send(body);
}

/**
 * Fastify's `frameworkErrors` option: errors its router raises before any route or error handler
 * runs (a path parameter over the router's length limit, a URL that does not decode). Without it
 * they are answered with Fastify's own JSON (and a 414), not problem+json.
 */
export function frameworkErrorsHandler(problemBaseUrl: string) {
  return (error: FastifyError, request: FastifyRequest, reply: FastifyReply) =>
    sendProblem(
      problemBaseUrl,
      request,
      reply,
      'invalid_request',
      error.code === 'FST_ERR_MAX_PARAM_LENGTH' ? 'A path parameter is too long' : 'The URL is not valid',
    );
}

/**
 * Fastify's `clientErrorHandler` option: requests Node's HTTP parser refuses before there is a
 * request at all (a malformed request line or header, a bad Content-Length or chunk, headers over
 * the size limit, a request that does not arrive in time). Fastify's own answer is plain JSON;
 * this one is problem+json like every other error (found by the raw-HTTP fuzz). The connection
 * is closed after it, as Node does.
 */
export function clientErrorHandler(problemBaseUrl: string) {
  return (error: Error & { code?: string }, socket: Socket): void => {
    // A reset connection is gone: nothing to answer.
    if (error.code === 'ECONNRESET' || socket.destroyed) return;
    const code: ProblemCode =
      error.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 'request_timeout' : error.code === 'HPE_HEADER_OVERFLOW' ? 'headers_too_large' : 'invalid_request';
    const { status, title } = PROBLEMS[code];
    const detail =
      code === 'request_timeout'
        ? 'The request did not arrive in time'
        : code === 'headers_too_large'
          ? 'The request headers are over the size limit'
          : 'The request is not valid HTTP/1.1';
    const body = JSON.stringify({
      type: new URL(code, problemBaseUrl).href,
      title,
      status,
      detail,
      instance: `urn:uuid:${randomUUID()}`,
      code,
    });
    if (socket.writable) {
      socket.write(
        `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/problem+json; charset=utf-8\r\n` +
          `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
      );
    }
    socket.destroy();
  };
}

/** Seconds a client is told to wait (`Retry-After`) while the store is unreachable. */
export const UNAVAILABLE_RETRY_AFTER_SECONDS = 2;

/** Error codes of a connection that failed or is gone (Node's socket errors). */
const CONNECTION_ERROR_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ECONNABORTED', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTCONN']);

/**
 * Whether `error` means the store could not be reached rather than a bug: ioredis's
 * fail-fast errors (the harness's client has no offline queue, see harness/deps.ts), a
 * connection that dropped, or a server that is starting or failing over.
 */
export function isStoreUnavailable(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && CONNECTION_ERROR_CODES.has(code)) return true;
  if (error.name === 'MaxRetriesPerRequestError') return true;
  return /^(Stream isn't writeable|Connection is closed|LOADING|MASTERDOWN|CLUSTERDOWN|TRYAGAIN|READONLY)\b/.test(error.message);
}

export interface ProblemHandlerOptions {
  /**
   * Whether the store is unreachable now: an unexpected error while it is, is answered
   * 503 `temporarily_unavailable` too, not 500. @defaultValue never
   */
  storeDown?: () => boolean;
}

/**
 * Renders every error as RFC 9457 problem+json with our stable `code`. Never a stack trace:
 * unknown errors are logged with the request and answered with a bare 500 — except while the
 * store cannot be reached: 503 `temporarily_unavailable` with `Retry-After`, a retryable state
 * the client can act on. Also makes a body that is not `application/json` a 415 problem on every
 * route (none takes another type).
 */
export function registerProblemHandler(
  app: FastifyInstance,
  problemBaseUrl: string,
  options: ProblemHandlerOptions = {},
): void {
  const send = (
    request: FastifyRequest,
    reply: FastifyReply,
    code: ProblemCode,
    detail: string,
    extensions: Record<string, unknown> = {},
  ) => sendProblem(problemBaseUrl, request, reply, code, detail, extensions);

  // Every route with a body takes JSON only. Fastify also parses text/plain by default, handing
  // the route a string that then failed validation: a 400 "expected object" for what is really
  // a body of the wrong media type. Without that parser, Fastify raises
  // FST_ERR_CTP_INVALID_MEDIA_TYPE for it like for any other type: 415 unsupported_media_type.
  app.removeContentTypeParser('text/plain');

  app.setNotFoundHandler((request, reply) =>
    send(request, reply, 'not_found', `No route for ${request.method} ${request.url.split('?')[0]}`),
  );

  app.setErrorHandler((error: FastifyError, request, reply) => {
    if (error.validation) {
      const where = error.validationContext ?? 'request';
      const errors = error.validation.flatMap((v) => {
        // The zod provider reports the root as "/" (RFC 6901: the member named ""): the root is "".
        const base = `/${where}${v.instancePath === '/' ? '' : (v.instancePath ?? '')}`;
        const detail = v.message ?? 'invalid';
        // Unknown fields (mass assignment): one error per field, pointing at the field itself.
        const keys = (v.params as { keys?: unknown } | undefined)?.keys;
        if (v.keyword === 'unrecognized_keys' && Array.isArray(keys) && keys.length > 0) {
          return keys.map((key) => ({ detail: 'Unknown field', pointer: `${base}/${escapePointer(String(key))}` }));
        }
        return [{ detail, pointer: base }];
      });
      const first = errors[0];
      return send(request, reply, 'invalid_request', `Invalid ${where}: ${first?.pointer} ${first?.detail}`, {
        errors,
      });
    }
    // @fastify/error upper-cases codes (NOT_FOUND); ours are lower snake case.
    const ownCode = error.code?.toLowerCase();
    if (isProblemCode(ownCode)) return send(request, reply, ownCode, error.message, problemExtensionsOf(error));
    const mapped = FASTIFY_CODES[error.code ?? ''];
    if (mapped) return send(request, reply, mapped, error.message);
    if (error instanceof SyntaxError || (error.statusCode === 400 && !isResponseSerializationError(error))) {
      return send(request, reply, 'invalid_request', 'The request body is not valid JSON');
    }
    // The audit entry of a change could not be written (or was refused): the change was not made.
    if (isAuditUnavailable(error) || error instanceof AuditEntryError) {
      request.log.error({ err: error, url: request.url, method: request.method }, 'audit entry could not be written');
      return send(request, reply, 'not_ready', 'The audit log cannot be written right now; nothing was changed');
    }
    if (isStoreUnavailable(error) || options.storeDown?.()) {
      request.log.warn({ err: error, url: request.url, method: request.method }, 'store unavailable');
      reply.header('retry-after', String(UNAVAILABLE_RETRY_AFTER_SECONDS));
      return send(
        request,
        reply,
        'temporarily_unavailable',
        `The service cannot reach its store right now; nothing may have been done. Retry in ${UNAVAILABLE_RETRY_AFTER_SECONDS} s (with the same Idempotency-Key)`,
      );
    }
    request.log.error({ err: error, url: request.url, method: request.method }, 'unhandled error');
    return send(request, reply, 'internal', 'An unexpected error occurred; it has been logged.');
  });
}

/**
 * Extension members (RFC 9457 §3.2) a harness error carries in `problemExtensions`, e.g. the
 * per-policy `errors` of invalid_policy. Only a plain object, and never the standard members.
 */
function problemExtensionsOf(error: FastifyError): Record<string, unknown> {
  const ext = (error as { problemExtensions?: unknown }).problemExtensions;
  if (typeof ext !== 'object' || ext === null || Array.isArray(ext)) return {};
  const reserved = new Set(['type', 'title', 'status', 'detail', 'instance', 'code']);
  return Object.fromEntries(Object.entries(ext).filter(([name]) => !reserved.has(name)));
}

/** Escapes one JSON Pointer reference token (RFC 6901 §3). */
function escapePointer(token: string): string {
  return token.replaceAll('~', '~0').replaceAll('/', '~1');
}
