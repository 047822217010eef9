import { z } from 'zod';

/**
 * Quotas of one principal. Rates are requests per RATE_WINDOW_SECONDS window; `concurrentTasks`
 * caps the agent's tasks that are queued or running at the same time.
 */
export interface Quotas {
  /** GET and HEAD requests per window. */
  readsPerMin: number;
  /** Requests with any other method per window, except task creation. */
  writesPerMin: number;
  /** `POST /v1/tasks` per window. */
  taskCreatesPerMin: number;
  /** Tasks queued or running at once. */
  concurrentTasks: number;
}

/** The fixed window of every rate budget. Quotas are therefore "per minute". */
export const RATE_WINDOW_SECONDS = 60;

/** Upper bounds an override may set (a typo must not disable limiting in practice). */
const RATE_MAX = 1_000_000;
const CONCURRENCY_MAX = 10_000;

/** A partial override of the quotas (tenant, agent or API key level); unknown fields → 400. */
export const QuotaOverrideSchema = z.strictObject({
  readsPerMin: z.number().int().min(0).max(RATE_MAX).optional(),
  writesPerMin: z.number().int().min(0).max(RATE_MAX).optional(),
  taskCreatesPerMin: z.number().int().min(0).max(RATE_MAX).optional(),
  concurrentTasks: z.number().int().min(0).max(CONCURRENCY_MAX).optional(),
});
export type QuotaOverride = z.infer<typeof QuotaOverrideSchema>;

/** Which budget a request draws from. Every authenticated /v1 request is exactly one class. */
export type RequestClass = 'read' | 'write' | 'task-create';

/** GET/HEAD are reads; `POST /v1/tasks` is a task creation; any other method is a write. */
export function classify(method: string, routeUrl: string | undefined): RequestClass {
  if (method === 'GET' || method === 'HEAD') return 'read';
  if (method === 'POST' && routeUrl === '/v1/tasks') return 'task-create';
  return 'write';
}

/** The quota field of each request class. */
export const QUOTA_OF: Record<RequestClass, keyof Omit<Quotas, 'concurrentTasks'>> = {
  read: 'readsPerMin',
  write: 'writesPerMin',
  'task-create': 'taskCreatesPerMin',
};

/**
 * Policy names as they appear in `RateLimit-Policy`/`RateLimit` and `violated-policies`.
 * `agent-*` budgets are per agent (or user), `key-*` per API key, `auth-failures` per client IP.
 */
export const POLICY_NAMES = {
  agent: { read: 'agent-reads', write: 'agent-writes', 'task-create': 'agent-task-creates' },
  key: { read: 'key-reads', write: 'key-writes', 'task-create': 'key-task-creates' },
  concurrency: 'agent-concurrent-tasks',
  authFailures: 'auth-failures',
} as const;

/**
 * Effective quotas: defaults, then the tenant's override, then the agent's (most specific wins
 * field by field). An API key's budget is the agent's effective quotas with the key's override
 * on top.
 */
export function resolveQuotas(defaults: Quotas, ...overrides: (QuotaOverride | null | undefined)[]): Quotas {
  const out = { ...defaults };
  for (const o of overrides) {
    if (!o) continue;
    for (const k of Object.keys(out) as (keyof Quotas)[]) {
      const v = o[k];
      if (v !== undefined) out[k] = v;
    }
  }
  return out;
}
