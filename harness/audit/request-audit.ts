/**
 * The harness's audit entries about requests: authorization decisions, failed authentications
 * (401), throttled requests (429) and admin changes. Every append is awaited before the request
 * goes on, and a failed one fails the request with 503 `not_ready` (no unaudited decision or
 * change): the caller lets the error propagate. Task lifecycle entries are not written here but
 * by the task store's scripts, in the same atomic step as the change (protocol/task-store.ts).
 */
import { createHash } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import type { AuditDraftInput } from '../../protocol/audit/entry.ts';
import { AUDIT_UNAVAILABLE, isAuditUnavailable, type AuditProducer } from '../../protocol/audit/producer.ts';
import type { TaskAuditNote } from '../../protocol/task-store.ts';
import type { Principal } from '../auth/principal.ts';
import type { Decision } from '../policy/authorizer.ts';
import type { AuthzResource } from '../policy/authorizer.ts';
import { NotReadyError } from '../problems.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** What an admin route changed, for its `admin.*` result entry (`before`/`after` where it applies). */
    auditChange?: { target?: string; before?: unknown; after?: unknown; details?: Record<string, unknown> };
  }
}

/** The principal fields of an entry: who acted (agent or user id), for whom, with which key or token. */
export function principalFields(p: Principal): Pick<AuditDraftInput, 'tenant' | 'agentId' | 'userId' | 'keyId' | 'jti'> {
  const userId = p.actingFor ?? (p.kind === 'user' ? p.id : undefined);
  return {
    tenant: p.tenantId,
    agentId: p.id,
    ...(userId !== undefined ? { userId } : {}),
    ...(p.keyId !== undefined ? { keyId: p.keyId } : {}),
    ...(p.tokenId !== undefined ? { jti: p.tokenId } : {}),
  };
}

/** Who did it, as a details value (task entries take agent and user from the task record). */
export function actorOf(p: Principal): Record<string, string> {
  return {
    kind: p.kind,
    id: p.id,
    ...(p.actingFor !== undefined ? { actingFor: p.actingFor } : {}),
    ...(p.keyId !== undefined ? { keyId: p.keyId } : {}),
    ...(p.tokenId !== undefined ? { jti: p.tokenId } : {}),
  };
}

/** The audit note of a task change made by a request: the principal and the request id. */
export function taskNote(principal: Principal, request?: FastifyRequest): TaskAuditNote {
  return { ...principalFields(principal), ...(request ? { requestId: request.id } : {}) };
}

/** Route of a request as declared (`/v1/tasks/:id`), never the raw URL (it may carry anything). */
function routeOf(request: FastifyRequest): string {
  return request.routeOptions.url ?? '(no route)';
}

/** Recorded reads are optional (AUDIT_READS): a principal reading its own task, or the audit log. */
function isPlainRead(principal: Principal, d: Decision, resource: AuthzResource): boolean {
  if (!d.allowed) return false;
  if (d.action === 'audit.read') return true;
  return d.action === 'tasks.read' && resource.type === 'Task' && resource.ownerId === principal.agentId;
}

export interface RequestAuditOptions {
  audit: AuditProducer;
  /** Record allowed plain reads too (config AUDIT_READS). */
  reads: boolean;
}

export class RequestAudit {
  readonly #audit: AuditProducer;
  readonly #reads: boolean;

  constructor(options: RequestAuditOptions) {
    this.#audit = options.audit;
    this.#reads = options.reads;
  }

  /** Appends, or throws NotReadyError (503): the caller must not go on. */
  async append(draft: AuditDraftInput, request?: FastifyRequest | null): Promise<void> {
    try {
      await this.#audit.append(draft);
    } catch (err) {
      request?.log.error({ err }, 'audit entry could not be written');
      throw new NotReadyError('The audit log cannot be written right now; nothing was done');
    }
  }

