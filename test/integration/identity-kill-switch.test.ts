/**
 * The kill switch: disabling an agent through the admin API cancels its queued and running
 * tasks and refuses its keys and tokens from the next request on. Real app (inject), real
 * Redis, real in-process runner with isolate hosts running real busy-looping tasks.
 *
 * The race test builds a second real app on the same deps whose security path is the standard
 * one plus a test hook that holds POST /v1/tasks after authentication until the test releases
 * it: that is how it orders "authenticated → disable and sweep → task record written" without
 * mocking anything.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import { buildApp, standardSecurityPath, type SecurityPath } from '../../harness/app.ts';
import {
  bearer,
  createPrincipalWithKey,
  createTenant,
  mintToken,
  type TenantFixture,
} from '../helpers/identity.ts';
import { startStack, type Stack } from '../helpers/stack.ts';

const BOOTSTRAP_KEY = `bootstrap-${randomUUID()}`;
let stack: Stack;
let t: TenantFixture;

before(async () => {
  stack = await startStack({ harnessEnv: { AIRLOCK_ADMIN_API_KEY: BOOTSTRAP_KEY } });
  t = await createTenant(stack, BOOTSTRAP_KEY);
});
after(async () => {
  await stack.close();
});

const submitLoop = async (key: string) => {
  const res = await stack.app.inject({
    method: 'POST',
    url: '/v1/tasks',
    headers: { ...bearer(key), 'idempotency-key': `"${randomUUID()}"` },
    payload: { runtime: 'javascript', code: 'for (;;) {}', timeoutMs: 120_000 },
  });
  assert.equal(res.statusCode, 201, res.body);
  return res.json().id as string;
};

/** Reads the task record straight from the store (the agent's own credentials are dead by then). */
async function waitForStatus(id: string, want: (s: string) => boolean): Promise<string> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const status = (await stack.deps.store.get(id))?.status ?? 'missing';
    if (want(status) || Date.now() > deadline) return status;
    await new Promise((r) => setTimeout(r, 25));
  }
}

test('disabling an agent cancels its running and queued tasks and kills its keys and tokens', async () => {
  const agent = await createPrincipalWithKey(stack, t.adminKey, 'agent');
  const bystander = await createPrincipalWithKey(stack, t.adminKey, 'agent');
  const token = await mintToken(stack, agent.key);

  // Two isolate hosts: the first two loops run, the third waits in the queue.
  const running = await submitLoop(agent.key);
  assert.equal(await waitForStatus(running, (s) => s === 'running'), 'running');
  const other = await submitLoop(bystander.key);
  assert.equal(await waitForStatus(other, (s) => s === 'running'), 'running');
  const queued = await submitLoop(token);
  assert.equal((await stack.deps.store.get(queued))?.status, 'queued');

  const res = await stack.app.inject({
    method: 'POST',
    url: `/v1/admin/agents/${agent.id}/disable`,
    headers: bearer(t.adminKey),
  });
  assert.equal(res.statusCode, 200, res.body);
  assert.equal(res.json().cancelledTasks, 2);

  for (const id of [running, queued]) {
    const task = await stack.deps.store.get(id);
    assert.equal(task?.status, 'cancelled', id);
    assert.equal(task?.error?.code, 'cancelled');
  }
  // The bystander's task is untouched.
  assert.equal((await stack.deps.store.get(other))?.status, 'running');
  for (const credential of [agent.key, token]) {
    const denied = await stack.app.inject({
      method: 'GET',
      url: `/v1/tasks/${running}`,
      headers: bearer(credential),
    });
    assert.equal(denied.statusCode, 401);
  }
  // The runner really stopped the running loop: the host is free again for a new task.
  const next = await stack.app.inject({
    method: 'POST',
    url: '/v1/tasks',
    headers: { ...bearer(bystander.key), 'idempotency-key': `"${randomUUID()}"` },
    payload: { runtime: 'javascript', code: '6 * 7', wait: 20 },
  });
  assert.equal(next.json().status, 'succeeded', next.body);
  assert.equal(next.json().result.value, 42);
  await stack.app.inject({
    method: 'DELETE',
    url: `/v1/tasks/${other}`,
    headers: bearer(bystander.key),
  });
});

test('a create authenticated before the disable whose record is written after the sweep never runs', async () => {
  const agent = await createPrincipalWithKey(stack, t.adminKey, 'agent');
  // Holds each POST /v1/tasks after authentication (preHandler: the principal is set, the
  // handler that writes the record has not run) until `release` is called.
  let reached: () => void = () => {};
  const atGate = new Promise<void>((resolve) => (reached = resolve));
  let release: () => void = () => {};
  const gate = new Promise<void>((resolve) => (release = resolve));
  const gated: SecurityPath = (v1, ctx) => {
    standardSecurityPath(v1, ctx);
    v1.addHook('preHandler', async (request) => {
      if (request.method !== 'POST' || request.routeOptions.url !== '/v1/tasks') return;
      reached();
      await gate;
    });
  };
  const app = await buildApp(stack.deps, gated);
  try {
    const pending = app.inject({
      method: 'POST',
      url: '/v1/tasks',
      headers: { ...bearer(agent.key), 'idempotency-key': `"${randomUUID()}"` },
      payload: { runtime: 'javascript', code: '6 * 7' },
    });
    await atGate;
    const disabled = await stack.app.inject({
      method: 'POST',
      url: `/v1/admin/agents/${agent.id}/disable`,
      headers: bearer(t.adminKey),
    });
    assert.equal(disabled.statusCode, 200, disabled.body);
    // The sweep ran before the record existed: it had nothing to cancel.
    assert.equal(disabled.json().cancelledTasks, 0);
    release();
    const res = await pending;
    assert.equal(res.statusCode, 201, res.body);
    const id = res.json().id as string;
    // The runner is live: without the re-check the task would be queued and run to `succeeded`.
    const status = await waitForStatus(id, (s) => s !== 'queued' && s !== 'running');
    assert.equal(status, 'cancelled');
    assert.equal(res.json().status, 'cancelled', res.body);
    assert.equal((await stack.deps.store.get(id))?.error?.code, 'cancelled');
    const events = await stack.deps.store.readEvents(id);
    assert.deepEqual(
      events.map((e) => (e.event.type === 'status' ? e.event.status : e.event.type)),
      ['queued', 'cancelled'],
      'the task never started',
    );
    assert.equal(await stack.deps.queue.getJob(id), undefined, 'no job was queued for it');
  } finally {
    release();
    await app.close();
  }
});
