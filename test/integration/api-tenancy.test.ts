/**
 * Tenant isolation and authentication (OWASP API1 BOLA, API2) through the real HTTP app
 * (Fastify via `inject`), real Redis, real BullMQ and a real in-process runner with isolate host
 * processes. Nothing is faked. Agents belong to tenants unique to this run (alice and bob share
 * one tenant, eve has another), so task lists contain only this file's tasks.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { LightMyRequestResponse } from 'fastify';
import { AGENTS, pollTask, startStack, type AgentName, type Stack } from '../helpers/stack.ts';
import { runAgents } from '../helpers/run-agents.ts';

let stack: Stack;
/** alice's finished task and alice's task that keeps running until the end of this file. */
let finished: Record<string, unknown> & { id: string };
let running: Record<string, unknown> & { id: string };

before(async () => {
  const agents = await runAgents();
  stack = await startStack({ harnessEnv: agents.harnessEnv });
  finished = (
    await submit({ runtime: 'javascript', code: 'console.log("secret of alice"); 42', wait: 20 })
  ).json();
  assert.equal(finished['status'], 'succeeded');
  running = (
    await submit({
      runtime: 'javascript',
      code: 'console.log("started"); while (true) {}',
      timeoutMs: 120_000,
    })
  ).json();
  const seen = await pollTask(stack, running.id, (t) => t.status === 'running');
  assert.equal(seen.status, 'running');
  running = seen as unknown as typeof running;
});
after(async () => {
  await stack.app.inject({
    method: 'DELETE',
    url: `/v1/tasks/${running.id}`,
    headers: stack.headers('alice', null),
  });
  await stack.close();
});

function submit(body: Record<string, unknown>, agent: AgentName = 'alice') {
  return stack.app.inject({
    method: 'POST',
    url: '/v1/tasks',
    headers: stack.headers(agent),
    payload: body,
  });
}

function get(url: string, agent: AgentName) {
  return stack.app.inject({ method: 'GET', url, headers: stack.headers(agent, null) });
}

function assertNotFound(res: LightMyRequestResponse, id: string): Record<string, unknown> {
  assert.equal(res.statusCode, 404, res.body);
  assert.equal(res.headers['content-type'], 'application/problem+json; charset=utf-8');
  const body = res.json() as Record<string, unknown>;
  assert.deepEqual(Object.keys(body).toSorted(), [
    'code',
    'detail',
    'instance',
    'status',
    'title',
    'type',
  ]);
  assert.equal(body['code'], 'not_found');
  assert.equal(body['status'], 404);
  assert.equal(body['type'], 'https://airlock.dev/problems/not_found');
  assert.equal(body['detail'], `Task ${id} not found`);
  assert.match(String(body['instance']), /^urn:uuid:[0-9a-f-]{36}$/);
  return body;
}

/** The 404 with its occurrence-specific members (instance, the id in detail) blanked out. */
function shape(body: Record<string, unknown>, id: string): Record<string, unknown> {
  return { ...body, instance: '<instance>', detail: String(body['detail']).replace(id, '<id>') };
}

describe('another agent gets 404, never 403, exactly like an unknown id', () => {
  for (const intruder of ['eve', 'bob'] as const) {
    test(`${intruder}: GET /v1/tasks/:id, GET /v1/tasks/:id/events and DELETE /v1/tasks/:id of alice's tasks`, async () => {
      const unknownId = randomUUID();
      const unknown = {
        get: await get(`/v1/tasks/${unknownId}`, intruder),
        events: await get(`/v1/tasks/${unknownId}/events`, intruder),
        del: await stack.app.inject({
          method: 'DELETE',
          url: `/v1/tasks/${unknownId}`,
          headers: stack.headers(intruder),
        }),
      };
      const reference = shape(assertNotFound(unknown.get, unknownId), unknownId);
      assert.deepEqual(shape(assertNotFound(unknown.events, unknownId), unknownId), reference);
      assert.deepEqual(shape(assertNotFound(unknown.del, unknownId), unknownId), reference);

      for (const task of [finished, running]) {
        const before = await get(`/v1/tasks/${task.id}`, 'alice');
        const answers = [
          await get(`/v1/tasks/${task.id}`, intruder),
          await get(`/v1/tasks/${task.id}/events`, intruder),
          await stack.app.inject({
            method: 'DELETE',
            url: `/v1/tasks/${task.id}`,
            headers: stack.headers(intruder),
          }),
          await stack.app.inject({
            method: 'DELETE',
            url: `/v1/tasks/${task.id}`,
            headers: stack.headers(intruder, null),
          }),
        ];
        for (const res of answers) {
          assert.deepEqual(shape(assertNotFound(res, task.id), task.id), reference);
          assert.deepEqual(
            Object.keys(res.headers).toSorted(),
            Object.keys(unknown.get.headers).toSorted(),
            'same headers as for an unknown id',
          );
          assert.ok(!res.body.includes('secret of alice'));
        }
        // alice's task is untouched: the running one is still running, byte for byte the same.
        const afterwards = await get(`/v1/tasks/${task.id}`, 'alice');
        assert.equal(afterwards.statusCode, 200);
        assert.equal(afterwards.body, before.body);
      }
      assert.equal((await get(`/v1/tasks/${running.id}`, 'alice')).json().status, 'running');
    });
  }

  test("an intruder's Idempotency-Key on DELETE does not store or replay anything for alice", async () => {
    const key = `"${randomUUID()}"`;
    const del = await stack.app.inject({
      method: 'DELETE',
      url: `/v1/tasks/${running.id}`,
      headers: { ...stack.headers('eve', null), 'idempotency-key': key },
    });
    assertNotFound(del, running.id);
    const again = await stack.app.inject({
      method: 'DELETE',
      url: `/v1/tasks/${running.id}`,
      headers: { ...stack.headers('eve', null), 'idempotency-key': key },
    });
    assertNotFound(again, running.id);
    assert.equal(again.headers['idempotent-replayed'], undefined);
    assert.equal((await get(`/v1/tasks/${running.id}`, 'alice')).json().status, 'running');
  });
});

