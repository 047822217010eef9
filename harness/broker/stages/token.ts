/**
 * Stage: the broker token. Only the live token of the task attempt the call names is accepted
 * (protocol/broker-token.ts: the record keeps its hash while that attempt runs): a call for a
 * finished task, another task's or attempt's token, a replayed old token or anything else (an
 * agent's API key) is refused. The task facts the other stages need are read with it.
 */
import type { Redis } from 'ioredis';
import { BROKER_TOKEN_FIELDS, verifyBrokerToken, type BrokerTokenRefusal } from '../../../protocol/broker-token.ts';
import { redisKeys } from '../../../protocol/redis-keys.ts';
import type { TaskFacts } from './context.ts';

export type TokenVerdict = { ok: true; task: TaskFacts } | { ok: false; reason: BrokerTokenRefusal | 'no_bearer'; tenantId?: string; agentId?: string };

const FACT_FIELDS = ['tenantId', 'agentId', 'capabilities', 'principalKind', 'actingFor'] as const;

export async function tokenStage(redis: Redis, authorization: string | undefined, taskId: string, attempt: number): Promise<TokenVerdict> {
  const m = /^Bearer ([^\s]+)$/.exec(authorization ?? '');
  // The facts and the token's fields in one read of the record: the facts are used only if the
  // token checks out (protocol/broker-token.ts decides on the fields it would read itself).
  const fields = await redis.hmget(redisKeys.task(taskId), ...FACT_FIELDS, ...BROKER_TOKEN_FIELDS);
  const facts = factsOf(fields);
  const [status, attempts, stored] = fields.slice(FACT_FIELDS.length);
  const check = m ? verifyBrokerToken({ status: status ?? null, attempts: attempts ?? null, stored: stored ?? null }, attempt, m[1] as string) : null;
  const who = facts ? { tenantId: facts.tenantId, agentId: facts.agentId } : {};
  if (!m || !check) return { ok: false, reason: 'no_bearer', ...who };
  if (!check.ok) return { ok: false, reason: check.reason, ...who };
  if (!facts) return { ok: false, reason: 'no_task' };
  return { ok: true, task: facts };
}

function factsOf(fields: (string | null)[]): TaskFacts | null {
  const [tenantId, agentId, capabilities, principalKind, actingFor] = fields;
  if (!tenantId || !agentId) return null;
  let declared: string[] = [];
  try {
    const parsed: unknown = capabilities ? JSON.parse(capabilities) : [];
    if (Array.isArray(parsed)) declared = parsed.filter((x): x is string => typeof x === 'string');
  } catch {
    declared = [];
  }
  return {
    tenantId,
    agentId,
    capabilities: declared,
    principalKind: principalKind === 'user' ? 'user' : 'agent',
    ...(actingFor ? { actingFor } : {}),
  };
}
