/**
 * Traces off (no OTEL_EXPORTER_OTLP_ENDPOINT): the SDK is not started, nothing is propagated,
 * no trace id reaches an audit entry or a job payload, and spans cost only a function call.
 * (observability.test.ts covers traces on.)
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { context, trace } from '@opentelemetry/api';
import { AuditProducer } from '../../protocol/audit/producer.ts';
import { JobPayloadSchema } from '../../protocol/job.ts';
import { contextOf, currentTraceId, inSpan, startTracing, traceparentOf, tracingConfigured, tracingEnabled } from '../../protocol/telemetry/tracing.ts';

const TP = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';

test('without an endpoint the SDK does not start and the API stays a no-op', async () => {
  assert.equal(tracingConfigured({}), false);
  assert.equal(tracingConfigured({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318', OTEL_SDK_DISABLED: 'true' }), false);
  assert.equal(tracingConfigured({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://127.0.0.1:4318/v1/traces' }), true);
  assert.equal(await startTracing('airlock-test', {}), null);
  assert.equal(tracingEnabled(), false);
  // No provider registered: the global tracer makes non-recording spans.
  assert.equal(trace.getTracer('x').startSpan('s').isRecording(), false);
  let inside = false;
  const value = await inSpan('s', {}, async (span) => {
    inside = true;
    assert.equal(span.isRecording(), false);
    assert.equal(traceparentOf(), undefined, 'nothing to propagate');
    assert.equal(currentTraceId(), undefined);
    return 42;
  });
  assert.equal(inside && value, 42);
  // A traceparent from elsewhere is not even parsed.
  assert.equal(trace.getSpanContext(contextOf(TP)), undefined);
  assert.equal(context.active(), contextOf(TP));
});

test('audit entries get no trace id; a given one must be 32 hex', () => {
  const producer = new AuditProducer({ redis: null as never });
  const entry = JSON.parse(producer.stamp({ action: 'task.created', outcome: 'success', taskId: 't1' }).fields[5]);
  assert.equal('traceId' in entry, false);
  const given = JSON.parse(producer.stamp({ action: 'task.created', outcome: 'success', traceId: 'a'.repeat(32) }).fields[5]);
  assert.equal(given.traceId, 'a'.repeat(32));
  assert.throws(() => producer.stamp({ action: 'task.created', outcome: 'success', traceId: 'not-a-trace-id' }), /traceId/);
});

test('a job payload takes a W3C traceparent and nothing else in its place', () => {
  const base = { version: 'v1', taskId: crypto.randomUUID(), tenantId: 't', agentId: 'a', runtime: 'javascript', code: '1', limits: { timeoutMs: 1000, cpuMs: 1000, memoryMb: 64, outputBytes: 1024 } };
  assert.equal(JobPayloadSchema.safeParse({ ...base, traceparent: TP }).success, true);
  for (const bad of ['', '01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01', `${TP}\nx`, 'x'.repeat(55)]) {
    assert.equal(JobPayloadSchema.safeParse({ ...base, traceparent: bad }).success, false, bad);
  }
});
