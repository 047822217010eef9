import type { ApprovalStore } from '../approvals/approval-store.ts';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { BlobIntegrityError, verifiedBlob, type BlobStore } from '../../protocol/blobs/blob-store.ts';
import { RelativePathSchema, isTerminal } from '../../protocol/task.ts';
import type { TaskStore } from '../../protocol/task-store.ts';
import { alwaysAuthenticated, CredentialWatch } from '../auth/credential-watch.ts';
import type { Principal } from '../auth/principal.ts';
import type { Config } from '../config.ts';
import type { CapabilityStore } from '../capabilities/capability-store.ts';
import { checkDeclared } from '../capabilities/invocable.ts';
import type { GrantStore } from '../grants/grant-store.ts';
import { resolveMounts } from '../grants/resolve-mounts.ts';
import type { Idempotency } from '../plugins/idempotency.ts';
import { problemBody } from '../plugins/problem-handler.ts';
import { ForbiddenError, InvalidRequestError, NotFoundError, RuntimeUnavailableError } from '../problems.ts';
import type { PolicyGate } from '../policy/gate.ts';
import type { RuntimeCheck } from '../runners/runtime-availability.ts';
import {
  ListTasksQuerySchema,
  ProblemSchema,
  TaskListSchema,
  TaskParamsSchema,
  TaskViewSchema,
  createTaskBodySchema,
  toTaskView,
  toTaskViewWithApprovals,
} from '../schemas/tasks.ts';
import type { TaskNotifier } from '../tasks/task-notifier.ts';
import type { TaskService } from '../tasks/task-service.ts';
import type { WebhookSecrets } from '../webhooks/webhook-secrets.ts';

export interface TaskRoutesOptions {
  config: Config;
  tasks: TaskService;
  store: TaskStore;
  blobs: BlobStore;
  notifier: TaskNotifier;
  idempotency: Idempotency;
  grants: GrantStore;
  policy: PolicyGate;
  /** The capability registry (declared capabilities are checked at creation). */
  capabilities: CapabilityStore;
  /** Which runtimes some live runner serves now (a task no runner would take is refused). */
  runtimes: RuntimeCheck;
  /** A task with a callbackUrl needs its tenant's webhook secret to be set. */
  webhookSecrets: WebhookSecrets;
  /** A waiting task's view names the approval requests it waits for. */
  approvals?: ApprovalStore;
  principalOf: (request: FastifyRequest) => Principal;
}

/** `Retry-After` of a runtime_unavailable answer: about when a starting runner reports in. */
const RUNTIME_RETRY_AFTER_SECONDS = 5;

/** How often an idle SSE stream sends a comment so proxies keep it open. */
const SSE_HEARTBEAT_MS = 15_000;
/** Events read from Redis per round trip. */
const SSE_PAGE = 500;

const errorResponses = { 400: ProblemSchema, 401: ProblemSchema, 404: ProblemSchema };

