import type { FastifyInstance } from 'fastify';
import { InvalidRequestError } from '../problems.ts';

/**
 * RFC 9112 §3.2: an HTTP/1.1 request without a Host header is a 400. Node answers it itself
 * (an empty 400, not problem+json) unless `requireHostHeader` is off, which buildApp sets so that
 * this hook gives the same answer as every other error (found by the raw-HTTP fuzz).
 */
export function registerHostHeaderCheck(app: FastifyInstance): void {
  app.addHook('onRequest', async (request) => {
    if (request.raw.httpVersion === '1.1' && !request.headers.host) {
      throw new InvalidRequestError('An HTTP/1.1 request needs a Host header');
    }
  });
}
