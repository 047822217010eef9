import type { FastifyInstance } from 'fastify';
import { InvalidRequestError } from '../problems.ts';

/**
 * How deeply a request body's arrays and objects may nest. No route's body comes near it (the
 * deepest, a task with mounts or files, is 3); it exists because code that walks a body
 * recursively (the Idempotency-Key fingerprint, validators, serializers) overflows the stack on
 * a 1 MiB body of `[[[[…]]]]`, which JSON.parse itself accepts. Found by the API fuzz test.
 */
export const MAX_BODY_DEPTH = 64;

/** Depth of the deepest array or object in `value` (0 for a scalar), walked without recursion. */
export function jsonDepth(value: unknown, stopAbove = Infinity): number {
  let deepest = 0;
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length > 0) {
    const [node, depth] = stack.pop()!;
    if (node === null || typeof node !== 'object') continue;
    const here = depth + 1;
    if (here > deepest) deepest = here;
    if (deepest > stopAbove) return deepest;
    for (const child of Array.isArray(node) ? node : Object.values(node)) {
      if (child !== null && typeof child === 'object') stack.push([child, here]);
    }
  }
  return deepest;
}

/**
 * Refuses (400 invalid_request) a body nested deeper than MAX_BODY_DEPTH on every route, before
 * validation and before any handler or plugin walks it.
 */
export function registerBodyDepthLimit(app: FastifyInstance): void {
  app.addHook('preValidation', async (request) => {
    if (request.body !== null && typeof request.body === 'object' && jsonDepth(request.body, MAX_BODY_DEPTH) > MAX_BODY_DEPTH) {
      throw new InvalidRequestError(`The request body nests arrays and objects more than ${MAX_BODY_DEPTH} deep`);
    }
  });
}
