/**
 * OpenTelemetry traces, shared by the harness and the runner. The code everywhere uses only the
 * API (`@opentelemetry/api`): without an SDK it is a no-op — spans are non-recording, nothing is
 * propagated, nothing is exported, and the hooks that would carry a context (harness HTTP spans)
 * are not even installed. The SDK is started by {@link startTracing}, and only when the operator
 * names an OTLP endpoint (`OTEL_EXPORTER_OTLP_ENDPOINT` or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`):
 * spans then go over OTLP/HTTP (JSON) in batches, and the W3C `traceparent` carries the context
 * from the harness's HTTP request through the job payload to the runner, and from the runner's
 * capability calls to the broker and on to the capability's target.
 *
 * The standard OTEL_* variables apply (the exporter reads OTEL_EXPORTER_OTLP_HEADERS,
 * OTEL_EXPORTER_OTLP_TIMEOUT…; OTEL_SERVICE_NAME overrides the service name; OTEL_TRACES_SAMPLER
 * picks the sampler). OTEL_SDK_DISABLED=true keeps the SDK off even with an endpoint.
 */
import {
  context,
  INVALID_SPAN_CONTEXT,
  propagation,
  ROOT_CONTEXT,
  SpanStatusCode,
  trace,
  type Context,
  type Span,
  type SpanOptions,
} from '@opentelemetry/api';

/** The tracer every Airlock span comes from (a no-op one until the SDK is started). */
export const tracer = () => trace.getTracer('airlock');

/** W3C trace context: `00-<32 hex trace id>-<16 hex span id>-<2 hex flags>`. */
export const TRACEPARENT_PATTERN = /^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/;

let enabled = false;

/** What {@link inSpan} hands `fn` while tracing is off: records nothing. */
const NOOP_SPAN: Span = trace.wrapSpanContext(INVALID_SPAN_CONTEXT);

/** Whether this process exports traces (startTracing ran with an endpoint). */
export function tracingEnabled(): boolean {
  return enabled;
}

export interface Tracing {
  /** Exports what is buffered, then stops the SDK. */
  shutdown(): Promise<void>;
}

/** Whether `env` names an OTLP endpoint for traces (and does not disable the SDK). */
export function tracingConfigured(env: NodeJS.ProcessEnv = process.env): boolean {
  if (env['OTEL_SDK_DISABLED']?.toLowerCase() === 'true') return false;
  return Boolean(env['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT'] || env['OTEL_EXPORTER_OTLP_ENDPOINT']);
}

/**
 * Starts the SDK when {@link tracingConfigured}; else does nothing and returns null (the SDK's
 * modules are not even loaded). Call once per process, before the app or runner is built.
 */
export async function startTracing(serviceName: string, env: NodeJS.ProcessEnv = process.env): Promise<Tracing | null> {
  if (!tracingConfigured(env)) return null;
  const [{ NodeTracerProvider, BatchSpanProcessor }, { OTLPTraceExporter }, { resourceFromAttributes }] = await Promise.all([
    import('@opentelemetry/sdk-trace-node'),
    import('@opentelemetry/exporter-trace-otlp-http'),
    import('@opentelemetry/resources'),
  ]);
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ 'service.name': env['OTEL_SERVICE_NAME'] || serviceName }),
    // The exporter reads the OTEL_EXPORTER_OTLP_* variables itself (endpoint + /v1/traces).
    spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter())],
  });
  // W3C trace context and baggage propagators, and the AsyncLocalStorage context manager.
  provider.register();
  enabled = true;
  return {
    async shutdown() {
      enabled = false;
      await provider.shutdown();
      trace.disable();
      context.disable();
      propagation.disable();
    },
  };
}

/** The `traceparent` of `ctx` (the active context by default), or undefined when there is none. */
export function traceparentOf(ctx: Context = context.active()): string | undefined {
  if (!enabled) return undefined;
  const carrier: Record<string, string> = {};
  propagation.inject(ctx, carrier);
  const tp = carrier['traceparent'];
  return tp && TRACEPARENT_PATTERN.test(tp) ? tp : undefined;
}

/** The context a `traceparent` names (the root context when it is absent or malformed). */
export function contextOf(traceparent: string | undefined): Context {
  if (!enabled || !traceparent || !TRACEPARENT_PATTERN.test(traceparent)) return ROOT_CONTEXT;
  return propagation.extract(ROOT_CONTEXT, { traceparent });
}

/** The trace id of the active span, if a recording trace is active (for audit entries and logs). */
export function currentTraceId(ctx: Context = context.active()): string | undefined {
  if (!enabled) return undefined;
  const sc = trace.getSpanContext(ctx);
  return sc && trace.isSpanContextValid(sc) ? sc.traceId : undefined;
}

/**
 * Runs `fn` in a new span (child of `parent`, the active context by default), ending it when
 * `fn` settles; an exception marks the span as an error and is rethrown.
 */
export async function inSpan<T>(
  name: string,
  options: SpanOptions,
  fn: (span: Span) => Promise<T>,
  parent: Context = context.active(),
): Promise<T> {
  if (!enabled) return fn(NOOP_SPAN);
  const span = tracer().startSpan(name, options, parent);
  try {
    return await context.with(trace.setSpan(parent, span), () => fn(span));
  } catch (err) {
    span.recordException(err as Error);
    span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error).message });
    throw err;
  } finally {
    span.end();
  }
}
