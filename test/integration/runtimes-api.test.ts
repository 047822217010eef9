/**
 * GET /v1/runtimes through the real app, a real isolate-only runner and real Cedar policies:
 * each runtime with its backend and language, available only where a live runner serves it
 * (with the reason where none does), allowed per the caller's policy, and the limits of the
 * harness's configuration.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { hashApiKey } from '../../harness/auth/api-key-authenticator.ts';
import { DEFAULT_POLICIES_TEXT } from '../../harness/policy/policy-set.ts';
import { startStack, type Stack } from '../helpers/stack.ts';

const TENANT = `runtimes-${randomUUID().slice(0, 8)}`;
const KEYS = { ann: `key-ann-${randomUUID()}`, ben: `key-ben-${randomUUID()}` };
const ADMIN_KEY = `admin-${randomUUID()}`;

interface RuntimeInfo {
  name: string;
  language: string;
  backend: string;
  available: boolean;
  unavailableReason?: string;
  allowed: boolean;
  limits: { timeoutMs: { default: number; max: number }; memoryMb: { default: number; max: number }; outputBytes: number };
}

describe('GET /v1/runtimes', () => {
  let stack: Stack;
  before(async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'airlock-runtimes-'));
    const agentsFile = path.join(dir, 'agents.json');
    await writeFile(
      agentsFile,
      JSON.stringify({
        agents: Object.entries(KEYS).map(([agentId, key]) => ({ tenantId: TENANT, agentId, keySha256: [hashApiKey(key)] })),
      }),
    );
    stack = await startStack({
      harnessEnv: {
        AIRLOCK_AGENTS_FILE: agentsFile,
        AIRLOCK_ADMIN_API_KEY: ADMIN_KEY,
        AIRLOCK_ADMIN_TENANT: TENANT,
        TASK_MAX_TIMEOUT_MS: '123000',
        TASK_DEFAULT_TIMEOUT_MS: '4000',
      },
    });
  });
  after(async () => {
    await stack?.deps.redis.del(`airlock:policies:{${TENANT}}`);
    await stack?.close();
  });

  const list = async (key: string): Promise<RuntimeInfo[]> => {
    const res = await stack.app.inject({ method: 'GET', url: '/v1/runtimes', headers: { authorization: `Bearer ${key}` } });
    assert.equal(res.statusCode, 200, res.body);
    return (res.json() as { runtimes: RuntimeInfo[] }).runtimes;
  };

  test('every runtime, with its backend, language, availability and the configured limits', async () => {
    // The stack's runner runs isolates only: the container runtimes are not available, and say why.
    const byName = new Map((await list(KEYS.ann)).map((r) => [r.name, r]));
    assert.deepEqual([...byName.keys()].sort(), ['bash', 'javascript', 'node', 'python', 'typescript']);
    for (const name of ['javascript', 'typescript']) {
      const r = byName.get(name)!;
      assert.equal(r.backend, 'isolate');
      assert.equal(r.available, true, name);
      assert.match(r.language, /V8 \d+/);
    }
    for (const name of ['python', 'node', 'bash']) {
      const r = byName.get(name)!;
      assert.equal(r.backend, 'container');
      assert.equal(r.available, false, name);
      assert.match(r.unavailableReason ?? '', /Docker/);
    }
    const js = byName.get('javascript')!;
    assert.deepEqual(js.limits.timeoutMs, { default: 4000, max: 123000 });
    assert.equal(js.limits.memoryMb.default, stack.deps.config.TASK_DEFAULT_MEMORY_MB);
    assert.equal(byName.get('python')!.limits.memoryMb.default, stack.deps.config.TASK_DEFAULT_CONTAINER_MEMORY_MB);
    assert.equal(js.limits.outputBytes, stack.deps.config.TASK_OUTPUT_BYTES);
    assert.ok([...byName.values()].every((r) => r.allowed), 'the default policies allow every runtime');
  });

  test("`allowed` is this caller's policy decision", async () => {
    const text = `${DEFAULT_POLICIES_TEXT}\n@id("no-python-for-ben") forbid (principal == Airlock::Agent::"ben", action == Airlock::Action::"tasks.create", resource == Airlock::Runtime::"python");`;
    const put = await stack.app.inject({
      method: 'PUT',
      url: '/v1/admin/policies/active',
      headers: { authorization: `Bearer ${ADMIN_KEY}`, 'idempotency-key': `"${randomUUID()}"` },
      payload: { text },
    });
    assert.equal(put.statusCode, 200, put.body);
    const ben = new Map((await list(KEYS.ben)).map((r) => [r.name, r.allowed]));
    const ann = new Map((await list(KEYS.ann)).map((r) => [r.name, r.allowed]));
    assert.equal(ben.get('python'), false);
    assert.equal(ben.get('javascript'), true);
    assert.equal(ann.get('python'), true);
  });

  test('without a credential: 401 problem', async () => {
    const res = await stack.app.inject({ method: 'GET', url: '/v1/runtimes' });
    assert.equal(res.statusCode, 401);
    assert.match(String(res.headers['content-type']), /problem\+json/);
  });
});
