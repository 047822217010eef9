/**
 * The audit API (docs/audit.md): a task's trace (with inclusion proofs on request: then the
 * answer is a trace bundle the offline verifier checks with the public key alone), filtered
 * reads of the tenant's log, the latest checkpoint, the public key, consistency proofs and the
 * verification walk. Entries appear once the sealer has made them durable (within
 * AUDIT_FSYNC_MS, at once for admin changes); answers say how far the log is sealed.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { toBase64 } from '../../protocol/audit/bytes.ts';
import { canonicalJson } from '../../protocol/audit/canonical-json.ts';
import { entryContent } from '../../protocol/audit/chain.ts';
import { AuditActionSchema, AuditOutcomeSchema, SealedEntrySchema } from '../../protocol/audit/entry.ts';
import { encodeVerifierKey } from '../../protocol/audit/note.ts';
import { TRACE_BUNDLE_FORMAT, TraceBundleSchema } from '../../protocol/audit/verify-bundle.ts';
import type { TaskStore } from '../../protocol/task-store.ts';
import type { AuditReader } from '../audit/audit-reader.ts';
import type { Principal } from '../auth/principal.ts';
import type { PolicyGate } from '../policy/gate.ts';
import { ForbiddenError, InvalidRequestError, NotFoundError, NotReadyError } from '../problems.ts';
import { NoQuerySchema, ProblemSchema, TaskParamsSchema } from '../schemas/tasks.ts';

export interface AuditRoutesOptions {
  reader: AuditReader;
  store: TaskStore;
  policy: PolicyGate;
  principalOf: (request: FastifyRequest) => Principal;
}

const errors = { 400: ProblemSchema, 401: ProblemSchema, 403: ProblemSchema, 404: ProblemSchema, 503: ProblemSchema };
const BoolQuery = z.enum(['true', 'false']).optional();
const SeqQuery = z.coerce.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const AuditQuerySchema = z.strictObject({
  taskId: z.string().min(1).max(200).optional(),
  agentId: z.string().min(1).max(200).optional(),
  userId: z.string().min(1).max(200).optional(),
  action: AuditActionSchema.optional(),
  outcome: AuditOutcomeSchema.optional(),
  since: z.iso.datetime().optional(),
  until: z.iso.datetime().optional(),
  limit: z.coerce.number().int().min(1).max(100).default(50),
  /** `nextCursor` of the previous page (the seq to continue from). */
  cursor: z.string().regex(/^[1-9][0-9]{0,15}$/).optional(),
});
const TraceSchema = z.strictObject({ taskId: z.string(), sealedSize: z.number().int(), entries: z.array(SealedEntrySchema) });
const CheckpointSchema = z.strictObject({ origin: z.string(), size: z.number().int(), rootHash: z.string(), note: z.string() });
/** Entries a filtered read looks at per request, whatever it finds (bounded work). */
const MAX_SCAN = 10_000;

