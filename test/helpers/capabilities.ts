/**
 * Helpers for capability tests: set a tenant's policies (the shipped set plus capability rules)
 * and define capabilities through the real admin API.
 */
import assert from 'node:assert/strict';
import { DEFAULT_POLICIES_TEXT } from '../../harness/policy/policy-set.ts';
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { issueBrokerToken } from '../../protocol/broker-token.ts';
import { AUDIT_SHARDS, auditStreamKey } from '../../protocol/redis-keys.ts';
import type { AuditDraft } from '../../protocol/audit/entry.ts';
import type { BrokerCallResult } from '../../protocol/capability.ts';
import { AGENTS, type Stack } from './stack.ts';

export const adminHeaders = (key: string) => ({ authorization: `Bearer ${key}` });

/** The shipped policies plus `extra`, activated for the admin's tenant. */
export async function activatePolicies(stack: Stack, adminKey: string, extra: string): Promise<void> {
  const res = await stack.app.inject({
    method: 'PUT',
    url: '/v1/admin/policies/active',
    headers: adminHeaders(adminKey),
    payload: { text: `${DEFAULT_POLICIES_TEXT}\n${extra}` },
  });
  assert.equal(res.statusCode, 200, res.body);
}

export async function resetPolicies(stack: Stack, adminKey: string): Promise<void> {
  await stack.app.inject({ method: 'DELETE', url: '/v1/admin/policies/active', headers: adminHeaders(adminKey) });
}

export async function putCapability(stack: Stack, adminKey: string, name: string, body: Record<string, unknown>): Promise<void> {
  const res = await stack.app.inject({ method: 'PUT', url: `/v1/admin/capabilities/${name}`, headers: adminHeaders(adminKey), payload: body });
  assert.ok(res.statusCode === 201 || res.statusCode === 200, res.body);
}

export async function putCredential(stack: Stack, adminKey: string, name: string, body: Record<string, unknown>): Promise<void> {
  const res = await stack.app.inject({ method: 'PUT', url: `/v1/admin/credentials/${name}`, headers: adminHeaders(adminKey), payload: body });
  assert.ok(res.statusCode === 201 || res.statusCode === 200, res.body);
}

/** Permits `capabilities.invoke` of `names` to every agent of the tenant. */
export function permitInvoke(id: string, names: readonly string[]): string {
  return `@id("${id}") permit (principal is Airlock::Agent, action == Airlock::Action::"capabilities.invoke", resource)
    when { ${names.map((n) => `resource == Airlock::Capability::"${n}"`).join(' || ')} };`;
}

/** Every draft on the audit transport streams (optionally of one task), in stream order per shard. */
export async function auditDrafts(redis: Redis, taskId?: string): Promise<AuditDraft[]> {
  const out: AuditDraft[] = [];
  for (let s = 0; s < AUDIT_SHARDS; s++) {
    const entries = await redis.xrange(auditStreamKey(s), '-', '+');
    for (const [, fields] of entries) {
      const i = fields.indexOf('e');
      if (i < 0) continue;
      const draft = JSON.parse(fields[i + 1] as string) as AuditDraft;
      if (!taskId || draft.taskId === taskId) out.push(draft);
    }
  }
  return out;
}

/** Everything on the audit transport streams as raw text (to search for secrets). */
export async function auditText(redis: Redis): Promise<string> {
  const parts: string[] = [];
  for (let s = 0; s < AUDIT_SHARDS; s++) parts.push(JSON.stringify(await redis.xrange(auditStreamKey(s), '-', '+')));
  return parts.join('\n');
}

/**
 * A task record as a runner leaves it once it started attempt `attempt`, with the broker token
 * the runner would make for it (protocol/broker-token.ts): for calling the broker directly.
 */
export async function runningTask(
  stack: Stack,
  capabilities: readonly string[],
  /** `agentId`: an agent of tenant `acme` by id (one with a stored record), instead of a config agent. */
  options: { attempt?: number; agent?: keyof typeof AGENTS; agentId?: string } = {},
): Promise<{ id: string; token: string; attempt: number }> {
  const id = randomUUID();
  const attempt = options.attempt ?? 1;
  const agent = options.agentId !== undefined ? { tenantId: 'acme', agentId: options.agentId } : AGENTS[options.agent ?? 'alice'];
  await stack.deps.store.create({
    id,
    tenantId: agent.tenantId,
    agentId: agent.agentId,
    status: 'running',
    runtime: 'javascript',
    createdAt: new Date().toISOString(),
    limits: { timeoutMs: 30_000, cpuMs: 30_000, memoryMb: 64, outputBytes: 1024 * 1024 },
    metadata: {},
    attempts: attempt,
    capabilities: [...capabilities],
    principalKind: 'agent',
  });
  const token = await issueBrokerToken(stack.deps.redis, id, attempt);
  assert.ok(token);
  return { id, token, attempt };
}

/** POST /v1/broker/calls on the stack's broker listener. */
export async function callBroker(
  stack: Stack,
  token: string,
  call: { taskId: string; attempt: number; seq: number; name: string; input: unknown; approvalWaitMs?: number },
): Promise<{ status: number; body: BrokerCallResult & { code?: string } }> {
  const res = await fetch(`${stack.brokerUrl}/v1/broker/calls`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ version: 'v1', ...call }),
  });
  return { status: res.status, body: (await res.json()) as BrokerCallResult & { code?: string } };
}