describe('GET /v1/tasks lists only the caller’s own tasks', () => {
  test('alice, bob and eve each see exactly their own', async () => {
    const bobTask = (
      await submit({ runtime: 'javascript', code: '"bob"', wait: 20 }, 'bob')
    ).json();
    const eveTask = (
      await submit({ runtime: 'javascript', code: '"eve"', wait: 20 }, 'eve')
    ).json();
    const list = async (agent: AgentName) => {
      const res = await get('/v1/tasks?limit=100', agent);
      assert.equal(res.statusCode, 200);
      const page = res.json() as { items: { id: string }[]; nextCursor: string | null };
      return page.items.map((t) => t.id).toSorted();
    };
    assert.deepEqual(await list('alice'), [finished.id, running.id].toSorted());
    assert.deepEqual(await list('bob'), [bobTask.id]);
    assert.deepEqual(await list('eve'), [eveTask.id]);
    // A status filter does not widen the scope.
    const succeeded = await get('/v1/tasks?status=succeeded', 'eve');
    assert.deepEqual(
      succeeded.json().items.map((t: { id: string }) => t.id),
      [eveTask.id],
    );
  });
});

describe('authentication', () => {
  const routes = () => [
    { method: 'POST' as const, url: '/v1/tasks', payload: { runtime: 'javascript', code: '1' } },
    // Authentication comes before validation: an invalid body still gets 401, not 400.
    { method: 'POST' as const, url: '/v1/tasks', payload: { runtime: 'ruby', tenantId: 'acme' } },
    { method: 'GET' as const, url: '/v1/tasks' },
    { method: 'GET' as const, url: '/v1/tasks?limit=100000' },
    { method: 'GET' as const, url: `/v1/tasks/${finished.id}` },
    { method: 'GET' as const, url: `/v1/tasks/${finished.id}/events` },
    { method: 'DELETE' as const, url: `/v1/tasks/${running.id}` },
    { method: 'GET' as const, url: `/v1/tasks/${randomUUID()}` },
  ];
  const badAuthorizations: (string | undefined)[] = [
    undefined,
    '',
    'Bearer',
    'Bearer ',
    `Bearer key-unknown-${randomUUID()}`,
    'Bearer short',
    `Basic ${Buffer.from(`alice:${AGENTS.alice.key}`).toString('base64')}`,
    AGENTS.alice.key,
    `Bearer ${AGENTS.alice.key} extra`,
    `Bearer ${AGENTS.alice.key}\u0000`,
    `Bearer ${AGENTS.alice.key.slice(0, -1)}`,
    `Bearer ${'a'.repeat(513)}`,
    `Bearer ${AGENTS.alice.key}, Bearer ${AGENTS.eve.key}`,
  ];

  test('no, invalid or malformed Authorization → 401 problem on every /v1 route, and nothing changes', async () => {
    const jobs = await stack.deps.queue.getJobCounts();
    const aliceList = (await get('/v1/tasks', 'alice')).body;
    for (const route of routes()) {
      for (const authorization of badAuthorizations) {
        const headers: Record<string, string> = { 'idempotency-key': `"${randomUUID()}"` };
        if (authorization !== undefined) headers['authorization'] = authorization;
        const res = await stack.app.inject({ ...route, headers });
        const label = `${route.method} ${route.url} with ${JSON.stringify(authorization)}`;
        assert.equal(res.statusCode, 401, label);
        assert.equal(res.headers['content-type'], 'application/problem+json; charset=utf-8', label);
        assert.equal(res.headers['www-authenticate'], 'Bearer', label);
        const body = res.json();
        assert.equal(body.code, 'unauthorized', label);
        assert.equal(body.status, 401, label);
        assert.equal(body.type, 'https://airlock.dev/problems/unauthorized', label);
        assert.equal(body.title, 'Missing or invalid credentials', label);
      }
    }
    assert.deepEqual(await stack.deps.queue.getJobCounts(), jobs);
    assert.equal((await get('/v1/tasks', 'alice')).body, aliceList);
    assert.equal((await get(`/v1/tasks/${running.id}`, 'alice')).json().status, 'running');
  });

  test('the scheme name is case-insensitive (RFC 9110 §11.1)', async () => {
    for (const scheme of ['bearer', 'BEARER', 'Bearer']) {
      const res = await stack.app.inject({
        method: 'GET',
        url: `/v1/tasks/${finished.id}`,
        headers: { authorization: `${scheme} ${AGENTS.alice.key}` },
      });
      assert.equal(res.statusCode, 200, scheme);
      assert.equal(res.json().id, finished.id);
    }
  });

  test('/healthz and /readyz need no auth', async () => {
    const health = await stack.app.inject({ method: 'GET', url: '/healthz' });
    assert.equal(health.statusCode, 200);
    assert.deepEqual(health.json(), { status: 'ok' });
    // This stack's own runner sends heartbeats, so the harness is ready.
    const ready = await stack.app.inject({ method: 'GET', url: '/readyz' });
    assert.equal(ready.statusCode, 200, ready.body);
    assert.equal(ready.json().status, 'ready');
    assert.ok(ready.json().runners >= 1);
    // A bad credential on them is ignored, not rejected.
    const withBad = await stack.app.inject({
      method: 'GET',
      url: '/healthz',
      headers: { authorization: 'Bearer nope' },
    });
    assert.equal(withBad.statusCode, 200);
  });
});
