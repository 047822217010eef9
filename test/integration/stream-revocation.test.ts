/**
 * Long answers end when their credential stops being valid: an SSE stream
 * (GET /v1/tasks/:id/events) and a POST /v1/tasks `wait` opened with a credential that is then
 * revoked (API key revoked, token jti revoked, user disabled) end within the re-check interval
 * instead of streaming (or waiting for) the task to its end. Real harness listening on a real
 * TCP port (read with node:http), real Redis, real BullMQ and a real in-process runner running
 * real, never-ending isolate tasks. Nothing is faked.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import {
  bearer,
  createPrincipalWithKey,
  createTenant,
  requestToken,
  type TenantFixture,
} from '../helpers/identity.ts';
import { redisChannels } from '../../protocol/redis-keys.ts';
import { openSse, type SseEvent } from '../helpers/sse.ts';
import { startStack, type Stack } from '../helpers/stack.ts';

const BOOTSTRAP_KEY = `bootstrap-${randomUUID()}`;
let stack: Stack;
let port: number;
let t: TenantFixture;
const cleanups: (() => void)[] = [];

before(async () => {
  stack = await startStack({ harnessEnv: { AIRLOCK_ADMIN_API_KEY: BOOTSTRAP_KEY } });
  await stack.app.listen({ port: 0, host: '127.0.0.1' });
  port = (stack.app.server.address() as AddressInfo).port;
  t = await createTenant(stack, BOOTSTRAP_KEY);
});
after(async () => {
  for (const c of cleanups) c();
  await stack.close();
});

/**
 * Prints a line about every 50 ms until its 30 s timeout: output that keeps coming is what a
 * stream must stop delivering once the credential is revoked. (Without the re-check, the
 * stream would end only with the task's `timed_out` status.)
 */
const TICKER = `
for (let i = 0; ; i++) {
  console.log('tick ' + i);
  const t = Date.now();
  while (Date.now() - t < 50) {}
}`;

async function submit(credential: string, extra: Record<string, unknown> = {}) {
  const res = await stack.app.inject({
    method: 'POST',
    url: '/v1/tasks',
    headers: { ...bearer(credential), 'idempotency-key': `"${randomUUID()}"` },
    payload: { runtime: 'javascript', code: TICKER, timeoutMs: 30_000, ...extra },
  });
  return res;
}

/** Cancels a task whatever happened to its owner's credentials (straight through the store). */
async function stop(id: string): Promise<void> {
  await stack.deps.store.transition(id, 'cancelled', ['queued', 'running'], {}, { code: 'cancelled', message: 'test over' });
  await stack.deps.redis.publish(redisChannels.cancel, id);
}

