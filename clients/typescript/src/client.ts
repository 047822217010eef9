/**
 * The Airlock client. Every mutating call gets one `Idempotency-Key` per logical call, reused on
 * each retry, so a retry after a dropped connection never creates a second task. Retried, up to
 * `maxRetries` times, waiting what `Retry-After` says (else an exponential backoff with jitter):
 * 429, 503, a 409 `idempotency_request_in_flight` (the first try with this key is still being
 * answered), and a network error when a retry cannot do the work twice (the call has an
 * Idempotency-Key, or its method is GET/HEAD/OPTIONS/PUT/DELETE, or the connection was never
 * made). Other problems throw at once as typed errors. The Python SDK decides the same way.
 */
import { randomUUID } from 'node:crypto';
import { AirlockError, ConnectionError, errorFromProblem, type Problem } from './errors.js';
import type { components, paths } from './schema.js';
import { parseSse, type SseEvent } from './sse.js';

type Json<T> = T extends { content: { 'application/json': infer B } } ? B : never;

/** HTTP verbs of the API, as the generated `paths` names them. */
export type Verb = 'get' | 'post' | 'put' | 'delete';
/** The operation of `verb` on `path` in the OpenAPI document. */
export type Operation<P extends keyof paths, V extends Verb> = NonNullable<paths[P][V & keyof paths[P]]>;
/** The JSON body an operation takes. */
export type BodyOf<O> = O extends { requestBody?: infer B } ? Json<NonNullable<B>> : never;
/** The query parameters an operation takes. */
export type QueryOf<O> = O extends { parameters: { query?: infer Q } } ? NonNullable<Q> : never;
/** The path parameters an operation takes. */
export type PathParamsOf<O> = O extends { parameters: { path?: infer Q } } ? NonNullable<Q> : never;
type Responses<O> = O extends { responses: infer R } ? R : never;
/** What a successful answer of an operation is (200 or 201 JSON; undefined for 204). */
export type OkOf<O> =
  | Json<Responses<O>[200 & keyof Responses<O>]>
  | Json<Responses<O>[201 & keyof Responses<O>]>
  | (204 extends keyof Responses<O> ? undefined : never);
/** A typed call of any route: its path parameters, query, body and options. */
export interface CallInit<O> extends CallOptions {
  params?: PathParamsOf<O>;
  query?: QueryOf<O>;
  body?: BodyOf<O>;
  /** Send an Idempotency-Key (default: true for POST, PUT and DELETE routes that take one). */
  idempotent?: boolean;
}
type Ok<P extends keyof paths, V extends Verb> = OkOf<Operation<P, V>>;
type Body<P extends keyof paths, V extends Verb> = BodyOf<Operation<P, V>>;
type Query<P extends keyof paths, V extends Verb> = QueryOf<Operation<P, V>>;

export type CreateTaskRequest = Json<paths['/v1/tasks']['post']['requestBody']>;
export type Task = Json<paths['/v1/tasks/{id}']['get']['responses'][200]>;
export type TaskList = Json<paths['/v1/tasks']['get']['responses'][200]>;
export type TaskListQuery = NonNullable<paths['/v1/tasks']['get']['parameters']['query']>;
export type Runtimes = Json<paths['/v1/runtimes']['get']['responses'][200]>;
export type Runtime = CreateTaskRequest['runtime'];
export type TaskStatus = Task['status'];
export type Approval = Ok<'/v1/approvals/{id}', 'get'>;
export type ApprovalList = Ok<'/v1/approvals', 'get'>;
export type CapabilityList = Ok<'/v1/capabilities', 'get'>;
export type Trace = Ok<'/v1/tasks/{id}/trace', 'get'>;
export type AuditPage = Ok<'/v1/audit', 'get'>;
export type AuditVerification = Ok<'/v1/audit/verify', 'get'>;
export type { components, paths };

