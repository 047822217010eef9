/**
 * Agents of this test run only. The fixture's AGENTS have fixed tenant/agent ids (acme/alice, …),
 * so every stack on the same Redis shares their task index and GET /v1/tasks would see the tasks
 * of other test files running at the same time. This writes an agents file that maps the same
 * API keys (so `stack.headers('alice')` keeps working) to tenant ids unique to this run:
 * alice and bob share one tenant, eve has another. Pass the result as `harnessEnv`.
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { hashApiKey } from '../../harness/auth/api-key-authenticator.ts';
import { AGENTS, type AgentName } from './stack.ts';

export interface RunAgents {
  harnessEnv: { AIRLOCK_AGENTS_FILE: string };
  principals: Record<AgentName, { tenantId: string; agentId: string }>;
}

export async function runAgents(): Promise<RunAgents> {
  const run = randomUUID().slice(0, 8);
  const principals: Record<AgentName, { tenantId: string; agentId: string }> = {
    alice: { tenantId: `acme-${run}`, agentId: 'alice' },
    bob: { tenantId: `acme-${run}`, agentId: 'bob' },
    eve: { tenantId: `globex-${run}`, agentId: 'eve' },
  };
  const dir = await mkdtemp(path.join(tmpdir(), 'airlock-test-'));
  const file = path.join(dir, 'agents.json');
  const agents = (Object.keys(AGENTS) as AgentName[]).map((name) => ({
    ...principals[name],
    keySha256: [hashApiKey(AGENTS[name].key)],
  }));
  await writeFile(file, JSON.stringify({ agents }));
  return { harnessEnv: { AIRLOCK_AGENTS_FILE: file }, principals };
}
