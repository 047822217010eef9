/**
 * The approvals API: `GET /v1/approvals?status=`, `GET /v1/approvals/:id`,
 * `POST /v1/approvals/:id/approve` and `/deny` (`{ reason? }`, optional `Idempotency-Key`).
 * Who decides: see {@link requireDecider}. Another tenant's request is a 404 like an unknown id
 * (looked up in the caller's tenant first, before anything else is said about it).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { ApprovalSchema, ApprovalStatusSchema, type Approval } from '../../protocol/approval.ts';
import type { AuditProducer } from '../../protocol/audit/producer.ts';
import type { Principal } from '../auth/principal.ts';
import type { Idempotency } from '../plugins/idempotency.ts';
import type { PolicyGate } from '../policy/gate.ts';
import { ApprovalNotPendingError, ForbiddenError, InsufficientScopeError, InvalidRequestError, NotFoundError, NotReadyError } from '../problems.ts';
import { NoQuerySchema, ProblemSchema } from '../schemas/tasks.ts';
import type { ApprovalStore } from './approval-store.ts';

export interface ApprovalRoutesOptions {
  store: ApprovalStore;
  idempotency: Idempotency;
  audit: AuditProducer;
  principalOf: (request: FastifyRequest) => Principal;
  /** Cedar: `approvals.selfApprove` (see {@link requireDecider}). */
  policy: PolicyGate;
}

const DECIDER_ROLES = ['approver', 'admin'];
const ParamsSchema = z.strictObject({ id: z.string().min(1).max(100) });
const ListQuerySchema = z.strictObject({
  status: ApprovalStatusSchema.default('pending'),
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: z.string().max(200).optional(),
});
const DecisionBodySchema = z.strictObject({ reason: z.string().min(1).max(1000).optional() }).optional();
const errors = { 400: ProblemSchema, 401: ProblemSchema, 403: ProblemSchema, 404: ProblemSchema, 409: ProblemSchema, 503: ProblemSchema };

/**
 * Only a human of the tenant with the `approver` or `admin` role, authenticated with their own
 * unscoped API key, reads and decides approvals: never an agent, never a task token (those are
 * agents), never a scoped key (a scope list grants only the actions it names, and no scope names
 * approvals). Deciding a request of a task that acts for the deciding user, or that they created,
 * is self-approval: refused unless a Cedar policy permits `approvals.selfApprove` for it
 * ({@link requireSelfApprovalAllowed}; nothing permits it by default).
 */
function requireDecider(principal: Principal): void {
  const refusal = deciderRefusal(principal);
  if (refusal) throw refusal;
}

/**
 * Why `principal` may not read (without `approval`) or decide (with it) approvals, or null when
 * it may. The console asks it only to leave out buttons that would be refused; the routes below
 * enforce it. With `approval`, self-approval counts as refused here (the console then shows no
 * buttons; whether a policy permits it is asked only when deciding: {@link requireSelfApprovalAllowed}).
 */
export function deciderRefusal(principal: Principal, approval?: Approval): Error | null {
  if (principal.kind !== 'user' || principal.tokenId !== undefined || principal.actingFor !== undefined) {
    return new ForbiddenError('Only a user with the approver or admin role decides approvals');
  }
  if (principal.scopes !== undefined) return new InsufficientScopeError('A scoped credential cannot read or decide approvals');
  if (!principal.roles.some((r) => DECIDER_ROLES.includes(r))) {
    return new ForbiddenError('Only a user with the approver or admin role decides approvals');
  }
  if (approval && isSelf(principal, approval)) {
    return new ForbiddenError('The user a task acts for (or who created it) cannot decide its calls unless a policy permits self-approval');
  }
  return null;
}

/** Whether deciding `approval` would be self-approval for `principal`. */
function isSelf(principal: Principal, approval: Approval): boolean {
  return principal.id === approval.actingFor || (approval.principalKind === 'user' && principal.id === approval.agentId);
}

/**
 * Self-approval only where a policy explicitly permits it: Cedar `approvals.selfApprove` with the
 * deciding user, the call's capability (risk, and its input as shown, as tags) and the decision.
 * The decision is recorded (audit) like every other.
 */
async function requireSelfApprovalAllowed(
  policy: PolicyGate,
  request: FastifyRequest,
  principal: Principal,
  approval: Approval,
  decision: 'approve' | 'deny',
): Promise<void> {
  if (!isSelf(principal, approval)) return;
  const input = approval.input && typeof approval.input === 'object' && !Array.isArray(approval.input) ? (approval.input as Record<string, unknown>) : {};
  const verdict = await policy.decide(
    request,
    principal,
    'approvals.selfApprove',
    { type: 'Capability', id: approval.capability, risk: approval.risk, input },
    { capability: approval.capability, decision },
  );
  if (!verdict.allowed) {
    throw new ForbiddenError('The user a task acts for (or who created it) cannot decide its calls: no policy permits self-approval');
  }
}

