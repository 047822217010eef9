import type { FastifyRequest } from 'fastify';
import { isTerminal } from '../../protocol/task.ts';
import type { TaskStore } from '../../protocol/task-store.ts';
import type { Principal } from '../auth/principal.ts';
import type { TaskService } from '../tasks/task-service.ts';

/** Tasks read per round trip while sweeping an agent's index. */
const PAGE = 200;

/**
 * The kill switch's second half (the first is disabling the agent, which refuses its keys and
 * tokens from the next request on): cancels every queued or running task of the agent through
 * the normal cancel path, so runners abort what they hold. Returns the ids of those cancelled.
 * Must run after the agent is disabled: a create in flight whose record this listing misses
 * sees the flag and cancels its own task (TaskService.create; keep the two in sync).
 */
export async function cancelAgentTasks(
  options: { tasks: TaskService; store: TaskStore },
  tenantId: string,
  agentId: string,
  /** The admin who disabled the agent and the request (each cancel's audit entry names them). */
  by?: { principal: Principal; request: FastifyRequest },
): Promise<string[]> {
  const owner: Principal = { tenantId, agentId, id: agentId, kind: 'agent', roles: [] };
  let cursor: { score: number; id: string } | null = null;
  const cancelled: string[] = [];
  for (;;) {
    const ids = await options.store.listIds(tenantId, agentId, cursor, PAGE);
    if (ids.length === 0) return cancelled;
    for (const entry of ids) {
      cursor = entry;
      const task = await options.store.get(entry.id);
      if (!task || isTerminal(task.status)) continue;
      const after = await options.tasks.cancel(
        owner,
        entry.id,
        'Cancelled: the agent was disabled',
        by?.request,
        by?.principal,
      );
      if (after.status === 'cancelled') cancelled.push(entry.id);
    }
  }
}
