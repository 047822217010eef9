/**
 * A harness killed (SIGKILL) in the middle of a rollback. Real processes: the rollback runs in the
 * real `harness/server.ts` process (its composition root wires it), which is SIGKILLed while a
 * compensation's request hangs at the target, then a second harness process takes the rollback
 * over once the dead one's lock runs out (ROLLBACK_LOCK_MS) and completes it. The task is made
 * and run by a real in-process stack (app, runner, broker) on this file's own queue, whose own
 * rollback worker is stopped so only the processes roll back; the target is a REAL loopback HTTP
 * server (test/helpers/target-fixture.ts); Redis is real. Nothing is mocked.
 */
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import type { Compensation } from '../../protocol/compensation.ts';
import { auditDrafts, activatePolicies, permitInvoke, putCapability, resetPolicies } from '../helpers/capabilities.ts';
import { waitFor } from '../helpers/audit.ts';
import { spawnHarness, type HarnessProcess } from '../helpers/harness-process.ts';
import { pollTask, REDIS_URL, startStack, TERMINAL, writeAgentsFile, type Stack } from '../helpers/stack.ts';
import { startTargetFixture, type TargetFixture } from '../helpers/target-fixture.ts';
import { Redis } from 'ioredis';

const ADMIN_KEY = `admin-${randomUUID()}`;
let stack: Stack;
let target: TargetFixture;
let agentsFile: string;
let redis: Redis;
const harnesses: HarnessProcess[] = [];

before(async () => {
  redis = new Redis(REDIS_URL);
  target = await startTargetFixture({ tickets: 't', payments: 'p', basic: 'u:p' });
  agentsFile = await writeAgentsFile();
  stack = await startStack({
    broker: true,
    harnessEnv: {
      AIRLOCK_AGENTS_FILE: agentsFile,
      AIRLOCK_ADMIN_API_KEY: ADMIN_KEY,
      AIRLOCK_ADMIN_TENANT: 'acme',
      AIRLOCK_VAULT_KEY: randomBytes(32).toString('base64'),
      CAPABILITY_PRIVATE_TARGETS: `127.0.0.1:${target.port}`,
    },
  });
  // Only the harness processes below roll back this queue's tasks.
  await stack.rollback!.close();
  stack.rollback = null;
  const obj = (properties: Record<string, unknown>, required: string[]) => ({ type: 'object', properties, required, additionalProperties: false });
  await putCapability(stack, ADMIN_KEY, 'steps.do', {
    description: 'Does a step',
    input: obj({ name: { type: 'string' } }, ['name']),
    risk: 'write',
    implementation: { type: 'http', method: 'POST', url: `${target.base}/steps/{input.name}` },
    compensation: { capability: 'steps.undo', input: { id: '{output.id}' } },
  });
  await putCapability(stack, ADMIN_KEY, 'steps.undo', {
    description: 'Undoes a step',
    input: obj({ id: { type: 'string' } }, ['id']),
    risk: 'write',
    implementation: { type: 'http', method: 'POST', url: `${target.base}/undo/{input.id}` },
  });
  await activatePolicies(stack, ADMIN_KEY, permitInvoke('rollback-kill-caps', ['steps.do', 'steps.undo']));
  await new Promise((r) => setTimeout(r, 1100)); // the broker's policy cache
});

after(async () => {
  for (const h of harnesses) await h.kill();
  await resetPolicies(stack, ADMIN_KEY);
  await stack.close();
  await target.close();
  redis.disconnect();
});

async function startHarnessProcess(): Promise<HarnessProcess> {
  const harness = await spawnHarness({
    REDIS_URL,
    AIRLOCK_TASK_QUEUE: stack.queueName,
    AIRLOCK_AGENTS_FILE: agentsFile,
    CAPABILITY_PRIVATE_TARGETS: `127.0.0.1:${target.port}`,
    ROLLBACK_LOCK_MS: '1000',
    ROLLBACK_BACKOFF_MS: '100',
    ROLLBACK_POLL_MS: '200',
  });
  harnesses.push(harness);
  return harness;
}

test('SIGKILL mid-compensation: another harness takes the rollback over and completes it, newest call first, same key', { timeout: 120_000 }, async () => {
  const first = await startHarnessProcess();
  const tag = randomUUID();
  target.undoBehaviour.set(`st_${tag}-b`, 'hang');
  const res = await stack.app.inject({
    method: 'POST',
    url: '/v1/tasks',
    headers: stack.headers('alice'),
    payload: { runtime: 'javascript', code: `await caps.steps.do({ name: '${tag}-a' }); await caps.steps.do({ name: '${tag}-b' }); throw new Error('boom')`, capabilities: ['steps.do'] },
  });
  assert.equal(res.statusCode, 201, res.body);
  const id = res.json().id as string;
  assert.equal((await pollTask(stack, id, (t) => TERMINAL.has(t.status), 'alice', 60_000)).status, 'failed');
  await waitFor(() => target.undoTries.some((t) => t.id === `st_${tag}-b`), 'the hanging undo, sent by the first harness', 30_000);
  await first.kill();

  const view = async () => (await stack.app.inject({ method: 'GET', url: `/v1/tasks/${id}`, headers: stack.headers('alice', null) })).json() as { compensations?: Compensation[] };
  assert.deepEqual((await view()).compensations?.map((c) => c.status), ['pending', 'pending'], 'the killed harness finished nothing');

  await startHarnessProcess();
  const done = await waitFor(async () => {
    const c = (await view()).compensations;
    return c?.every((x) => x.status !== 'pending') ? c : null;
  }, 'the rollback completed by the second harness', 60_000);
  assert.deepEqual(done.map((c) => [c.call, c.status]), [[1, 'done'], [0, 'done']]);
  assert.deepEqual(target.undone.filter((u) => u.startsWith(`st_${tag}-`)), [`st_${tag}-b`, `st_${tag}-a`]);
  const tries = target.undoTries.filter((t) => t.id === `st_${tag}-b`);
  assert.equal(tries.length, 2);
  assert.equal(tries[0]!.key, tries[1]!.key, 'the try repeated after the crash carries the same Idempotency-Key');
  const started = (await auditDrafts(redis, id)).filter((e) => e.action === 'capability.compensation.started');
  assert.deepEqual(started.map((e) => (e.details as { compensates: { seq: number } }).compensates.seq), [1, 1, 0], 'each try recorded before it ran, the interrupted one too');
});
