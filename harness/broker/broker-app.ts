/**
 * The broker's own HTTP listener (BROKER_HOST:BROKER_PORT): `POST /v1/broker/calls`, for
 * runners only. It shares nothing with the agent API's security path: an API key or a task
 * token is refused here like any string that is not the live broker token of the task attempt
 * the call names. Answers are HTTP 200 with a BrokerCallResult (protocol/capability.ts); 400 for
 * a body that does not follow the protocol, 401 for a refused token (recorded in the audit log).
 */
import Fastify, { LogController, type FastifyInstance } from 'fastify';
import { BrokerCallRequestSchema } from '../../protocol/capability.ts';
import type { HarnessMetrics } from '../metrics/harness-metrics.ts';
import { registerHttpTracing } from '../telemetry/http-tracing.ts';
import { handleCall, type BrokerDeps } from './broker-call.ts';

export interface BrokerAppOptions {
  /** Counts answered calls (the harness's metrics). */
  metrics?: HarnessMetrics;
  /** Largest call body (the runner caps inputs at 1 MiB of JSON). @defaultValue 1 MiB + 64 KiB */
  bodyLimit?: number;
  logger?: boolean | { level: string };
  problemBaseUrl: string;
}

export async function buildBrokerApp(deps: Omit<BrokerDeps, 'log'>, options: BrokerAppOptions): Promise<FastifyInstance> {
  const app = Fastify({
    logger: options.logger ?? false,
    // No "incoming request"/"request completed" lines: every call is an audit entry and a metric
    // already, and two synchronous log writes per call would cost each call a good part of what
    // the broker itself costs. Errors are still logged.
    // (Through a LogController: the top-level `disableRequestLogging` is deprecated, FSTDEP023.)
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: options.bodyLimit ?? 1024 * 1024 + 64 * 1024,
    genReqId: () => crypto.randomUUID(),
    return503OnClosing: true,
  });
  // The runner's `traceparent` (traces on): each call is a span of the task's trace.
  registerHttpTracing(app, { continueTrace: true });
  const full: BrokerDeps = { ...deps, log: app.log };
  const problem = (status: number, code: string, title: string, detail: string) => ({
    type: `${options.problemBaseUrl}${code}`, title, status, code, detail,
  });

  app.post('/v1/broker/calls', async (request, reply) => {
    const parsed = BrokerCallRequestSchema.safeParse(request.body);
    if (!parsed.success) {
      return reply.code(400).type('application/problem+json').send(problem(400, 'invalid_request', 'The request is not valid', 'The body is not a broker call (protocol v1)'));
    }
    request.otel?.span.setAttributes({ 'airlock.capability': parsed.data.name, 'airlock.task.id': parsed.data.taskId, 'airlock.call.seq': parsed.data.seq });
    const abort = new AbortController();
    // The runner closes the request when the task is cancelled or ends: abort the call.
    reply.raw.on('close', () => {
      if (!reply.raw.writableFinished) abort.abort();
    });
    const answer = await handleCall(full, parsed.data, request.headers.authorization, abort.signal);
    // A name only a task that declared it can use becomes a label (never one any caller picks).
    const count = () =>
      options.metrics?.capabilityCall(
        answer.status === 200 && answer.declared ? parsed.data.name : answer.status === 200 ? 'undeclared' : 'unauthorized',
        answer.status === 200 ? (answer.body.ok ? 'success' : answer.body.error.code) : 'unauthorized',
        reply.elapsedTime / 1000,
      );
    if (answer.status === 401) {
      count();
      return reply
        .code(401)
        .type('application/problem+json')
        .send(problem(401, 'unauthorized', 'Missing or invalid credentials', 'Only the broker token of a running task attempt is accepted here'));
    }
    try {
      return reply.code(200).send(answer.body);
    } finally {
      // Right after the answer, in the same turn: the call's record and audit entry are written
      // before any later command of this harness (broker-call.ts, Exactly once).
      answer.settle?.();
      count();
    }
  });
  return app;
}