export async function auditRoutes(app: FastifyInstance, options: AuditRoutesOptions): Promise<void> {
  const { reader, store, policy, principalOf } = options;
  const api = app.withTypeProvider<ZodTypeProvider>();

  /** Admins and auditors of the tenant (policy `audit.read`). */
  const mayAudit = async (request: FastifyRequest, principal: Principal) =>
    (await policy.decide(request, principal, 'audit.read', { type: 'Tenant', id: principal.tenantId })).allowed;
  const requireAuditor = async (request: FastifyRequest): Promise<Principal> => {
    const principal = principalOf(request);
    if (!(await mayAudit(request, principal))) throw new ForbiddenError('This route needs the admin or auditor role');
    return principal;
  };
  const checkpointOf = (tenant: string) => {
    const latest = reader.latestCheckpoint(tenant);
    if (!latest) throw new NotReadyError('No signed checkpoint yet; the sealer signs one within 10 s of the first entry');
    return latest;
  };

  api.get(
    '/v1/tasks/:id/trace',
    { schema: { params: TaskParamsSchema, querystring: z.strictObject({ proofs: BoolQuery }), response: { 200: z.union([TraceSchema, TraceBundleSchema]), ...errors } } },
    async (request) => {
      const principal = principalOf(request);
      const { id } = request.params;
      const task = await store.get(id);
      if (task) request.auditTask = { id, metadata: task.metadata };
      const owner =
        task !== null &&
        task.tenantId === principal.tenantId &&
        (await policy.decide(request, principal, 'tasks.read', { type: 'Task', id, ownerId: task.agentId, runtime: task.runtime })).allowed;
      const tenant = principal.tenantId;
      // A task whose record expired keeps its trace; then only auditors read it.
      if (!owner && !((task === null || task.tenantId === tenant) && (await mayAudit(request, principal)))) {
        throw new NotFoundError(`Task ${id} not found`);
      }
      const entries = reader.taskEntries(tenant, id);
      if (task === null && entries.length === 0) throw new NotFoundError(`Task ${id} not found`);
      if (request.query.proofs !== 'true') return { taskId: id, sealedSize: reader.sealedSize(tenant), entries };
      const { note, checkpoint } = checkpointOf(tenant);
      const covered = entries.filter((e) => e.seq <= checkpoint.size);
      const tree = covered.length > 0 ? reader.tree(tenant, checkpoint.size) : null;
      return {
        format: TRACE_BUNDLE_FORMAT as typeof TRACE_BUNDLE_FORMAT,
        taskId: id,
        origin: checkpoint.origin,
        checkpoint: note,
        entries: covered.map((e) => canonicalJson(entryContent(e))),
        proofs: covered.map((e) => ({
          seq: e.seq,
          treeSize: checkpoint.size,
          hashes: (tree as NonNullable<typeof tree>).inclusionProof(e.seq - 1, checkpoint.size).map(toBase64),
        })),
        pending: entries.length - covered.length,
      };
    },
  );

  api.get(
    '/v1/audit',
    { schema: { querystring: AuditQuerySchema, response: { 200: z.strictObject({ items: z.array(SealedEntrySchema), nextCursor: z.string().nullable() }), ...errors } } },
    async (request) => {
      const principal = await requireAuditor(request);
      const { limit, cursor, ...filter } = request.query;
      const page = reader.scan(principal.tenantId, cursor ? Number(cursor) : 1, filter, limit, MAX_SCAN);
      return { items: page.items, nextCursor: page.nextSeq === null ? null : String(page.nextSeq) };
    },
  );

  api.get(
    '/v1/audit/checkpoint',
    { schema: { querystring: NoQuerySchema, response: { 200: CheckpointSchema, ...errors } } },
    async (request) => {
      const { note, checkpoint } = checkpointOf(principalOf(request).tenantId);
      return { origin: checkpoint.origin, size: checkpoint.size, rootHash: toBase64(checkpoint.rootHash), note };
    },
  );

  api.get(
    '/v1/audit/public-key',
    { schema: { querystring: NoQuerySchema, response: { 200: z.strictObject({ algorithm: z.literal('Ed25519'), origin: z.string(), verifierKey: z.string(), publicKey: z.string() }), ...errors } } },
    async (request) => {
      const key = reader.keyInfo();
      const origin = reader.origin(principalOf(request).tenantId);
      if (!key || !origin) throw new NotReadyError('The audit sealer has not published its key yet');
      return { algorithm: 'Ed25519' as const, origin, verifierKey: encodeVerifierKey(origin, key.publicKey), publicKey: toBase64(key.publicKey) };
    },
  );

  api.get(
    '/v1/audit/consistency',
    { schema: { querystring: z.strictObject({ from: SeqQuery.default(0), to: SeqQuery.optional() }), response: { 200: z.strictObject({ from: z.number(), to: z.number(), hashes: z.array(z.string()) }), ...errors } } },
    async (request) => {
      const tenant = principalOf(request).tenantId;
      const sealed = reader.sealedSize(tenant);
      const { from, to = sealed } = request.query;
      if (from > to || to > sealed) throw new InvalidRequestError(`Need 0 ≤ from ≤ to ≤ ${sealed} (entries sealed)`);
      const hashes = from === 0 || from === to ? [] : reader.tree(tenant, to).consistencyProof(from, to).map(toBase64);
      return { from, to, hashes };
    },
  );

  api.get(
    '/v1/audit/verify',
    { schema: { querystring: NoQuerySchema, response: { 200: z.strictObject({ ok: z.boolean(), entries: z.number(), checkpoints: z.number(), firstBroken: z.strictObject({ seq: z.number(), reason: z.string() }).optional() }), ...errors } } },
    async (request) => reader.verify((await requireAuditor(request)).tenantId),
  );
}
