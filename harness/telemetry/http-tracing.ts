/**
 * One OpenTelemetry SERVER span per HTTP request (`POST /v1/tasks`: the route template, never the
 * raw URL), active while the request's hooks and handler run, so the spans and audit entries
 * they make belong to it. Installed only when this process exports traces
 * (protocol/telemetry/tracing.ts): with tracing off not one hook is added.
 *
 * The agent API starts a new trace per request: a `traceparent` sent by an agent is not trusted
 * (the trace id ends up in audit entries; an agent must not choose it). The broker listener
 * continues the trace the runner's `traceparent` names (runners are the only callers there).
 *
 * The context is entered again before validation and before the handler: a request body is read
 * from the socket, whose events do not run in the context the request started in.
 */
import { context, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Context, type Span } from '@opentelemetry/api';
import type { FastifyInstance, FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify';
import { contextOf, tracer, tracingEnabled } from '../../protocol/telemetry/tracing.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** The request's span and the context it is active in (traces on). */
    otel?: { span: Span; ctx: Context } | undefined;
  }
}

export interface HttpTracingOptions {
  /** Continue the caller's `traceparent` (the broker listener) instead of starting a new trace. */
  continueTrace: boolean;
}

export function registerHttpTracing(app: FastifyInstance, options: HttpTracingOptions): void {
  if (!tracingEnabled()) return;
  app.addHook('onRequest', (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction) => {
    const route = request.routeOptions.url ?? 'unmatched';
    const header = request.headers.traceparent;
    const parent = options.continueTrace && typeof header === 'string' ? contextOf(header) : ROOT_CONTEXT;
    const span = tracer().startSpan(
      `${request.method} ${route}`,
      {
        kind: SpanKind.SERVER,
        attributes: { 'http.request.method': request.method, 'http.route': route, 'airlock.request.id': request.id },
      },
      parent,
    );
    const ctx = trace.setSpan(parent, span);
    request.otel = { span, ctx };
    // The request's later log lines ("request completed", errors) name its trace.
    request.log = request.log.child({ traceId: span.spanContext().traceId });
    reply.log = request.log;
    context.with(ctx, done);
  });
  const reenter = (request: FastifyRequest, _reply: FastifyReply, done: HookHandlerDoneFunction) => {
    if (request.otel) context.with(request.otel.ctx, done);
    else done();
  };
  app.addHook('preValidation', reenter);
  app.addHook('preHandler', reenter);
  app.addHook('onResponse', (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction) => {
    const span = request.otel?.span;
    if (span) {
      span.setAttribute('http.response.status_code', reply.statusCode);
      if (reply.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
      span.end();
      request.otel = undefined;
    }
    done();
  });
  app.addHook('onRequestAbort', (request: FastifyRequest, done: HookHandlerDoneFunction) => {
    request.otel?.span.setStatus({ code: SpanStatusCode.ERROR, message: 'client closed the request' });
    request.otel?.span.end();
    request.otel = undefined;
    done();
  });
}
