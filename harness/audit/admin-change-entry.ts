/**
 * Records an admin change (a credential or capability written or removed) before it is made:
 * if the entry cannot be written the change is not made (503), so nothing changes unaudited.
 */
import type { FastifyRequest } from 'fastify';
import type { AuditProducer } from '../../protocol/audit/producer.ts';
import type { Principal } from '../auth/principal.ts';
import { NotReadyError } from '../problems.ts';

export async function recordAdminChange(
  audit: AuditProducer,
  request: FastifyRequest,
  principal: Principal,
  action: string,
  details: Record<string, string | number | boolean | null>,
): Promise<void> {
  try {
    await audit.append({
      tenant: principal.tenantId,
      action,
      outcome: 'success',
      agentId: principal.id,
      ...(principal.actingFor ? { userId: principal.actingFor } : {}),
      ...(principal.keyId ? { keyId: principal.keyId } : {}),
      requestId: request.id,
      details,
    });
  } catch (err) {
    request.log.error({ err }, `audit entry ${action} could not be written`);
    throw new NotReadyError('The audit log cannot be written right now; nothing was changed');
  }
}
