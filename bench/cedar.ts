/**
 * Cedar decision latency from Node (cedar-wasm, preparsed policy set and schema) with the
 * shipped policy set: a mix of the decisions the harness makes per request. In-process, no I/O.
 * Runnable alone: `node --import tsx bench/cedar.ts`.
 */
import type { Principal } from '../harness/auth/principal.ts';
import { Authorizer, type AuthzAction, type AuthzContext, type AuthzResource } from '../harness/policy/authorizer.ts';
import { DEFAULT_POLICIES_TEXT, compilePolicySet } from '../harness/policy/policy-set.ts';
import { summarize, type Summary } from './stats.ts';

export interface CedarBenchResult {
  decision: Summary;
  perAction: Record<string, Summary>;
}

export function cedarBench(warmup = 1000, samples = 5000): CedarBenchResult {
  const sets = { active: compilePolicySet(DEFAULT_POLICIES_TEXT), shadow: null };
  const authorizer = new Authorizer();
  const agent: Principal = { tenantId: 'acme', agentId: 'alice', id: 'alice', kind: 'agent', roles: [] };
  const admin: Principal = { tenantId: 'acme', agentId: 'root', id: 'root', kind: 'user', roles: ['admin'] };
  const cases: [Principal, AuthzAction, AuthzResource, AuthzContext][] = [
    [agent, 'tasks.create', { type: 'Runtime', id: 'javascript' }, { timeoutMs: 30_000, memoryMb: 64, mounts: 0 }],
    [agent, 'tasks.read', { type: 'Task', id: 't1', ownerId: 'alice', runtime: 'javascript' }, {}],
    [agent, 'tasks.cancel', { type: 'Task', id: 't2', ownerId: 'bob', runtime: 'python' }, {}],
    [agent, 'grants.mount', { type: 'Grant', id: 'data', mode: 'ro', allowedAgents: ['alice', 'bob'] }, { mode: 'rw' }],
    [admin, 'admin.manage', { type: 'Tenant', id: 'acme' }, {}],
    // Capability calls (input as tags): no permit in the shipped set, and the approval question.
    [agent, 'capabilities.invoke', { type: 'Capability', id: 'http.fetch', risk: 'low', input: { url: 'https://example.com/' } },
      { capability: 'http.fetch' }],
    [agent, 'capabilities.requireApproval', { type: 'Capability', id: 'email.send', risk: 'high', input: { to: 'a@b.c', n: 1 } },
      { capability: 'email.send' }],
  ];
  const all: number[] = [];
  const per = new Map<string, number[]>();
  for (let i = 0; i < warmup + samples; i++) {
    const [p, action, resource, context] = cases[i % cases.length]!;
    const t0 = performance.now();
    authorizer.decide(sets, p, action, resource, context);
    const ms = performance.now() - t0;
    if (i < warmup) continue;
    all.push(ms);
    const list = per.get(action) ?? [];
    list.push(ms);
    per.set(action, list);
  }
  return { decision: summarize(all), perAction: Object.fromEntries([...per].map(([a, v]) => [a, summarize(v)])) };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const r = cedarBench();
  const f = (s: Summary) => `p50 ${(s.p50 * 1000).toFixed(0)} µs, p99 ${(s.p99 * 1000).toFixed(0)} µs (n=${s.n})`;
  console.log(`Cedar decision, shipped policy set: ${f(r.decision)}`);
  for (const [a, s] of Object.entries(r.perAction)) console.log(`  ${a}: ${f(s)}`);
}