/** The tasks API: submit, poll, list, stream events, cancel. */
export async function taskRoutes(app: FastifyInstance, options: TaskRoutesOptions): Promise<void> {
  const { config, tasks, store, blobs, notifier, idempotency, grants, policy, capabilities, runtimes, principalOf } = options;
  const api = app.withTypeProvider<ZodTypeProvider>();

  const claim = (request: FastifyRequest, reply: FastifyReply, required: boolean) =>
    idempotency.guard(request, reply, principalOf(request), required);

  api.post(
    '/v1/tasks',
    {
      schema: {
        body: createTaskBodySchema(config),
        response: { 201: TaskViewSchema, ...errorResponses },
      },
    },
    async (request, reply) => {
      if (await claim(request, reply, true)) return reply;
      const principal = principalOf(request);
      const limits = tasks.limitsFor(request.body);
      const create = await policy.decide(request, principal, 'tasks.create', { type: 'Runtime', id: request.body.runtime }, {
        timeoutMs: limits.timeoutMs,
        memoryMb: limits.memoryMb,
        mounts: request.body.mounts?.length ?? 0,
      });
      if (!create.allowed) {
        // Says which policies decided (the forbids that matched; none = no permit applied).
        const by = create.policyIds.length > 0 ? `denied by policy ${create.policyIds.join(', ')}` : 'no policy permits it';
        throw Object.assign(
          new ForbiddenError(
            `Policy does not allow you to run ${request.body.runtime} tasks with timeoutMs ${limits.timeoutMs}, ` +
              `memoryMb ${limits.memoryMb} and ${request.body.mounts?.length ?? 0} mounts (${by})`,
          ),
          { problemExtensions: { reason: 'policy', policyIds: create.policyIds } },
        );
      }
      // Mounts are authorized before anything is queued (403 if any is not allowed).
      const mounts = await resolveMounts(grants, principal, request.body.mounts ?? [], (p, grant, mode) =>
        policy.decide(request, p, 'grants.mount', {
          type: 'Grant', id: grant.name, mode: grant.mode, allowedAgents: grant.allowedAgents,
        }, { mode }),
      );
      // Capabilities too: each must exist in the tenant and be invocable by the caller.
      if (request.body.capabilities?.length) {
        await checkDeclared(capabilities, policy, request, principal, request.body.capabilities);
      }
      // Nobody would take a task of a runtime no live runner serves: refuse it now (nothing
      // created, no concurrency slot kept) rather than leave it queued. A retry that joins the
      // task an earlier try made is not asked: that task exists and is answered as it is.
      if (request.idempotencyClaim?.claimValue !== null) {
        const why = await runtimes.whyUnavailable(request.body.runtime);
        if (why) {
          reply.header('retry-after', String(RUNTIME_RETRY_AFTER_SECONDS));
          throw new RuntimeUnavailableError(
            `No runner can run ${request.body.runtime} tasks now: ${why}. Nothing was created; retry later with the same Idempotency-Key`,
          );
        }
      }
      if (request.body.callbackUrl && !(await options.webhookSecrets.info(principal.tenantId)).configured) {
        throw new InvalidRequestError(
          'callbackUrl needs a webhook signing secret for this tenant: an admin makes one with POST /v1/admin/webhooks/secret',
        );
      }
      const waitMs = (request.body.wait ?? 0) * 1000;
      // The key names the task (created now, or by an earlier try of this same request).
      const bound = request.idempotencyClaim ? idempotency.bindingOf(request.idempotencyClaim) : undefined;
      // A wait ends early when the credential stops being valid (re-checked as for SSE): the
      // answer is then the task as created, never what it did after the revocation (README).
      let answer;
      if (waitMs === 0) {
        answer = await tasks.create(principal, request.body, mounts, 0, undefined, bound, request);
      } else {
        const revoked = new AbortController();
        const credential = new CredentialWatch({
          check: request.stillAuthenticated ?? alwaysAuthenticated,
          onRevoked: () => revoked.abort(),
        });
        try {
          answer = await tasks.create(principal, request.body, mounts, waitMs, revoked.signal, bound, request);
        } finally {
          credential.stop();
        }
      }
      const { task, created } = answer;
      // A retry that found the task an earlier try made answers with it as it is now: it
      // created nothing, so it says it is a replay (README, Idempotency).
      if (!created) reply.header('idempotent-replayed', 'true');
      return reply.code(201).header('location', `/v1/tasks/${task.id}`).send(await toTaskViewWithApprovals(task, options.approvals));
    },
  );

  api.get(
    '/v1/tasks',
    { schema: { querystring: ListTasksQuerySchema, response: { 200: TaskListSchema, ...errorResponses } } },
    async (request) => {
      const page = await tasks.list(principalOf(request), request.query);
      return { items: page.items.map(toTaskView), nextCursor: page.nextCursor };
    },
  );

  api.get(
    '/v1/tasks/:id',
    { schema: { params: TaskParamsSchema, response: { 200: TaskViewSchema, ...errorResponses } } },
    async (request) =>
      toTaskViewWithApprovals(await tasks.get(principalOf(request), request.params.id, 'tasks.read', request), options.approvals),
  );

  api.delete(
    '/v1/tasks/:id',
    { schema: { params: TaskParamsSchema, response: { 200: TaskViewSchema, ...errorResponses } } },
    async (request, reply) => {
      if (await claim(request, reply, false)) return reply;
      return reply.send(toTaskView(await tasks.cancel(principalOf(request), request.params.id, undefined, request)));
    },
  );

  api.get(
    '/v1/tasks/:id/files/*',
    {
      schema: {
        // No response schema: the 200 body is raw bytes; errors go through the problem handler.
        params: z.strictObject({ id: TaskParamsSchema.shape.id, '*': RelativePathSchema }),
      },
    },
    async (request, reply) => {
      const task = await tasks.get(principalOf(request), request.params.id, 'tasks.read', request);
      const path = request.params['*'];
      const listed = task.result?.files?.find((f) => f.path === path);
      let content: Buffer | null = null;
      try {
        // Served only if the bytes are the ones the task's record lists (size and SHA-256):
        // whoever can write the blob store (a compromised runner) cannot swap a file.
        content = listed ? ((await verifiedBlob(blobs, task.id, listed)) ?? (await store.readLegacyOutputFile(task.id, path))) : null;
      } catch (err) {
        if (!(err instanceof BlobIntegrityError)) throw err;
        request.log.error({ err, taskId: task.id, path }, 'output file failed its integrity check');
        throw new Error('output file failed its integrity check');
      }
      if (!content) throw new NotFoundError(`Task ${task.id} has no output file ${path}`);
      // Served as bytes, never rendered: the content is whatever the sandboxed code wrote.
      return reply
        .header('content-type', 'application/octet-stream')
        .header('content-disposition', 'attachment')
        .header('x-content-type-options', 'nosniff')
        .send(content);
    },
  );

  api.get(
    '/v1/tasks/:id/events',
    {
      schema: {
        params: TaskParamsSchema,
        headers: z.looseObject({ 'last-event-id': z.string().regex(/^\d+-\d+$/).optional() }),
        response: errorResponses,
      },
    },
    async (request, reply) => {
      const task = await tasks.get(principalOf(request), request.params.id, 'tasks.read', request);
      let lastId = request.headers['last-event-id'] ?? '-';
      // Server-Sent Events: written straight to the socket, ended after the terminal status.
      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-store',
        connection: 'keep-alive',
        'x-accel-buffering': 'no',
      });
      let wake: () => void = () => {};
      const unsubscribe = notifier.subscribe(task.id, () => wake());
      let closed = false;
      res.on('close', () => {
        closed = true;
        wake();
      });
      const heartbeat = setInterval(() => res.write(': keep-alive\n\n'), SSE_HEARTBEAT_MS);
      // The credential is re-checked while the stream is open (every CREDENTIAL_RECHECK_MS, and
      // before events are sent if the last check is older): once the agent or user is disabled,
      // the key or the token revoked or the token expired, the stream ends (README, API).
      const credential = new CredentialWatch({
        check: request.stillAuthenticated ?? alwaysAuthenticated,
        onRevoked: () => wake(),
      });
      let revoked = false;
      try {
        while (!closed) {
          const changed = new Promise<void>((resolve) => (wake = resolve));
          // Read before the events: a task already terminal (or expired) now has every event
          // it will ever have in the stream, so once they are sent there is nothing to wait for.
          // This also ends a resume (Last-Event-ID) from after the terminal event.
          const current = await store.status(task.id);
          const events = await store.readEvents(task.id, lastId, SSE_PAGE);
          if (!(await credential.stillValid())) {
            revoked = true;
            break;
          }
          let ended = false;
          for (const { id, event } of events) {
            res.write(`id: ${id}\nevent: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`);
            lastId = id;
            if (event.type === 'status' && isTerminal(event.status)) ended = true;
          }
          if (ended) break;
          if (events.length === SSE_PAGE) continue;
          if (!current || isTerminal(current)) break;
          await changed;
        }
        if (revoked && !closed) {
          // The last thing sent: a problem (401 unauthorized) in an `error` event without an
          // id, so Last-Event-ID still names the last task event for a resume with a valid
          // credential; reconnecting with this one gets a plain 401.
          const problem = problemBody(
            config.PROBLEM_BASE_URL,
            request,
            'unauthorized',
            'The credential of this stream was revoked, disabled or expired; the stream ended',
          );
          res.write(`event: error\ndata: ${JSON.stringify(problem)}\n\n`);
        }
      } finally {
        credential.stop();
        clearInterval(heartbeat);
        unsubscribe();
        res.end();
      }
    },
  );
}
