/**
 * The Airlock client. Every mutating call gets one `Idempotency-Key` per logical call, reused on
 * each retry, so a retry after a dropped connection never creates a second task. Network
 * errors, 429 and 503 are retried up to `maxRetries` times, waiting what `Retry-After` says
 * (else an exponential backoff); other problems throw at once as typed errors.
 */
import { randomUUID } from 'node:crypto';
import { AirlockError, ConnectionError, errorFromProblem, type Problem } from './errors.js';
import type { components, paths } from './schema.js';
import { parseSse, type SseEvent } from './sse.js';

type Json<T> = T extends { content: { 'application/json': infer B } } ? B : never;

export type CreateTaskRequest = Json<paths['/v1/tasks']['post']['requestBody']>;
export type Task = Json<paths['/v1/tasks/{id}']['get']['responses'][200]>;
export type TaskList = Json<paths['/v1/tasks']['get']['responses'][200]>;
export type TaskListQuery = NonNullable<paths['/v1/tasks']['get']['parameters']['query']>;
export type Runtimes = Json<paths['/v1/runtimes']['get']['responses'][200]>;
export type Runtime = CreateTaskRequest['runtime'];
export type TaskStatus = Task['status'];
export type { components, paths };

export const TERMINAL_STATUSES: ReadonlySet<string> = new Set(['succeeded', 'failed', 'timed_out', 'cancelled']);

export interface AirlockOptions {
  /** @defaultValue `process.env.AIRLOCK_API_KEY` */
  apiKey?: string;
  /** @defaultValue `process.env.AIRLOCK_URL`, else `http://127.0.0.1:8080` */
  baseUrl?: string;
  /** Retries of one call on network errors, 429 and 503. @defaultValue 3 */
  maxRetries?: number;
  /** Longest wait between two tries, whatever `Retry-After` says. @defaultValue 30 000 */
  maxRetryDelayMs?: number;
  /** @defaultValue `globalThis.fetch` */
  fetch?: typeof fetch;
}

export interface CallOptions {
  signal?: AbortSignal;
  /** Reuse a key of your own (e.g. to retry across processes); default: a new one per call. */
  idempotencyKey?: string;
}

export interface RunOptions extends Omit<CreateTaskRequest, 'runtime' | 'code' | 'wait'>, CallOptions {
  runtime?: Runtime;
}

interface RequestOptions extends CallOptions {
  body?: unknown;
  query?: Record<string, string | number | boolean | undefined>;
  /** Send an Idempotency-Key (mutating routes). */
  idempotent?: boolean;
  /** Return the raw Response (2xx only) instead of parsed JSON. */
  raw?: boolean;
}

export class Airlock {
  readonly baseUrl: string;
  readonly #apiKey: string;
  readonly #maxRetries: number;
  readonly #maxRetryDelayMs: number;
  readonly #fetch: typeof fetch;

  readonly tasks = {
    /** `POST /v1/tasks`. With `wait` (seconds, ≤ 60) the answer comes when the task ends or the wait runs out. */
    create: (body: CreateTaskRequest, options: CallOptions = {}) =>
      this.request<Task>('POST', '/v1/tasks', { ...options, body, idempotent: true }),
    get: (id: string, options: CallOptions = {}) => this.request<Task>('GET', `/v1/tasks/${enc(id)}`, options),
    list: (query: TaskListQuery = {}, options: CallOptions = {}) =>
      this.request<TaskList>('GET', '/v1/tasks', { ...options, query: query as RequestOptions['query'] }),
    /** `DELETE /v1/tasks/:id`: stops a queued or running task; a finished one comes back unchanged. */
    cancel: (id: string, options: CallOptions = {}) =>
      this.request<Task>('DELETE', `/v1/tasks/${enc(id)}`, { ...options, idempotent: true }),
    /**
     * The task's events until it ends. A dropped stream is resumed with `Last-Event-ID`: no event
     * is missed or repeated.
     */
    events: (id: string, options: { signal?: AbortSignal; lastEventId?: string } = {}) => this.#events(id, options),
    files: {
      /** The bytes of a file the task wrote under /out. */
      read: async (id: string, path: string, options: CallOptions = {}): Promise<Uint8Array> => {
        const res = await this.request<Response>('GET', `/v1/tasks/${enc(id)}/files/${path.split('/').map(enc).join('/')}`, {
          ...options,
          raw: true,
        });
        return new Uint8Array(await res.arrayBuffer());
      },
    },
    /** The task's audit trail in order; `proofs: true` for a bundle verifiable offline. */
    trace: (id: string, options: CallOptions & { proofs?: boolean } = {}) =>
      this.request<unknown>('GET', `/v1/tasks/${enc(id)}/trace`, { ...options, query: { proofs: options.proofs || undefined } }),
  };

  constructor(options: AirlockOptions = {}) {
    const apiKey = options.apiKey ?? process.env['AIRLOCK_API_KEY'];
    if (!apiKey) throw new TypeError('No API key: pass { apiKey } or set AIRLOCK_API_KEY');
    this.#apiKey = apiKey;
    this.baseUrl = (options.baseUrl ?? process.env['AIRLOCK_URL'] ?? 'http://127.0.0.1:8080').replace(/\/+$/, '');
    this.#maxRetries = options.maxRetries ?? 3;
    this.#maxRetryDelayMs = options.maxRetryDelayMs ?? 30_000;
    this.#fetch = options.fetch ?? globalThis.fetch;
  }