/** Waits until the task has stored an output event after `afterId` (it keeps printing). */
async function outputAfter(id: string, afterId: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const events = await stack.deps.store.readEvents(id, afterId, 10);
    if (events.some((e) => e.event.type === 'output')) return;
    assert.ok(Date.now() < deadline, `no output of task ${id} after ${afterId} within 20 s`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/**
 * Opens the stream of a fresh ticker task with `credential`, reads until output is flowing,
 * runs `revoke`, and checks the stream ends with an `error` event (401 problem) while the task
 * is still running and still printing.
 */
async function streamEndsOnRevocation(credential: string, revoke: () => Promise<void>): Promise<void> {
  const created = await submit(credential);
  assert.equal(created.statusCode, 201, created.body);
  const id = created.json().id as string;
  cleanups.push(() => void stop(id));
  const stream = await openSse(port, `/v1/tasks/${id}/events`, bearer(credential));
  cleanups.push(() => stream.close());
  assert.equal(stream.status, 200);
  const seen: SseEvent[] = [];
  for (let e = await stream.next(); e; e = await stream.next()) {
    seen.push(e);
    if (e.event === 'output') break;
  }
  assert.equal(seen.at(-1)?.event, 'output', 'output is streaming live');

  await revoke();
  const rest = await stream.rest();
  assert.ok(stream.ended, 'the server ended the stream');
  const last = rest.at(-1);
  assert.equal(last?.event, 'error', `the stream ends with an error event: ${JSON.stringify(rest.slice(-3))}`);
  assert.equal(last?.id, '', 'the error event has no id: Last-Event-ID keeps the last task event');
  assert.equal(last?.data['status'], 401);
  assert.equal(last?.data['code'], 'unauthorized');
  assert.equal(last?.data['title'], 'Missing or invalid credentials');
  for (const e of rest.slice(0, -1)) assert.notEqual(e.event, 'error');
  assert.ok(
    !rest.some((e) => e.event === 'status' && ['succeeded', 'failed', 'timed_out', 'cancelled'].includes(String(e.data['status']))),
    'the stream did not end because the task did',
  );
  // The task is still running and still printing: nothing it printed after the end reached us.
  assert.equal((await stack.deps.store.get(id))?.status, 'running');
  const lastDelivered = [...seen, ...rest].filter((e) => e.id !== '').at(-1)!.id;
  await outputAfter(id, lastDelivered);
  // Reconnecting with the revoked credential is a plain 401.
  const again = await stack.app.inject({ method: 'GET', url: `/v1/tasks/${id}/events`, headers: bearer(credential) });
  assert.equal(again.statusCode, 401);
  await stop(id);
}

describe('an open SSE stream ends when its credential is revoked', () => {
  test('API key revoked', async () => {
    const agent = await createPrincipalWithKey(stack, t.adminKey, 'agent');
    await streamEndsOnRevocation(agent.key, async () => {
      const res = await stack.app.inject({ method: 'DELETE', url: `/v1/admin/keys/${agent.keyId}`, headers: bearer(t.adminKey) });
      assert.equal(res.statusCode, 200, res.body);
    });
  });

  test('task token jti revoked', async () => {
    const agent = await createPrincipalWithKey(stack, t.adminKey, 'agent');
    const minted = await requestToken(stack, agent.key);
    assert.equal(minted.statusCode, 200, minted.body);
    const { token, jti } = minted.json() as { token: string; jti: string };
    await streamEndsOnRevocation(token, async () => {
      const res = await stack.app.inject({ method: 'DELETE', url: `/v1/tokens/${jti}`, headers: bearer(agent.key) });
      assert.equal(res.statusCode, 204, res.body);
    });
  });

  test('user disabled (a user disable cancels no task, so only the re-check ends the stream)', async () => {
    const user = await createPrincipalWithKey(stack, t.adminKey, 'user', { roles: ['member'] });
    await streamEndsOnRevocation(user.key, async () => {
      const res = await stack.app.inject({ method: 'POST', url: `/v1/admin/users/${user.id}/disable`, headers: bearer(t.adminKey) });
      assert.equal(res.statusCode, 200, res.body);
    });
  });
});

describe('a POST /v1/tasks wait ends when its credential is revoked', () => {
  test('API key revoked during the wait: the answer is the task as created, nothing it did afterwards', async () => {
    const agent = await createPrincipalWithKey(stack, t.adminKey, 'agent');
    // The longest wait the config allows: without the re-check it runs out with the task running.
    const pending = submit(agent.key, { wait: stack.deps.config.MAX_WAIT_SECONDS });
    // Revoke once the task runs (its wait is in progress by then).
    let id: string | undefined;
    const deadline = Date.now() + 20_000;
    while (!id) {
      const [task] = (await stack.deps.store.listIds(t.tenantId, agent.id, null, 1)) ?? [];
      if (task && (await stack.deps.store.get(task.id))?.status === 'running') id = task.id;
      else {
        assert.ok(Date.now() < deadline, 'the task did not start within 20 s');
        await new Promise((r) => setTimeout(r, 25));
      }
    }
    cleanups.push(() => void stop(id));
    const revoked = await stack.app.inject({ method: 'DELETE', url: `/v1/admin/keys/${agent.keyId}`, headers: bearer(t.adminKey) });
    assert.equal(revoked.statusCode, 200, revoked.body);
    const res = await pending;
    assert.equal(res.statusCode, 201, res.body);
    assert.equal(res.headers['location'], `/v1/tasks/${id}`);
    const body = res.json();
    assert.equal(body.id, id);
    assert.equal(body.status, 'queued', 'the task as it was created, not as it is now');
    assert.equal(body.result, undefined);
    assert.equal((await stack.deps.store.get(id))?.status, 'running', 'the wait ended before the task');
    await stop(id);
  });
});
