/**
 * `GET /metrics` in the Prometheus text format, for the operator's scraper only: it needs
 * `Authorization: Bearer <METRICS_TOKEN>` (compared in constant time). Without METRICS_TOKEN the
 * route answers 404, as if it did not exist. Outside /v1: no tenant credential, rate limit or
 * policy applies, and the scrape itself is not counted in the route metrics it returns.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { NotFoundError, UnauthorizedError } from '../problems.ts';
import type { HarnessMetrics } from './harness-metrics.ts';

const digest = (s: string) => createHash('sha256').update(s).digest();

export function registerMetrics(app: FastifyInstance, metrics: HarnessMetrics, token: string | undefined): void {
  const expected = token === undefined ? null : digest(token);
  app.addHook('onResponse', async (request, reply) => {
    if (request.routeOptions.url !== '/metrics') metrics.observe(request, reply);
  });
  app.get('/metrics', { schema: { hide: true }, logLevel: 'warn' }, async (request, reply) => {
    if (!expected) throw new NotFoundError('Route GET /metrics not found (set METRICS_TOKEN to enable it)');
    const given = /^Bearer (.+)$/.exec(request.headers.authorization ?? '')?.[1];
    if (!given || !timingSafeEqual(digest(given), expected)) {
      throw new UnauthorizedError('Send Authorization: Bearer <METRICS_TOKEN>');
    }
    return reply.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });
}