  /**
   * Runs code and returns the finished task: creates it (waiting up to 60 s in the request),
   * then follows its events until it ends.
   */
  async run(code: string, options: RunOptions = {}): Promise<Task> {
    const { signal, idempotencyKey, runtime = 'javascript', ...rest } = options;
    const call: CallOptions = { ...(signal ? { signal } : {}), ...(idempotencyKey ? { idempotencyKey } : {}) };
    const task = await this.tasks.create({ ...rest, runtime, code, wait: 60 } as CreateTaskRequest, call);
    if (TERMINAL_STATUSES.has(task.status)) return task;
    const onAbort = () => void this.tasks.cancel(task.id).catch(() => {});
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      for await (const event of this.tasks.events(task.id, signal ? { signal } : {})) {
        if (event.event === 'status' && TERMINAL_STATUSES.has((JSON.parse(event.data) as { status: string }).status)) break;
      }
      return await this.tasks.get(task.id, signal ? { signal } : {});
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
  }

  /** `GET /v1/runtimes`: what you can run here, with limits. */
  runtimes(options: CallOptions = {}): Promise<Runtimes> {
    return this.request<Runtimes>('GET', '/v1/runtimes', options);
  }

  /**
   * Any route of the API (admin, capabilities, audit, …) with the SDK's auth, retries, typed
   * errors and, for `idempotent: true`, one Idempotency-Key for all tries.
   */
  async request<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    const url = new URL(this.baseUrl + path);
    for (const [k, v] of Object.entries(options.query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    const headers: Record<string, string> = { authorization: `Bearer ${this.#apiKey}`, accept: 'application/json, application/problem+json' };
    if (options.body !== undefined) headers['content-type'] = 'application/json';
    if (options.idempotent) headers['idempotency-key'] = `"${options.idempotencyKey ?? randomUUID()}"`;
    const body = options.body === undefined ? undefined : JSON.stringify(options.body);
    for (let attempt = 0; ; attempt++) {
      let res: Response;
      try {
        res = await this.#fetch(url, { method, headers, body, ...(options.signal ? { signal: options.signal } : {}) });
      } catch (err) {
        if (options.signal?.aborted) throw err;
        if (attempt >= this.#maxRetries) throw new ConnectionError(`${method} ${path}: ${(err as Error).message}`, { cause: err });
        await sleep(this.#backoff(attempt, undefined), options.signal);
        continue;
      }
      if (res.ok) {
        if (options.raw) return res as T;
        return (res.status === 204 ? undefined : await res.json()) as T;
      }
      const retryAfterMs = parseRetryAfter(res.headers.get('retry-after'));
      const problem = await readProblem(res);
      if ((res.status === 429 || res.status === 503) && attempt < this.#maxRetries) {
        await sleep(this.#backoff(attempt, retryAfterMs), options.signal);
        continue;
      }
      throw errorFromProblem(res.status, problem, retryAfterMs);
    }
  }

  async *#events(id: string, options: { signal?: AbortSignal; lastEventId?: string }): AsyncGenerator<SseEvent> {
    let lastEventId = options.lastEventId;
    let failures = 0;
    for (;;) {
      let ended = false;
      try {
        const headers: Record<string, string> = { authorization: `Bearer ${this.#apiKey}`, accept: 'text/event-stream' };
        if (lastEventId) headers['last-event-id'] = lastEventId;
        const res = await this.#fetch(`${this.baseUrl}/v1/tasks/${enc(id)}/events`, {
          headers,
          ...(options.signal ? { signal: options.signal } : {}),
        });
        if (!res.ok || !res.body) {
          const problem = await readProblem(res);
          throw errorFromProblem(res.status, problem, parseRetryAfter(res.headers.get('retry-after')));
        }
        for await (const event of parseSse(res.body)) {
          failures = 0;
          if (event.id) lastEventId = event.id;
          if (event.event === 'error') throw errorFromProblem(401, JSON.parse(event.data) as Problem, undefined);
          yield event;
          if (event.event === 'status' && TERMINAL_STATUSES.has((JSON.parse(event.data) as { status: string }).status)) {
            ended = true;
            return;
          }
        }
      } catch (err) {
        if (options.signal?.aborted) throw err;
        const retriable = !(err instanceof AirlockError) || err.status === 429 || err.status === 503 || err.status === 0;
        if (!retriable || failures >= this.#maxRetries) throw err;
      }
      if (ended) return;
      // The stream ended (or dropped) before the task did: resume after the last event seen.
      await sleep(this.#backoff(failures++, undefined), options.signal);
    }
  }

  #backoff(attempt: number, retryAfterMs: number | undefined): number {
    const base = retryAfterMs ?? Math.min(250 * 2 ** attempt, 8000) * (0.5 + Math.random() / 2);
    return Math.min(base, this.#maxRetryDelayMs);
  }
}

const enc = encodeURIComponent;

function parseRetryAfter(value: string | null): number | undefined {
  if (value === null) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

async function readProblem(res: Response): Promise<Problem | undefined> {
  try {
    const body = (await res.json()) as Problem;
    return typeof body?.code === 'string' ? body : undefined;
  } catch {
    return undefined;
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(timer);
      reject(signal.reason);
    }, { once: true });
  });
}