function notPending(approval: Approval): Error {
  return Object.assign(new ApprovalNotPendingError(`Approval ${approval.id} is already ${approval.status}`), {
    problemExtensions: { state: approval.status, approval },
  });
}

export async function approvalRoutes(app: FastifyInstance, options: ApprovalRoutesOptions): Promise<void> {
  const { store, idempotency, audit, principalOf, policy } = options;
  const api = app.withTypeProvider<ZodTypeProvider>();

  const find = async (principal: Principal, id: string): Promise<Approval> => {
    const approval = await store.get(principal.tenantId, id);
    if (!approval) throw new NotFoundError(`Approval ${id} not found`);
    return approval;
  };

  api.get(
    '/v1/approvals',
    {
      schema: {
        querystring: ListQuerySchema,
        response: { 200: z.strictObject({ items: z.array(ApprovalSchema), nextCursor: z.string().nullable() }), ...errors },
      },
    },
    async (request) => {
      const principal = principalOf(request);
      requireDecider(principal);
      const { status, limit, cursor } = request.query;
      const page = await store.list(principal.tenantId, status, decodeCursor(cursor), limit);
      // Without the code (up to 64 KiB each): GET /v1/approvals/:id has it.
      const items = page.items.map(({ code: _code, ...rest }) => rest);
      return { items, nextCursor: page.next ? encodeCursor(page.next) : null };
    },
  );

  api.get(
    '/v1/approvals/:id',
    { schema: { querystring: NoQuerySchema, params: ParamsSchema, response: { 200: ApprovalSchema, ...errors } } },
    async (request) => {
      const principal = principalOf(request);
      const approval = await find(principal, request.params.id);
      requireDecider(principal);
      return approval;
    },
  );

  for (const verb of ['approve', 'deny'] as const) {
    const to = verb === 'approve' ? 'approved' : 'denied';
    api.post(
      `/v1/approvals/:id/${verb}`,
      { schema: { querystring: NoQuerySchema, params: ParamsSchema, body: DecisionBodySchema, response: { 200: ApprovalSchema, ...errors } } },
      async (request, reply) => {
        const principal = principalOf(request);
        if (await idempotency.guard(request, reply, principal, false)) return reply;
        const approval = await find(principal, request.params.id);
        requireDecider(principal);
        await requireSelfApprovalAllowed(policy, request, principal, approval, verb);
        if (approval.status !== 'pending') throw notPending(approval);
        const reason = request.body?.reason;
        const entry = {
          tenant: principal.tenantId,
          agentId: principal.id,
          ...(principal.keyId ? { keyId: principal.keyId } : {}),
          taskId: approval.taskId,
          requestId: request.id,
        };
        const details = {
          approvalId: approval.id,
          capability: approval.capability,
          seq: approval.seq,
          bindingSha256: approval.bindingSha256,
          taskAgentId: approval.agentId,
          ...(approval.actingFor ? { actingFor: approval.actingFor } : {}),
          ...(reason ? { reason } : {}),
        };
        // Fail closed: a decision that cannot be recorded is not made.
        try {
          await audit.append({ ...entry, action: `approval.${to}`, outcome: 'success', details });
        } catch (err) {
          request.log.error({ err }, 'audit entry of an approval decision could not be written');
          throw new NotReadyError('The audit log cannot be written right now; nothing was decided');
        }
        const settled = await store.settle(principal.tenantId, approval.id, to, 'decide', { userId: principal.id, reason });
        if (settled.outcome === 'missing') throw new NotFoundError(`Approval ${approval.id} not found`);
        if (settled.outcome === 'refused') {
          // Decided or expired between the read and the script: the entry above did not take effect.
          await audit
            .append({ ...entry, action: 'approval.decision.void', outcome: 'failure', details: { ...details, status: settled.approval.status } })
            .catch((err: unknown) => request.log.error({ err }, 'audit entry of a void approval decision could not be written'));
          throw notPending(settled.approval);
        }
        return reply.code(200).send(settled.approval);
      },
    );
  }
}

function encodeCursor(cursor: { score: number; id: string }): string {
  return Buffer.from(`${cursor.score}:${cursor.id}`).toString('base64url');
}

function decodeCursor(raw: string | undefined): { score: number; id: string } | null {
  if (!raw) return null;
  const [score, id] = Buffer.from(raw, 'base64url').toString('utf8').split(':');
  if (!id || !Number.isFinite(Number(score))) throw new InvalidRequestError('cursor is not valid: pass the nextCursor of a previous page');
  return { score: Number(score), id };
}
