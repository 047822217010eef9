import type { FastifyRequest } from 'fastify';
import { RuntimeSchema } from '../../protocol/task.ts';
import { InsufficientScopeError, InvalidScopeError } from '../problems.ts';
import type { Principal } from './principal.ts';

/**
 * Scopes: what a credential may do, as space-separated tokens (RFC 6749 §3.3 syntax).
 *
 * - actions: `tasks:create`, `tasks:read`, `tasks:cancel`, `admin` (the admin API; never in a token)
 * - `runtime:<runtime>`: task creation limited to the listed runtimes
 * - `grant:<name>`: mounts limited to the listed grants
 *
 * A scope list grants only the actions it names. Runtimes and grants are restrictions: a list
 * with no `runtime:` entry leaves runtimes unrestricted (policy and grants still apply), one
 * with `runtime:python` allows python only. `undefined` (an API key without scopes) is
 * unrestricted. Scopes only ever narrow what roles and policy allow; they never grant more.
 */
export const TASK_ACTIONS = ['tasks:create', 'tasks:read', 'tasks:cancel'] as const;
export const ACTIONS = [...TASK_ACTIONS, 'admin'] as const;
type Action = (typeof ACTIONS)[number];

const SCOPE_TOKEN =
  /^(?:tasks:create|tasks:read|tasks:cancel|admin|runtime:[a-z0-9-]{1,32}|grant:[A-Za-z0-9_-]{1,64})$/;

/** A scope list as sets; `null` = unrestricted in that dimension. */
export interface Rights {
  actions: ReadonlySet<Action> | null;
  runtimes: ReadonlySet<string> | null;
  grants: ReadonlySet<string> | null;
}

export const UNRESTRICTED: Rights = { actions: null, runtimes: null, grants: null };

/** Parses a scope list; throws 400 `invalid_scope` for an unknown or malformed entry. */
export function parseScopes(scopes: readonly string[] | undefined): Rights {
  if (scopes === undefined) return UNRESTRICTED;
  const actions = new Set<Action>();
  const runtimes = new Set<string>();
  const grants = new Set<string>();
  for (const s of scopes) {
    if (!SCOPE_TOKEN.test(s))
      throw new InvalidScopeError(`Unknown scope ${JSON.stringify(s.slice(0, 80))}`);
    if (s.startsWith('runtime:')) {
      const runtime = s.slice('runtime:'.length);
      if (!RuntimeSchema.safeParse(runtime).success)
        throw new InvalidScopeError(`Unknown runtime in scope ${s}`);
      runtimes.add(runtime);
    } else if (s.startsWith('grant:')) grants.add(s.slice('grant:'.length));
    else actions.add(s as Action);
  }
  return {
    actions,
    runtimes: runtimes.size ? runtimes : null,
    grants: grants.size ? grants : null,
  };
}

/** Splits a space-separated scope string (RFC 6749 §3.3); empty entries are not allowed. */
export function splitScope(scope: string): string[] {
  const parts = scope.split(' ');
  if (parts.some((p) => p === ''))
    throw new InvalidScopeError('scope is a list of scopes separated by single spaces');
  return [...new Set(parts)];
}

function meet<T>(a: ReadonlySet<T> | null, b: ReadonlySet<T> | null): ReadonlySet<T> | null {
  if (a === null) return b;
  if (b === null) return a;
  return new Set([...a].filter((x) => b.has(x)));
}

/** What both sides allow (delegation: the agent's rights ∩ the user's rights). */
export function intersect(a: Rights, b: Rights): Rights {
  return {
    actions: meet(a.actions, b.actions),
    runtimes: meet(a.runtimes, b.runtimes),
    grants: meet(a.grants, b.grants),
  };
}

/**
 * Narrows `allowed` to `requested` for a new token. Every entry the request names must be in
 * `allowed` (else 400 `invalid_scope`: narrowing never widens); dimensions the request leaves
 * open inherit `allowed`'s restriction. The result is always an explicit scope list.
 */
export function narrow(
  allowed: Rights,
  requested: Rights,
  options: { allowAdmin?: boolean } = {},
): string[] {
  const allowAdmin = options.allowAdmin ?? false;
  if (!allowAdmin && requested.actions?.has('admin'))
    throw new InvalidScopeError('Tokens never carry the admin scope');
  const missing: string[] = [];
  const check = (
    kind: string,
    want: ReadonlySet<string> | null,
    have: ReadonlySet<string> | null,
  ) => {
    if (want && have)
      for (const x of want) if (!have.has(x)) missing.push(kind ? `${kind}:${x}` : x);
  };
  check('', requested.actions, allowed.actions);
  check('runtime', requested.runtimes, allowed.runtimes);
  check('grant', requested.grants, allowed.grants);
  if (missing.length > 0) {
    throw new InvalidScopeError(
      `The credential does not have scope ${missing.join(' ')}; a token can only narrow it`,
    );
  }
  const rights = intersect(allowed, requested);
  if (rights.runtimes?.size === 0)
    throw new InvalidScopeError('The agent and the user share no runtime');
  if (rights.grants?.size === 0)
    throw new InvalidScopeError('The agent and the user share no grant');
  const actions = [...(rights.actions ?? ACTIONS)].filter((a) => allowAdmin || a !== 'admin');
  if (actions.length === 0)
    throw new InvalidScopeError(
      'The scope would allow no action (tasks:create, tasks:read, tasks:cancel)',
    );
  return [
    ...actions,
    ...[...(rights.runtimes ?? [])].map((r) => `runtime:${r}`),
    ...[...(rights.grants ?? [])].map((g) => `grant:${g}`),
  ];
}