  /** `authz.decision`: every policy decision, except allowed plain reads unless AUDIT_READS. */
  async decision(request: FastifyRequest | null, principal: Principal, d: Decision, resource: AuthzResource): Promise<void> {
    if (!this.#reads && isPlainRead(principal, d, resource)) return;
    await this.append(
      {
        ...principalFields(principal),
        ...(resource.type === 'Task' ? { taskId: resource.id } : {}),
        ...(request ? { requestId: request.id } : {}),
        action: 'authz.decision',
        outcome: d.allowed ? 'success' : 'denied',
        decision: {
          action: d.action,
          resource: d.resource.slice(0, 300),
          allowed: d.allowed,
          policyIds: d.policyIds.slice(0, 100),
          policySetHash: d.policySetHash,
          ...(d.errors.length > 0 ? { errors: d.errors.slice(0, 20).map((e) => e.slice(0, 500)) } : {}),
          ...(d.shadow
            ? { shadow: { allowed: d.shadow.allowed, policyIds: d.shadow.policyIds.slice(0, 100), policySetHash: d.shadow.policySetHash } }
            : {}),
        },
        ...(request ? { details: { method: request.method, route: routeOf(request) } } : {}),
      },
      request,
    );
  }

  /**
   * `auth.failed` (401) in the system log (the tenant is not known): the source IP, the route
   * and what kind of credential was sent — never the credential.
   */
  async authFailed(request: FastifyRequest): Promise<void> {
    const authorization = request.headers.authorization;
    const sent = authorization === undefined ? 'none' : /^Bearer\s+ak_/i.test(authorization) ? 'api-key' : /^Bearer\s+ey/i.test(authorization) ? 'token' : 'other';
    await this.append(
      {
        action: 'auth.failed',
        outcome: 'denied',
        requestId: request.id,
        details: { ip: request.ip, method: request.method, route: routeOf(request), presented: sent },
      },
      request,
    );
  }

  /** `ratelimit.exceeded` (429): the policies (names and quotas) that refused the request. */
  async rateLimited(request: FastifyRequest, policies: readonly { name: string; quota: number; windowSeconds?: number | undefined }[]): Promise<void> {
    const p = request.principal;
    await this.append(
      {
        ...(p ? principalFields(p) : {}),
        action: 'ratelimit.exceeded',
        outcome: 'denied',
        requestId: request.id,
        details: {
          ...(p ? {} : { ip: request.ip }),
          method: request.method,
          route: routeOf(request),
          policies: policies.map((s) => ({ name: s.name, quota: s.quota, ...(s.windowSeconds !== undefined ? { windowSeconds: s.windowSeconds } : {}) })),
        },
      },
      request,
    );
  }

  /**
   * `admin.request` before an admin write runs (its handler does not run if this cannot be
   * written): who asked for what — route, params and the body's field names and SHA-256 (bodies
   * may carry secrets: never their values).
   */
  async adminRequest(request: FastifyRequest): Promise<void> {
    const p = request.principal;
    if (!p) return;
    const body = request.body;
    const bodyJson = body === undefined || body === null ? null : JSON.stringify(body);
    await this.append(
      {
        ...principalFields(p),
        action: 'admin.request',
        outcome: 'success',
        requestId: request.id,
        details: {
          method: request.method,
          route: routeOf(request),
          params: safeParams(request.params),
          ...(bodyJson !== null
            ? {
                bodySha256: createHash('sha256').update(bodyJson).digest('hex'),
                bodyFields: typeof body === 'object' ? Object.keys(body as object).slice(0, 50) : [],
              }
            : {}),
        },
      },
      request,
    );
  }

  /**
   * `admin.<what>` once an admin write answered: its status and, when the route said
   * (`request.auditChange`), the target and the state before and after. A failure here cannot
   * undo the change (its `admin.request` entry is already written): it is logged, not answered.
   */
  async adminResult(request: FastifyRequest, statusCode: number): Promise<void> {
    const p = request.principal;
    if (!p) return;
    const change = request.auditChange;
    try {
      await this.#audit.append({
        ...principalFields(p),
        action: adminAction(request),
        outcome: statusCode < 400 ? 'success' : statusCode === 401 || statusCode === 403 ? 'denied' : 'failure',
        requestId: request.id,
        details: {
          method: request.method,
          route: routeOf(request),
          params: safeParams(request.params),
          status: statusCode,
          ...(change ? flatChange(change) : {}),
        },
      });
    } catch (err) {
      request.log.error({ err, audit: isAuditUnavailable(err) ? AUDIT_UNAVAILABLE : 'refused' }, 'audit result entry of an admin change could not be written');
    }
  }
}

/** `admin.agents.create`, `admin.grants.put`, … from the method and the declared route. */
export function adminAction(request: FastifyRequest): string {
  if (request.method === 'DELETE' && routeOf(request) === '/v1/tokens/:jti') return 'token.revoked';
  const words = routeOf(request)
    .replace(/^\/v1\/admin\//, '')
    .replace(/^\/v1\//, '')
    .split('/')
    .filter((w) => w && !w.startsWith(':'))
    .map((w) => w.toLowerCase().replace(/[^a-z0-9_]/g, '_').replace(/^[^a-z]+/, ''))
    .filter(Boolean);
  const verb = { POST: 'create', PUT: 'put', PATCH: 'update', DELETE: 'delete' }[request.method] ?? request.method.toLowerCase();
  const last = words.at(-1);
  // POST …/disable is a verb of its own.
  const action = last === 'disable' || last === 'enable' || last === 'revoke' ? ['admin', ...words] : ['admin', ...words, verb];
  return action.join('.').slice(0, 64);
}

/** `target`, `before`, `after` and the route's own details, side by side (JSON values only). */
function flatChange(change: NonNullable<FastifyRequest['auditChange']>): Record<string, never> {
  const { details, ...rest } = change;
  return JSON.parse(JSON.stringify({ ...rest, ...details })) as Record<string, never>;
}

function safeParams(params: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (params && typeof params === 'object') {
    for (const [k, v] of Object.entries(params as Record<string, unknown>)) out[k] = String(v).slice(0, 200);
  }
  return out;
}
