/**
 * Performs one capability call: builds the request (connector template or the built-in
 * `http.request`), injects the credential and the idempotency key, and sends it through the
 * target's circuit breaker and the SSRF guard within the capability's timeout. Returns the
 * answer as the code will see it (before redaction) — never throws.
 */
import { SpanKind } from '@opentelemetry/api';
import type { BrokerCallResult, CapabilityErrorCode } from '../../protocol/capability.ts';
import { inSpan, traceparentOf } from '../../protocol/telemetry/tracing.ts';
import { idempotencyHeaderOf, type Capability } from '../capabilities/definition.ts';
import type { RevealedCredential } from '../vault/credential-store.ts';
import { isBrokenCircuitError, TargetFailure, type CircuitBreakers } from './circuit-breakers.ts';
import { buildConnectorRequest, TemplateInputError } from './connectors/http-connector.ts';
import { buildBuiltinRequest } from './connectors/http-request-builtin.ts';
import { injectCredential } from './connectors/inject-credential.ts';
import { guardedRequest, OutboundRefusedError, ResponseTooLargeError, startFirstHop, type FirstHop, type OutboundAnswer, type OutboundRequest } from './outbound/guarded-request.ts';
import { hostAllowed } from './outbound/host-patterns.ts';
import type { ConnectionPool } from './outbound/connection-pool.ts';
import type { PrivateTarget } from './outbound/private-targets.ts';
import type { Resolver } from './outbound/resolve-target.ts';

export interface ExecuteDeps {
  breakers: CircuitBreakers;
  /** Keep-alive connections per checked target address. */
  pool?: ConnectionPool;
  resolver: Resolver;
  opened: readonly PrivateTarget[];
  maxRequestBytes: number;
  maxResponseBytes: number;
}

export interface Execution {
  result: BrokerCallResult;
  /** HTTP status of the target's (last) answer, when there was one. */
  status?: number;
  /** Time spent on the target, ms. */
  targetMs: number;
  /** The request reached the point of being sent (false: refused while building or guarding). */
  sent: boolean;
}

const fail = (code: CapabilityErrorCode, message: string): BrokerCallResult => ({ ok: false, error: { code, message: message.slice(0, 4000) } });

/**
 * A call made ready to send: its request built (credential and idempotency key in), and its first
 * hop's checks and name resolution under way — or the answer already, when the input does not
 * fit the connector's templates (nothing to send).
 */
export type PreparedCall =
  | { ready: false; failed: Execution }
  | { ready: true; request: OutboundRequest; sensitive: string[]; hopRefused: (url: URL, first: boolean) => string | null; firstHop: FirstHop };

/**
 * Builds the call's request and starts its first hop's checks and resolution (no packet to the
 * target yet). The broker does this while the call's claim is on its way, so the claim's round
 * trip and a DNS lookup overlap instead of following one another.
 */
export function prepareCall(deps: ExecuteDeps, capability: Capability, input: unknown, credential: RevealedCredential | null, callKey: string): PreparedCall {
  const impl = capability.implementation;
  const idempotencyHeader = idempotencyHeaderOf(impl);
  let request: OutboundRequest;
  const sensitive: string[] = [];
  try {
    const reserved = [...(idempotencyHeader ? [idempotencyHeader] : []), ...(credential?.injection.type === 'header' ? [credential.injection.header] : [])];
    request = impl.type === 'http' ? buildConnectorRequest(impl, input) : buildBuiltinRequest(input, reserved);
    if (credential) sensitive.push(...injectCredential(request, credential));
    if (idempotencyHeader) request.headers[idempotencyHeader.toLowerCase()] = callKey;
  } catch (err) {
    if (err instanceof TemplateInputError) return { ready: false, failed: { result: fail('capability_invalid_input', `${capability.name}: ${err.message}`), targetMs: 0, sent: false } };
    throw err;
  }
  const firstOrigin = request.url.origin;
  const hopRefused = (url: URL, first: boolean): string | null => {
    if (impl.type === 'http.request') return hostAllowed(impl.allowedHosts, url) ? null : `${url.host} is not among the capability's allowedHosts`;
    // A connector talks to the origin its admin wrote; redirects elsewhere are refused.
    return first || url.origin === firstOrigin ? null : `the connector only follows redirects within ${firstOrigin}`;
  };
  const firstHop = startFirstHop(request, { resolver: deps.resolver, opened: deps.opened, maxRequestBytes: deps.maxRequestBytes, hopRefused });
  return { ready: true, request, sensitive, hopRefused, firstHop };
}

/** {@link prepareCall} then {@link executePrepared} (the rollback's compensations: nothing to overlap). */
export async function execute(
  deps: ExecuteDeps,
  capability: Capability,
  input: unknown,
  credential: RevealedCredential | null,
  callKey: string,
  abort: AbortSignal,
): Promise<Execution> {
  return executePrepared(deps, capability, prepareCall(deps, capability, input, credential, callKey), abort);
}

