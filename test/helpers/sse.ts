/**
 * A minimal Server-Sent Events client for tests: opens a GET on a real listening harness with
 * node:http and parses the SSE wire format as it arrives. Nothing is faked.
 */
import http from 'node:http';

export interface SseEvent<Data = Record<string, unknown>> {
  /** `id:` field ('' when absent). */
  id: string;
  /** `event:` field ('' when absent). */
  event: string;
  data: Data;
}

export interface SseStream<Data = Record<string, unknown>> {
  status: number;
  headers: http.IncomingHttpHeaders;
  /** The next event, or null once the server has ended the stream. */
  next(): Promise<SseEvent<Data> | null>;
  /** Every remaining event, once the server has ended the stream. */
  rest(): Promise<SseEvent<Data>[]>;
  /** Whether the response is over (ended by the server, or its connection lost). */
  readonly ended: boolean;
  /**
   * Whether the connection was lost before the server ended the response (e.g. the harness
   * died): a stream that ends this way did not end because the task did.
   */
  readonly broken: boolean;
  close(): void;
}

/** Opens `path` on 127.0.0.1:`port` with `headers`; resolves once the response head arrived. */
export function openSse<Data = Record<string, unknown>>(
  port: number,
  path: string,
  headers: Record<string, string>,
): Promise<SseStream<Data>> {
  return new Promise((resolve, reject) => {
    const req = http.get(
      { host: '127.0.0.1', port, path, headers: { ...headers, accept: 'text/event-stream' } },
      (res) => {
        const queue: SseEvent<Data>[] = [];
        let ended = false;
        let buffer = '';
        let wake: () => void = () => {};
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          buffer += chunk;
          let cut: number;
          while ((cut = buffer.indexOf('\n\n')) >= 0) {
            const block = buffer.slice(0, cut);
            buffer = buffer.slice(cut + 2);
            const fields: Record<string, string> = {};
            for (const line of block.split('\n')) {
              if (line.startsWith(':')) continue; // comment (heartbeat)
              const i = line.indexOf(': ');
              fields[line.slice(0, i)] = line.slice(i + 2);
            }
            if (fields['data'] === undefined) continue;
            queue.push({
              id: fields['id'] ?? '',
              event: fields['event'] ?? '',
              data: JSON.parse(fields['data']) as Data,
            });
          }
          wake();
        });
        let broken = false;
        res.on('end', () => {
          ended = true;
          wake();
        });
        // A connection lost mid-response: 'close' without a complete message (no 'end').
        res.on('close', () => {
          if (!res.complete) broken = true;
          ended = true;
          wake();
        });
        res.on('error', () => {});
        const next = async (): Promise<SseEvent<Data> | null> => {
          for (;;) {
            const event = queue.shift();
            if (event) return event;
            if (ended) return null;
            await new Promise<void>((r) => (wake = r));
          }
        };
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          next,
          async rest() {
            const out: SseEvent<Data>[] = [];
            for (let e = await next(); e; e = await next()) out.push(e);
            return out;
          },
          get ended() {
            return ended;
          },
          get broken() {
            return broken;
          },
          close: () => req.destroy(),
        });
      },
    );
    req.on('error', reject);
  });
}