/** Throws 403 `insufficient_scope` unless the principal's scopes allow `action` (unrestricted keys pass). */
export function requireScope(principal: Principal, action: Action): void {
  if (principal.scopes === undefined || principal.scopes.includes(action)) return;
  throw new InsufficientScopeError(`This credential lacks scope ${action}`);
}

/** Throws 403 `insufficient_scope` unless the principal may create tasks with this runtime and these grants. */
export function requireTaskScopes(
  principal: Principal,
  runtime: string,
  grants: readonly string[],
): void {
  requireScope(principal, 'tasks:create');
  if (principal.scopes === undefined) return;
  const rights = parseScopes(principal.scopes);
  if (rights.runtimes && !rights.runtimes.has(runtime)) {
    throw new InsufficientScopeError(`This credential lacks scope runtime:${runtime}`);
  }
  for (const g of grants) {
    if (rights.grants && !rights.grants.has(g))
      throw new InsufficientScopeError(`This credential lacks scope grant:${g}`);
  }
}

/**
 * The action a route needs from a scoped credential: `null` = none (any authenticated caller),
 * `undefined` = not listed. Unlisted routes are refused to scoped credentials (fail closed): a
 * new route must be added here before task tokens can call it. HEAD needs what GET needs (it
 * is the GET without the body, RFC 9110 §9.3.2).
 */
export function routeAction(method: string, url: string): Action | null | undefined {
  if (url.startsWith('/v1/admin/')) return 'admin';
  switch (`${method === 'HEAD' ? 'GET' : method} ${url}`) {
    case 'POST /v1/tasks':
    // What a task may declare: needed to write its code.
    case 'GET /v1/capabilities':
    case 'GET /v1/capabilities.d.ts':
      return 'tasks:create';
    case 'GET /v1/tasks':
    case 'GET /v1/tasks/:id':
    case 'GET /v1/tasks/:id/events':
    case 'GET /v1/tasks/:id/files/*':
    case 'GET /v1/tasks/:id/trace':
      return 'tasks:read';
    case 'DELETE /v1/tasks/:id':
      return 'tasks:cancel';
    case 'POST /v1/tokens':
    case 'DELETE /v1/tokens/:jti':
    // Approvals: the route itself admits only users with the approver or admin role and an
    // unscoped key (harness/approvals/approval-routes.ts), after the tenant lookup (404 first).
    case 'GET /v1/approvals':
    case 'GET /v1/approvals/:id':
    case 'POST /v1/approvals/:id/approve':
    case 'POST /v1/approvals/:id/deny':
    // What anyone of the tenant may check the log against (GET /v1/audit and verify: unlisted).
    case 'GET /v1/audit/checkpoint':
    case 'GET /v1/audit/public-key':
    case 'GET /v1/audit/consistency':
    case 'GET /v1/runtimes':
    // Each MCP tool calls a /v1 route with the same credential, which checks its own scope.
    case 'POST /mcp':
      return null;
    default:
      return undefined;
  }
}

/**
 * preValidation hook for every /v1 route: enforces `routeAction` for scoped credentials before
 * the body is validated (a credential without the scope learns nothing about the body).
 */
export async function enforceRouteScope(request: FastifyRequest): Promise<void> {
  const principal = request.principal;
  if (!principal || principal.scopes === undefined) return;
  const url = request.routeOptions.url;
  const action = url === undefined ? undefined : routeAction(request.method, url);
  if (action === undefined)
    throw new InsufficientScopeError('Scoped credentials cannot call this route');
  if (action !== null) requireScope(principal, action);
}

/**
 * preHandler hook (the body is parsed by then): for task creation, enforces the `runtime:` and
 * `grant:` scopes. Full policy decisions (Cedar) come on top of this; scopes only narrow.
 */
export async function enforceTaskScopes(request: FastifyRequest): Promise<void> {
  const principal = request.principal;
  if (!principal || principal.scopes === undefined) return;
  if (request.method !== 'POST' || request.routeOptions.url !== '/v1/tasks') return;
  const body = request.body as { runtime?: unknown; mounts?: { grant?: unknown }[] } | undefined;
  const grants = (body?.mounts ?? []).map((m) => String(m.grant));
  requireTaskScopes(principal, String(body?.runtime), grants);
}