/** Sends a prepared call through its target's circuit breaker and the SSRF guard, within the capability's timeout. */
export async function executePrepared(deps: ExecuteDeps, capability: Capability, prepared: PreparedCall, abort: AbortSignal): Promise<Execution> {
  if (!prepared.ready) return prepared.failed;
  const { request, sensitive, hopRefused, firstHop } = prepared;
  const { signal, timedOut, done } = deadline(abort, capability.timeoutMs);
  const started = performance.now();
  let sent = false;
  const elapsed = () => Math.round(performance.now() - started);
  try {
    try {
      const answer = await deps.breakers.run(
        request.url.host,
        async (s) => inSpan(`${capability.name} ${request.url.host}`, {
          kind: SpanKind.CLIENT,
          attributes: { 'airlock.capability': capability.name, 'http.request.method': request.method, 'server.address': request.url.hostname },
        }, async (span) => {
          sent = true;
          // The target sees the call's place in the trace (traces on only).
          const traceparent = traceparentOf();
          if (traceparent) request.headers['traceparent'] = traceparent;
          let a: OutboundAnswer;
          try {
            a = await guardedRequest(request, {
              resolver: deps.resolver,
              opened: deps.opened,
              maxRequestBytes: deps.maxRequestBytes,
              maxResponseBytes: deps.maxResponseBytes,
              signal: s,
              hopRefused,
              firstHop,
              sensitiveHeaders: sensitive,
              ...(deps.pool ? { pool: deps.pool } : {}),
            });
          } catch (err) {
            // The guard's refusals and oversize answers are not the target failing to answer.
            if (err instanceof OutboundRefusedError || err instanceof ResponseTooLargeError || abort.aborted) throw err;
            throw new TargetFailure((err as Error).message, { cause: err });
          }
          span.setAttribute('http.response.status_code', a.status);
          if (a.status >= 500) throw Object.assign(new TargetFailure(`HTTP ${a.status}`), { answer: a });
          return a;
        }),
        signal,
      );
      return { result: toResult(capability, answer), status: answer.status, targetMs: elapsed(), sent: true };
    } catch (err) {
      const targetMs = elapsed();
      const answer = (err as { answer?: OutboundAnswer }).answer;
      if (answer) return { result: toResult(capability, answer), status: answer.status, targetMs, sent: true };
      if (isBrokenCircuitError(err)) {
        return { result: fail('capability_unavailable', `${capability.name}: ${request.url.host} keeps failing; calls to it are paused (open circuit)`), targetMs, sent: false };
      }
      if (err instanceof OutboundRefusedError) return { result: fail('capability_denied', `${capability.name}: ${err.message}`), targetMs, sent: false };
      if (err instanceof ResponseTooLargeError) return { result: fail('capability_failed', `${capability.name}: ${err.message}`), targetMs, sent };
      if (timedOut()) return { result: fail('capability_timeout', `${capability.name}: no answer within ${capability.timeoutMs} ms`), targetMs, sent };
      if (abort.aborted) return { result: fail('capability_unavailable', `${capability.name}: the call was aborted (the task ended or was cancelled)`), targetMs, sent };
      const cause = (err as { cause?: NodeJS.ErrnoException }).cause;
      return { result: fail('capability_failed', `${capability.name}: the target could not be reached (${cause?.code ?? (err as Error).message})`), targetMs, sent };
    }
  } finally {
    done();
  }
}

/**
 * The call's signal: aborted when the runner gives up (`abort`) or after `ms` — what
 * `AbortSignal.any([AbortSignal.timeout(ms), abort])` gives, with one controller and one timer
 * (both cleared by `done`) instead of three signals and a weak timer per call.
 */
function deadline(abort: AbortSignal, ms: number): { signal: AbortSignal; timedOut: () => boolean; done: () => void } {
  const controller = new AbortController();
  let expired = false;
  const timer = setTimeout(() => {
    expired = true;
    controller.abort(new DOMException('The operation was aborted due to timeout', 'TimeoutError'));
  }, ms);
  const onAbort = () => controller.abort(abort.reason);
  if (abort.aborted) onAbort();
  else abort.addEventListener('abort', onAbort, { once: true });
  return {
    signal: controller.signal,
    timedOut: () => expired,
    done: () => {
      clearTimeout(timer);
      abort.removeEventListener('abort', onAbort);
    },
  };
}

function toResult(capability: Capability, answer: OutboundAnswer): BrokerCallResult {
  const text = answer.body.toString('utf8');
  const type = String(answer.headers['content-type'] ?? '');
  if (capability.implementation.type === 'http.request') {
    return {
      ok: true,
      output: { status: answer.status, headers: pickHeaders(answer.headers), body: text },
    };
  }
  if (answer.status >= 300) {
    return fail('capability_failed', `${capability.name}: the target answered HTTP ${answer.status}${text ? `: ${text.slice(0, 500)}` : ''}`);
  }
  if (text.length === 0) return { ok: true, output: null };
  if (/\bjson\b/i.test(type)) {
    try {
      return { ok: true, output: JSON.parse(text) as unknown };
    } catch {
      return fail('capability_failed', `${capability.name}: the target's answer is not the JSON it says it is`);
    }
  }
  return { ok: true, output: text };
}

function pickHeaders(headers: OutboundAnswer['headers']): Record<string, string> {
  const out: Record<string, string> = {};
  for (const h of ['content-type', 'content-length', 'location', 'etag', 'last-modified', 'retry-after']) {
    const v = headers[h];
    if (typeof v === 'string') out[h] = v;
  }
  return out;
}
