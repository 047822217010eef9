/**
 * One HTTP exchange on an undici dispatcher, its answer collected in memory up to a byte cap:
 * the broker's outbound requests (harness/broker/outbound/guarded-request.ts) and the runner's
 * calls to the broker (runner/broker/broker-client.ts) both go through it. Raw `dispatch` with a
 * handler — no body stream, no promise per request — is lighter per call than `undici.request`
 * or node:http's client.
 *
 * Rejects with `signal`'s reason (an AbortError when it has none that is an Error) once it
 * aborts, with `timeout.error()` after `timeout.ms`, with {@link ResponseTooLargeError} past
 * `maxResponseBytes`, or with what undici reports (a refused or reset connection, a header it
 * cannot send); the exchange is aborted in each case.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { Dispatcher } from 'undici';

export interface CollectedAnswer {
  status: number;
  /** Header names lower-cased. */
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** The answer is larger than the exchange's `maxResponseBytes`. */
export class ResponseTooLargeError extends Error {
  override readonly name = 'ResponseTooLargeError';
}

export function exchangeOn(
  dispatcher: Dispatcher,
  request: Dispatcher.DispatchOptions,
  options: { signal: AbortSignal; maxResponseBytes: number; timeout?: { ms: number; error: () => Error } },
): Promise<CollectedAnswer> {
  const { signal, maxResponseBytes, timeout } = options;
  return new Promise<CollectedAnswer>((resolve, reject) => {
    let controller: Dispatcher.DispatchController | null = null;
    let settled = false;
    const finish = (err: Error | null, answer?: CollectedAnswer) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      if (err) {
        controller?.abort(err);
        reject(err);
      } else {
        resolve(answer as CollectedAnswer);
      }
    };
    const onAbort = () => finish(signal.reason instanceof Error ? signal.reason : abortError());
    const timer = timeout ? setTimeout(() => finish(timeout.error()), timeout.ms) : undefined;
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    let status = 0;
    let headers: IncomingHttpHeaders = {};
    const chunks: Buffer[] = [];
    let bytes = 0;
    try {
      dispatcher.dispatch(request, {
        onRequestStart(c) {
          controller = c;
          if (settled) c.abort(abortError());
        },
        onResponseStart(_c, statusCode, h) {
          // 1xx answers are interim: the final one follows.
          if (statusCode < 200) return;
          status = statusCode;
          headers = lowerCased(h);
        },
        onResponseData(_c, chunk) {
          bytes += chunk.length;
          if (bytes > maxResponseBytes) {
            finish(new ResponseTooLargeError(`the answer is larger than ${maxResponseBytes} bytes`));
            return;
          }
          chunks.push(chunk);
        },
        onResponseEnd() {
          controller = null; // nothing left to abort
          finish(null, { status, headers, body: Buffer.concat(chunks) });
        },
        onResponseError(_c, err) {
          controller = null;
          finish(err);
        },
      });
    } catch (err) {
      finish(err as Error);
    }
  });
}

function abortError(): Error {
  return new DOMException('This operation was aborted', 'AbortError');
}

function lowerCased(h: Record<string, string | string[] | undefined>): IncomingHttpHeaders {
  const out: IncomingHttpHeaders = {};
  for (const [k, v] of Object.entries(h)) out[k.toLowerCase()] = v;
  return out;
}