/** Routes that take no Idempotency-Key although they change something (they are safe to repeat or say so). */
const UNKEYED = new Set(['post /v1/tokens', 'delete /v1/tokens/{jti}', 'post /v1/admin/policies/validate', 'post /mcp']);
/** Methods a retry cannot duplicate even without an Idempotency-Key (the API treats them as idempotent). */
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE']);
/** Error codes of a connection that was never made: nothing reached the server. */
const NOT_CONNECTED = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'UND_ERR_CONNECT_TIMEOUT']);

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
    trace: (id: string, options: CallOptions & { proofs?: boolean } = {}): Promise<Trace> =>
      this.request<Trace>('GET', `/v1/tasks/${enc(id)}/trace`, { ...options, query: { proofs: options.proofs || undefined } }),
  };

  /** Approval requests (users with the approver or admin role, with their own unscoped key). */
  readonly approvals = {
    list: (query: Query<'/v1/approvals', 'get'> = {}, o: CallOptions = {}) => this.call('get', '/v1/approvals', { ...o, query }),
    get: (id: string, o: CallOptions = {}) => this.call('get', '/v1/approvals/{id}', { ...o, params: { id } }),
    approve: (id: string, body: Body<'/v1/approvals/{id}/approve', 'post'> = {}, o: CallOptions = {}) =>
      this.call('post', '/v1/approvals/{id}/approve', { ...o, params: { id }, body }),
    deny: (id: string, body: Body<'/v1/approvals/{id}/deny', 'post'> = {}, o: CallOptions = {}) =>
      this.call('post', '/v1/approvals/{id}/deny', { ...o, params: { id }, body }),
  };

  /** The capabilities the caller may call from code. */
  readonly capabilities = {
    list: (o: CallOptions = {}) => this.call('get', '/v1/capabilities', o),
    /** TypeScript declarations of `caps.*` for the caller's capabilities (text). */
    declarations: async (o: CallOptions = {}): Promise<string> =>
      (await this.request<Response>('GET', '/v1/capabilities.d.ts', { ...o, raw: true })).text(),
  };

  /** The tamper-evident audit log (admins and auditors), and a task's trace via `tasks.trace`. */
  readonly audit = {
    list: (query: Query<'/v1/audit', 'get'> = {}, o: CallOptions = {}) => this.call('get', '/v1/audit', { ...o, query }),
    checkpoint: (o: CallOptions = {}) => this.call('get', '/v1/audit/checkpoint', o),
    publicKey: (o: CallOptions = {}) => this.call('get', '/v1/audit/public-key', o),
    consistency: (query: Query<'/v1/audit/consistency', 'get'>, o: CallOptions = {}) => this.call('get', '/v1/audit/consistency', { ...o, query }),
    /** Re-walks the tenant's log on the server. */
    verify: (o: CallOptions = {}) => this.call('get', '/v1/audit/verify', o),
  };

  /** Short-lived tokens from an API key. */
  readonly tokens = {
    create: (body: Body<'/v1/tokens', 'post'>, o: CallOptions = {}) => this.call('post', '/v1/tokens', { ...o, body }),
    revoke: (jti: string, o: CallOptions = {}) => this.call('delete', '/v1/tokens/{jti}', { ...o, params: { jti } }),
  };

  /** The admin API (admin role). */
  readonly admin = {
    tenants: {
      create: (body: Body<'/v1/admin/tenants', 'post'>, o: CallOptions = {}) => this.call('post', '/v1/admin/tenants', { ...o, body }),
    },
    agents: {
      list: (query: Query<'/v1/admin/agents', 'get'> = {}, o: CallOptions = {}) => this.call('get', '/v1/admin/agents', { ...o, query }),
      create: (body: Body<'/v1/admin/agents', 'post'>, o: CallOptions = {}) => this.call('post', '/v1/admin/agents', { ...o, body }),
      get: (id: string, o: CallOptions = {}) => this.call('get', '/v1/admin/agents/{id}', { ...o, params: { id } }),
      disable: (id: string, o: CallOptions = {}) => this.call('post', '/v1/admin/agents/{id}/disable', { ...o, params: { id } }),
      keys: {
        list: (id: string, o: CallOptions = {}) => this.call('get', '/v1/admin/agents/{id}/keys', { ...o, params: { id } }),
        create: (id: string, body: Body<'/v1/admin/agents/{id}/keys', 'post'> = {}, o: CallOptions = {}) =>
          this.call('post', '/v1/admin/agents/{id}/keys', { ...o, params: { id }, body }),
      },
    },
    users: {
      list: (query: Query<'/v1/admin/users', 'get'> = {}, o: CallOptions = {}) => this.call('get', '/v1/admin/users', { ...o, query }),
      create: (body: Body<'/v1/admin/users', 'post'>, o: CallOptions = {}) => this.call('post', '/v1/admin/users', { ...o, body }),
      get: (id: string, o: CallOptions = {}) => this.call('get', '/v1/admin/users/{id}', { ...o, params: { id } }),
      disable: (id: string, o: CallOptions = {}) => this.call('post', '/v1/admin/users/{id}/disable', { ...o, params: { id } }),
      keys: {
        list: (id: string, o: CallOptions = {}) => this.call('get', '/v1/admin/users/{id}/keys', { ...o, params: { id } }),
        create: (id: string, body: Body<'/v1/admin/users/{id}/keys', 'post'> = {}, o: CallOptions = {}) =>
          this.call('post', '/v1/admin/users/{id}/keys', { ...o, params: { id }, body }),
      },
    },
    keys: {
      revoke: (keyId: string, o: CallOptions = {}) => this.call('delete', '/v1/admin/keys/{keyId}', { ...o, params: { keyId } }),
    },
    capabilities: {
      list: (o: CallOptions = {}) => this.call('get', '/v1/admin/capabilities', o),
      get: (name: string, o: CallOptions = {}) => this.call('get', '/v1/admin/capabilities/{name}', { ...o, params: { name } }),
      put: (name: string, body: Body<'/v1/admin/capabilities/{name}', 'put'>, o: CallOptions = {}) =>
        this.call('put', '/v1/admin/capabilities/{name}', { ...o, params: { name }, body }),
      delete: (name: string, o: CallOptions = {}) => this.call('delete', '/v1/admin/capabilities/{name}', { ...o, params: { name } }),
    },
    credentials: {
      list: (o: CallOptions = {}) => this.call('get', '/v1/admin/credentials', o),
      get: (name: string, o: CallOptions = {}) => this.call('get', '/v1/admin/credentials/{name}', { ...o, params: { name } }),
      put: (name: string, body: Body<'/v1/admin/credentials/{name}', 'put'>, o: CallOptions = {}) =>
        this.call('put', '/v1/admin/credentials/{name}', { ...o, params: { name }, body }),
      delete: (name: string, o: CallOptions = {}) => this.call('delete', '/v1/admin/credentials/{name}', { ...o, params: { name } }),
    },
    grants: {
      list: (o: CallOptions = {}) => this.call('get', '/v1/admin/grants', o),
      get: (name: string, o: CallOptions = {}) => this.call('get', '/v1/admin/grants/{name}', { ...o, params: { name } }),
      put: (name: string, body: Body<'/v1/admin/grants/{name}', 'put'>, o: CallOptions = {}) =>
        this.call('put', '/v1/admin/grants/{name}', { ...o, params: { name }, body }),
      delete: (name: string, o: CallOptions = {}) => this.call('delete', '/v1/admin/grants/{name}', { ...o, params: { name } }),
    },
    policies: {
      get: (o: CallOptions = {}) => this.call('get', '/v1/admin/policies', o),
      validate: (body: Body<'/v1/admin/policies/validate', 'post'>, o: CallOptions = {}) =>
        this.call('post', '/v1/admin/policies/validate', { ...o, body }),
      activate: (body: Body<'/v1/admin/policies/active', 'put'>, o: CallOptions = {}) => this.call('put', '/v1/admin/policies/active', { ...o, body }),
      deactivate: (o: CallOptions = {}) => this.call('delete', '/v1/admin/policies/active', o),
      shadow: (body: Body<'/v1/admin/policies/shadow', 'put'>, o: CallOptions = {}) => this.call('put', '/v1/admin/policies/shadow', { ...o, body }),
      clearShadow: (o: CallOptions = {}) => this.call('delete', '/v1/admin/policies/shadow', o),
    },
    limits: {
      get: (o: CallOptions = {}) => this.call('get', '/v1/admin/limits', o),
      put: (body: Body<'/v1/admin/limits', 'put'>, o: CallOptions = {}) => this.call('put', '/v1/admin/limits', { ...o, body }),
    },
    storage: {
      get: (o: CallOptions = {}) => this.call('get', '/v1/admin/storage', o),
      tenant: (tenantId: string, o: CallOptions = {}) => this.call('get', '/v1/admin/storage/tenants/{tenantId}', { ...o, params: { tenantId } }),
      setTenantQuota: (tenantId: string, body: Body<'/v1/admin/storage/tenants/{tenantId}', 'put'>, o: CallOptions = {}) =>
        this.call('put', '/v1/admin/storage/tenants/{tenantId}', { ...o, params: { tenantId }, body }),
    },
    webhooks: {
      get: (o: CallOptions = {}) => this.call('get', '/v1/admin/webhooks', o),
      /** Makes (or rotates) the tenant's signing secret; the answer shows it once. */
      rotateSecret: (o: CallOptions = {}) => this.call('post', '/v1/admin/webhooks/secret', o),
    },
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
   * Any route of the OpenAPI document, typed from it: `call('get', '/v1/admin/agents/{id}',
   * { params: { id } })`. POST, PUT and DELETE routes that take an Idempotency-Key get one per
   * call, reused on every retry.
   */
  call<P extends keyof paths, V extends Verb>(verb: V, path: P, init: CallInit<Operation<P, V>> = {}): Promise<OkOf<Operation<P, V>>> {
    const { params, query, body, idempotent, ...options } = init;
    const url = (path as string).replace(/\{([^}]+)\}/g, (_, name: string) => {
      const value = (params as Record<string, string> | undefined)?.[name];
      if (value === undefined) throw new TypeError(`${String(path)}: no value for {${name}}`);
      return enc(String(value));
    });
    return this.request(verb.toUpperCase(), url, {
      ...options,
      ...(query === undefined ? {} : { query: query as RequestOptions['query'] }),
      ...(body === undefined ? {} : { body }),
      idempotent: idempotent ?? (verb !== 'get' && !UNKEYED.has(`${verb} ${String(path)}`)),
    });
  }

  /**
   * Any route of the API, untyped, with the SDK's auth, retries, typed errors and, for
   * `idempotent: true`, one Idempotency-Key for all tries. Prefer the typed methods or {@link call}.
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
        const retriable = options.idempotent || SAFE_METHODS.has(method.toUpperCase()) || neverConnected(err);
        if (attempt >= this.#maxRetries || !retriable) {
          throw new ConnectionError(`${method} ${path}: ${(err as Error).message}`, { cause: err });
        }
        await sleep(this.#backoff(attempt, undefined), options.signal);
        continue;
      }
      if (res.ok) {
        if (options.raw) return res as T;
        return (res.status === 204 ? undefined : await res.json()) as T;
      }
      const retryAfterMs = parseRetryAfter(res.headers.get('retry-after'));
      const problem = await readProblem(res);
      const inFlight = res.status === 409 && problem?.code === 'idempotency_request_in_flight';
      if ((res.status === 429 || res.status === 503 || inFlight) && attempt < this.#maxRetries) {
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

/** A fetch failure before any byte was sent (undici puts the system error in `cause`). */
function neverConnected(err: unknown): boolean {
  const code = (err as { cause?: { code?: unknown } } | null)?.cause?.code;
  return typeof code === 'string' && NOT_CONNECTED.has(code);
}

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
