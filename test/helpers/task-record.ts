import { randomUUID } from 'node:crypto';
import type { TaskRecord } from '../../protocol/task-store.ts';

/** A new queued `1+1`-sized task record (not yet stored), owned by `tenantId`/`agentId`. */
export function queuedTaskRecord(tenantId = 'acme', agentId = 'alice'): TaskRecord {
  return {
    id: randomUUID(),
    tenantId,
    agentId,
    status: 'queued',
    runtime: 'javascript',
    createdAt: new Date().toISOString(),
    limits: { timeoutMs: 1000, cpuMs: 1000, memoryMb: 64, outputBytes: 1024 },
    metadata: {},
    attempts: 0,
  };
}
