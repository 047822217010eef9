import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';
import { serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod';
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { BlobStore } from '../protocol/blobs/blob-store.ts';
import type { TaskStore } from '../protocol/task-store.ts';
import type { Authenticator, Principal } from './auth/principal.ts';
import type { Config } from './config.ts';
import { registerBodyDepthLimit } from './plugins/body-depth.ts';
import { registerHostHeaderCheck } from './plugins/host-header.ts';
import { Idempotency } from './plugins/idempotency.ts';
import { clientErrorHandler, frameworkErrorsHandler, registerProblemHandler } from './plugins/problem-handler.ts';
import { ForbiddenError, UnauthorizedError } from './problems.ts';
import { CedarPolicyGate, type PolicyGate } from './policy/gate.ts';
import { PolicyStore } from './policy/policy-store.ts';
import { adminPolicyRoutes } from './routes/admin-policies.ts';
import { healthRoutes } from './routes/health.ts';
import { anyRuntime, RuntimeAvailability } from './runners/runtime-availability.ts';
import { taskRoutes } from './routes/tasks.ts';
import { runtimeRoutes } from './routes/runtimes.ts';
import { adminGrantRoutes } from './routes/admin-grants.ts';
import { GrantStore } from './grants/grant-store.ts';
import type { IdentityStore } from './identity/identity-store.ts';
import { PrincipalResolver, type ConfigPrincipals } from './identity/principal-resolver.ts';
import type { TokenService } from './identity/token-service.ts';
import { samePrincipal, type CredentialCheck } from './auth/credential-watch.ts';
import { enforceRouteScope, enforceTaskScopes } from './auth/scopes.ts';
import { adminIdentityRoutes } from './routes/admin-identity.ts';
import { tokenRoutes } from './routes/tokens.ts';
import type { TaskNotifier } from './tasks/task-notifier.ts';
import { TaskService } from './tasks/task-service.ts';
import { adminLimitsRoutes } from './ratelimit/admin-limits-routes.ts';
import { rateLimitsFromConfig, type RateLimits } from './ratelimit/rate-limits.ts';
import { adminStorageRoutes } from './storage/admin-storage-routes.ts';
import type { AuditProducer } from '../protocol/audit/producer.ts';
import type { AuditReader } from './audit/audit-reader.ts';
import { auditRoutes } from './routes/audit.ts';
import { RequestAudit } from './audit/request-audit.ts';
import { registerOpenApi } from './openapi/openapi-plugin.ts';
import { mcpRoutes } from './mcp/mcp-route.ts';
import { adminWebhookRoutes } from './webhooks/admin-webhooks-routes.ts';
import type { WebhookSecrets } from './webhooks/webhook-secrets.ts';
import { HarnessMetrics } from './metrics/harness-metrics.ts';
import { registerMetrics } from './metrics/metrics-route.ts';
import { registerHttpTracing } from './telemetry/http-tracing.ts';

import type { CredentialStore } from './vault/credential-store.ts';
import { adminCapabilityRoutes } from './capabilities/admin-capabilities-routes.ts';
import { CapabilityStore } from './capabilities/capability-store.ts';
import { discoveryRoutes } from './capabilities/discovery-routes.ts';
import { adminCredentialRoutes } from './vault/admin-credentials-routes.ts';
import { approvalRoutes } from './approvals/approval-routes.ts';
import { principalFields } from './audit/request-audit.ts';
import { sessionCredential } from './console/session-auth.ts';
import { ConsoleSessions } from './console/session-store.ts';
import { consoleRoutes } from './console/console-routes.ts';
import { ApprovalStore } from './approvals/approval-store.ts';

/** The API's version in the OpenAPI document (package.json's). */
const API_VERSION = '0.1.0';

export interface AppDeps {
  config: Config;
  redis: Redis;
  /** Queue of isolate tasks. */
  queue: Queue;
  /** Queue of container tasks. */
  containerQueue: Queue;
  store: TaskStore;
  /** The blob store /out files are served from (written by runners). */
  blobs: BlobStore;
  notifier: TaskNotifier;
  authenticator: Authenticator;
  /** Tenants, agents, users, API keys, token revocation. */
  identity: IdentityStore;
  /** Mints and verifies task and user tokens. */
  tokens: TokenService;
  /** Agents and users from config (agents file, dev key, bootstrap admin). */
  configPrincipals: ConfigPrincipals;
  /** Appends audit entries to the transport streams (the sealer seals them). */
  audit: AuditProducer;
  /** Reads the sealed audit logs (AUDIT_DIR). */
  auditReader: AuditReader;
  /** The credentials vault (values sealed at rest; opened only by the broker). */
  credentials: CredentialStore;
  /** The tenants' webhook signing secrets (harness/webhooks/). */
  webhookSecrets: WebhookSecrets;
  /**
   * The process's metrics, shared by the API and the broker listener (createHarnessDeps makes
   * them). Absent: the app makes its own (the broker then counts nothing).
   */
  metrics?: HarnessMetrics;
  /** Fastify logger option (false in tests). */
  logger?: boolean | { level: string };
}

declare module 'fastify' {
  interface FastifyRequest {
    principal?: Principal;
    /**
     * Re-authenticates the request's credential (set by the security path): long answers (SSE,
     * `wait`) call it while open, so a revocation ends them. Absent = nothing to re-check.
     */
    stillAuthenticated?: CredentialCheck;
  }
}

/** Installs the security path of every /v1 request on the /v1 scope. */
export type SecurityPath = (
  v1: FastifyInstance,
  ctx: { deps: AppDeps; rateLimits: RateLimits; audit: RequestAudit; sessions: ConsoleSessions },
) => void;

/**
 * The security path: rate limits (first, so a client IP with too many failed authentications is
 * refused before its credential is looked at), authentication (before body parsing), and the
 * scope checks of scoped credentials (task tokens, API keys with scopes).
 */
export const standardSecurityPath: SecurityPath = (v1, { deps, rateLimits, audit, sessions }) => {
  rateLimits.register(v1);
  v1.addHook('onRequest', async (request) => {
    const authorization = request.headers.authorization;
    // No Authorization header: the console's session cookie, if any (harness/console/session-auth.ts;
    // a state-changing request must also carry the session's CSRF token, else 403).
    if (authorization === undefined) {
      const session = await sessionCredential(request, sessions, (req, s, reason) =>
        audit.append({ ...principalFields(s.principal), action: 'console.csrf_refused', outcome: 'denied', requestId: req.id, details: { consoleSession: s.ref, method: req.method, route: req.routeOptions.url ?? '(no route)', reason } }, req),
      );
      if (session) {
        request.principal = session.principal;
        request.stillAuthenticated = session.stillAuthenticated;
        return;
      }
    }
    const principal = await deps.authenticator.authenticate(authorization);
    if (!principal) {
      // Recorded (source IP, never the credential) before the 401 goes out; 503 if it cannot be.
      await audit.authFailed(request);
      throw new UnauthorizedError('Send Authorization: Bearer <API key>');
    }
    request.principal = principal;
    request.stillAuthenticated = async () =>
      samePrincipal(principal, await deps.authenticator.authenticate(authorization));
  });
  v1.addHook('preValidation', enforceRouteScope);
  v1.addHook('preHandler', enforceTaskScopes);
};

/** A write to the admin API, or a token revocation: recorded as an admin change. */
function isAdminChange(request: FastifyRequest): boolean {
  if (request.method === 'GET' || request.method === 'HEAD') return false;
  const url = request.routeOptions.url ?? '';
  return url.startsWith('/v1/admin/') || (request.method === 'DELETE' && url === '/v1/tokens/:jti');
}

/**
 * Builds the harness HTTP app. Never listens: server.ts does, tests use `inject`. `security` is
 * always the standard path in the service (server.ts passes nothing, and no setting changes
 * it); only bench/ assembles an app without it, to measure what the path costs.
 */
export async function buildApp(
  deps: AppDeps,
  security: SecurityPath = standardSecurityPath,
  policyGate?: PolicyGate,
): Promise<FastifyInstance> {
  const { config } = deps;
  const app = Fastify({
    logger: deps.logger ?? false,
    bodyLimit: config.BODY_LIMIT_BYTES,
    // Request ids become the problem `instance` (urn:uuid:...).
    genReqId: () => crypto.randomUUID(),
    return503OnClosing: true,
    // Only the configured proxies (never `true`: anyone could then choose their own client IP).
    ...(config.TRUST_PROXY.length > 0 ? { trustProxy: config.TRUST_PROXY } : {}),
    // Router errors (e.g. an over-long path parameter) are problems too (PD-1).
    frameworkErrors: frameworkErrorsHandler(config.PROBLEM_BASE_URL),
    // Requests Node's HTTP parser refuses are problems too.
    clientErrorHandler: clientErrorHandler(config.PROBLEM_BASE_URL),
    // A missing Host header is refused by registerHostHeaderCheck (a problem), not by Node.
    http: { requireHostHeader: false },
  });
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  registerProblemHandler(app, config.PROBLEM_BASE_URL, { storeDown: () => deps.redis.status !== 'ready' });
  // First of the request hooks (traces on only): everything after runs in the request's span.
  registerHttpTracing(app, { continueTrace: false });
  registerBodyDepthLimit(app);
  registerHostHeaderCheck(app);

  // Before any route: the OpenAPI document is collected as routes are added.
  await registerOpenApi(app, API_VERSION);
  // Before the routes too: its onResponse hook must cover every one of them.
  const metrics = deps.metrics ?? new HarnessMetrics({ queues: [deps.queue, deps.containerQueue] });
  registerMetrics(app, metrics, config.METRICS_TOKEN);
  const runtimes = new RuntimeAvailability({ redis: deps.redis, runnerStaleMs: config.RUNNER_STALE_MS });
  await app.register(healthRoutes, { redis: deps.redis, runnerStaleMs: config.RUNNER_STALE_MS });
  // Console sessions: a credential of the /v1 routes (the security path) and of the console's pages.
  const sessions = new ConsoleSessions(deps.redis, { identity: deps.identity, ttlMs: config.CONSOLE_SESSION_TTL_MS });
  await app.register(consoleRoutes, { root: app, sessions, authenticator: deps.authenticator, audit: deps.audit });

  await app.register(async (v1) => {
    const rateLimits = rateLimitsFromConfig(config, deps.redis);
    // Every refusal, decision and admin change is an audit entry, written before it takes effect.
    const audit = new RequestAudit({ audit: deps.audit, reads: config.AUDIT_READS });
    rateLimits.onReject = (request, violated) => audit.rateLimited(request, violated);
    security(v1, { deps, rateLimits, audit, sessions });
    // Cedar policies decide task creation, reads and cancels, grant mounts and admin access.
    const policies = new PolicyStore(deps.redis);
    const policy =
      policyGate ??
      new CedarPolicyGate(
        policies,
        (msg) => app.log.warn(msg),
        async (tenantId, userId) => {
          const user = await deps.identity.getPrincipal(tenantId, 'user', userId);
          return user && !user.disabled ? user.roles : null;
        },
        (request, principal, decision, resource) => audit.decision(request, principal, decision, resource),
      );
    v1.addHook('preValidation', async (request) => {
      if (!request.routeOptions.url?.startsWith('/v1/admin/')) return;
      const principal = principalOf(request);
      const decision = await policy.decide(request, principal, 'admin.manage', { type: 'Tenant', id: principal.tenantId });
      if (!decision.allowed) throw new ForbiddenError('This route needs the admin role');
    });
    // Admin changes (and token revocation): `admin.request` before the handler runs (it does not
    // run if that cannot be written), then `admin.<what>` with the answer's status and, where
    // the route says, before/after.
    v1.addHook('preHandler', async (request) => {
      if (isAdminChange(request)) await audit.adminRequest(request);
    });
    v1.addHook('onResponse', async (request, reply) => {
      if (isAdminChange(request) && request.principal) await audit.adminResult(request, reply.statusCode);
      if (request.auditDeferred) await audit.flushDeferred(request);
    });
    const principalOf = (request: FastifyRequest): Principal => {
      if (!request.principal) throw new UnauthorizedError('Send Authorization: Bearer <API key>');
      return request.principal;
    };
    const approvals = new ApprovalStore(deps.redis, { retentionMs: config.TASK_RETENTION_MS, observer: metrics.approvals });
    const tasks = new TaskService({
      config,
      redis: deps.redis,
      queue: deps.queue,
      containerQueue: deps.containerQueue,
      store: deps.store,
      notifier: deps.notifier,
      access: async (principal, action, task, request) => {
        // The decision's audit entry names the task's prompt snippet and session.
        if (request) request.auditTask = { id: task.id, metadata: task.metadata };
        return (await policy.decide(request ?? null, principal, action, {
          type: 'Task', id: task.id, ownerId: task.agentId, runtime: task.runtime,
        })).allowed;
      },
      // The kill switch sweeps agents' tasks only (a disabled user's tasks keep running), so
      // only agents are re-checked; config agents are not in the store and never disabled.
      ownerDisabled: async (principal) =>
        principal.kind === 'agent' &&
        (await deps.identity.getPrincipal(principal.tenantId, 'agent', principal.id))?.disabled === true,
      // The brake: a cancelled task's pending approval requests become `cancelled`.
      onCancelled: (task) => approvals.cancelForTask(task.tenantId, task.id),
    });
    const idempotency = new Idempotency({
      redis: deps.redis,
      ttlMs: config.IDEMPOTENCY_TTL_MS,
      claimTtlMs: config.IDEMPOTENCY_CLAIM_TTL_MS,
    });
    idempotency.registerOnSend(v1);
    const grants = new GrantStore(deps.redis);
    const principals = new PrincipalResolver({ identity: deps.identity, configPrincipals: deps.configPrincipals });
    await v1.register(adminIdentityRoutes, {
      identity: deps.identity, tasks, store: deps.store, idempotency, principalOf });
    await v1.register(tokenRoutes, { config, identity: deps.identity, tokens: deps.tokens, audit: deps.audit, principalOf });
    await v1.register(auditRoutes, { reader: deps.auditReader, store: deps.store, policy, principalOf });
    await v1.register(adminGrantRoutes, { grants, grantRoots: config.GRANT_ROOTS, idempotency, principals, principalOf });
    await v1.register(adminLimitsRoutes, { rateLimits, idempotency, principals, principalOf });
    await v1.register(adminStorageRoutes, { storage: deps.store.storage, idempotency, principalOf });
    await v1.register(adminPolicyRoutes, { policies, idempotency, principalOf });
    await v1.register(adminWebhookRoutes, { secrets: deps.webhookSecrets, idempotency, audit: deps.audit, principalOf });
    await v1.register(mcpRoutes, { root: app, allowedOrigins: config.MCP_ALLOWED_ORIGINS });
    await v1.register(runtimeRoutes, { config, tasks, policy, runtimes, principalOf });
    await v1.register(adminCredentialRoutes, { credentials: deps.credentials, idempotency, audit: deps.audit, principalOf });
    const capabilities = new CapabilityStore(deps.redis);
    await v1.register(adminCapabilityRoutes, { capabilities, idempotency, audit: deps.audit, principalOf });
    await v1.register(approvalRoutes, { store: approvals, idempotency, audit: deps.audit, principalOf, policy });
    await v1.register(discoveryRoutes, { capabilities, policy, principalOf });
    await v1.register(taskRoutes, {
      grants, capabilities, webhookSecrets: deps.webhookSecrets, approvals, config, tasks, store: deps.store, blobs: deps.blobs, notifier: deps.notifier, idempotency, policy, principalOf,
      runtimes: config.TASKS_REQUIRE_LIVE_RUNNER ? runtimes : anyRuntime });
  });
  return app;
}
