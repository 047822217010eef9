/**
 * Idempotency-Key handling (STANDARDS IDEM-1..8) through the real HTTP app: Fastify via `inject`
 * (and a real TCP socket where `inject` cannot express the request), real Redis for the stored
 * answers, real BullMQ for counting jobs. The stack runs no runner, so every task stays `queued`
 * and every job stays waiting in this stack's own queue: job and task counts are exact. Agents
 * belong to tenants unique to this run, so GET /v1/tasks sees only this file's tasks. Two tests
 * build a second real app on the same deps: one whose real Cedar policy gate is held at the
 * first decision (a slow or dead holder of a key), one whose BullMQ queue's connection is closed
 * (a real failure of the enqueue).
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdir, mkdtemp } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Queue } from 'bullmq';
import type { LightMyRequestResponse } from 'fastify';
import { buildApp, standardSecurityPath } from '../../harness/app.ts';
import { CedarPolicyGate, type PolicyGate } from '../../harness/policy/gate.ts';
import { PolicyStore } from '../../harness/policy/policy-store.ts';
import { AGENTS, startStack, type AgentName, type Stack } from '../helpers/stack.ts';
import { runAgents } from '../helpers/run-agents.ts';

const ADMIN = `admin-${randomUUID()}`;
let stack: Stack;
before(async () => {
  const agents = await runAgents();
  const grantRoot = await mkdtemp(path.join(tmpdir(), 'airlock-idem-'));
  stack = await startStack({
    runner: false,
    harnessEnv: {
      ...agents.harnessEnv,
      AIRLOCK_ADMIN_API_KEY: ADMIN,
      AIRLOCK_ADMIN_TENANT: agents.principals.alice.tenantId,
      GRANT_ROOTS: grantRoot,
    },
  });
  // Two grants alice may mount, for the fingerprint of `mounts`.
  for (const name of ['ga', 'gb']) {
    await mkdir(path.join(grantRoot, name));
    const put = await stack.app.inject({
      method: 'PUT',
      url: `/v1/admin/grants/${name}`,
      headers: { authorization: `Bearer ${ADMIN}` },
      payload: { hostPath: path.join(grantRoot, name), mode: 'ro', maxBytes: 1024, allowedAgents: ['alice'] },
    });
    assert.equal(put.statusCode, 201, put.body);
  }
});
after(async () => {
  await stack.close();
});

const BODY = { runtime: 'javascript', code: '"hello"' } as const;

function post(
  key: string | string[] | null,
  body: unknown = BODY,
  agent: AgentName = 'alice',
): Promise<LightMyRequestResponse> {
  const headers: Record<string, string | string[]> = stack.headers(agent, null);
  if (key !== null) headers['idempotency-key'] = key;
  if (typeof body === 'string') headers['content-type'] = 'application/json';
  return stack.app.inject({ method: 'POST', url: '/v1/tasks', headers, payload: body as object });
}

const quoted = (key: string) => `"${key}"`;

/** Jobs in this stack's queue (nothing ever leaves `waiting`: there is no runner). */
async function jobCount(): Promise<number> {
  const counts = await stack.deps.queue.getJobCounts();
  return Object.values(counts).reduce((a, b) => a + b, 0);
}

/** Ids of every task of an agent, through the API, newest first. */
async function taskIds(agent: AgentName = 'alice'): Promise<string[]> {
  const ids: string[] = [];
  let cursor: string | null = null;
  do {
    const url: string = `/v1/tasks?limit=100${cursor ? `&cursor=${cursor}` : ''}`;
    const res = await stack.app.inject({ method: 'GET', url, headers: stack.headers(agent, null) });
    assert.equal(res.statusCode, 200);
    const page = res.json() as { items: { id: string }[]; nextCursor: string | null };
    ids.push(...page.items.map((t) => t.id));
    cursor = page.nextCursor;
  } while (cursor);
  return ids;
}

function assertProblem(res: LightMyRequestResponse, status: number, code: string): void {
  assert.equal(res.statusCode, status, res.body);
  assert.equal(res.headers['content-type'], 'application/problem+json; charset=utf-8');
  const body = res.json();
  assert.equal(body.status, status);
  assert.equal(body.code, code);
  assert.equal(body.type, `https://airlock.dev/problems/${code}`);
  assert.equal(typeof body.title, 'string');
  assert.equal(typeof body.detail, 'string');
  assert.match(body.instance, /^urn:uuid:[0-9a-f-]{36}$/);
  assert.equal(res.headers['idempotent-replayed'], undefined);
}

describe('IDEM-1/2/7: parsing and validating the key', () => {
  test('a quoted UUID (RFC 9651 sf-string) is accepted', async () => {
    const res = await post(quoted(randomUUID()));
    assert.equal(res.statusCode, 201);
    assert.equal(res.json().status, 'queued');
    assert.equal(res.headers['idempotent-replayed'], undefined);
  });

  test('a bare token of the published format (a ULID, 255 characters) is accepted', async () => {
    assert.equal((await post('01ARZ3NDEKTSV4RRFFQ69G5FAV')).statusCode, 201);
    assert.equal((await post(`${randomUUID()}${'a'.repeat(255 - 36)}`)).statusCode, 201);
    assert.equal((await post(quoted(`${randomUUID()}${'_'.repeat(255 - 36)}`))).statusCode, 201);
  });

  test('missing on POST /v1/tasks → 400 idempotency_key_missing, nothing enqueued', async () => {
    const jobs = await jobCount();
    const tasks = (await taskIds()).length;
    assertProblem(await post(null), 400, 'idempotency_key_missing');
    assert.equal(await jobCount(), jobs);
    assert.equal((await taskIds()).length, tasks);
  });

  test('two Idempotency-Key header lines → 400 (inject with an array, and a raw HTTP request)', async () => {
    const jobs = await jobCount();
    const key = quoted(randomUUID());
    assertProblem(await post([key, key]), 400, 'idempotency_key_invalid');
    assertProblem(await post([key, quoted(randomUUID())]), 400, 'idempotency_key_invalid');

    // On the wire, Node joins repeated lines into one value ("a", "b"): that is not one sf-string.
    // Listening stays on until stack.close() (app.close) ends it.
    await stack.app.listen({ port: 0, host: '127.0.0.1' });
    {
      const { port } = stack.app.server.address() as net.AddressInfo;
      for (const lines of [
        [`Idempotency-Key: ${key}`, `Idempotency-Key: ${key}`],
        ['Idempotency-Key: abc', 'Idempotency-Key: def'],
      ]) {
        const { status, headers, body } = await rawPost(port, lines, JSON.stringify(BODY));
        assert.equal(status, 400);
        assert.equal(headers['content-type'], 'application/problem+json; charset=utf-8');
        assert.equal(JSON.parse(body).code, 'idempotency_key_invalid');
      }
      // A bare CR inside a header is refused by Node's HTTP parser before the app sees it.
      const cr = await rawPost(port, ['Idempotency-Key: "abc\rdef"'], JSON.stringify(BODY));
      assert.equal(cr.status, 400);
    }
    assert.equal(await jobCount(), jobs);
  });

  test('256 characters, empty, ":", "*", CR/LF, spaces, non-ASCII, non-strings and parameters → 400 idempotency_key_invalid', async () => {
    const jobs = await jobCount();
    const bad = [
      'a'.repeat(256),
      quoted('a'.repeat(256)),
      '',
      '""',
      'abc:def',
      quoted('abc:def'),
      'abc*',
      quoted('abc*'),
      'abc\r\ndef',
      quoted('abc\r\nSet-Cookie: x=1'),
      'abc%0D%0Adef',
      'abc def',
      quoted('abc def'),
      quoted('clé'),
      ':YWJj:', // an sf-binary, not a string
      '"unterminated',
      '42.5',
      // Parameters would otherwise be dropped, making `"abc";x=1` silently the key "abc".
      '"abc";x=1',
      `${quoted(randomUUID())};a`,
      `${quoted(randomUUID())};v="1"`,
      'abc;x=1',
    ];
    for (const key of bad) {
      const res = await post(key);
      assertProblem(res, 400, 'idempotency_key_invalid');
    }
    assert.equal(await jobCount(), jobs);
  });
});

describe('IDEM-6: replay', () => {
  test('a retry answers 201 with the same Location and the task as it is now, with Idempotent-Replayed: true', async () => {
    const key = quoted(randomUUID());
    const jobs = await jobCount();
    const tasksBefore = await taskIds();
    const first = await post(key);
    assert.equal(first.statusCode, 201);
    const task = first.json();
    assert.equal(first.headers.location, `/v1/tasks/${task.id}`);
    assert.equal(first.headers['idempotent-replayed'], undefined);
    assert.equal(await jobCount(), jobs + 1);

    // The task changes meanwhile: a retry answers with that task as it is now (issue 14: the key
    // names its task; no answer body is stored, which for a task with output would be a second
    // copy of megabytes), never with a new task.
    const del = await stack.app.inject({
      method: 'DELETE',
      url: `/v1/tasks/${task.id}`,
      headers: stack.headers('alice', null),
    });
    assert.equal(del.json().status, 'cancelled');

    for (let i = 0; i < 2; i++) {
      const again = await post(key);
      assert.equal(again.statusCode, 201);
      assert.equal(again.headers['idempotent-replayed'], 'true');
      assert.equal(again.headers.location, first.headers.location);
      assert.equal(again.headers['content-type'], first.headers['content-type']);
      assert.equal(again.json().id, task.id);
      assert.equal(again.json().status, 'cancelled');
    }
    // The cancel removed the one job; the replays added none.
    assert.equal(await jobCount(), jobs);
    const ids = await taskIds();
    assert.equal(ids.filter((id) => id === task.id).length, 1);
    assert.equal(ids.length, tasksBefore.length + 1);
  });

  test('the same body with keys in another order and different whitespace is the same request', async () => {
    const key = quoted(randomUUID());
    const first = await post(key, {
      runtime: 'javascript',
      code: '1',
      metadata: { userId: 'u', sessionId: 's' },
    });
    assert.equal(first.statusCode, 201);
    const again = await post(
      key,
      '{ "metadata": {"sessionId":"s","userId":"u"},\n "code": "1", "runtime": "javascript" }',
    );
    assert.equal(again.statusCode, 201);
    assert.equal(again.headers['idempotent-replayed'], 'true');
    assert.equal(again.body, first.body);
  });
});

describe('IDEM-4: same key, different request', () => {
  test('arrays count element by element: other args, files or mounts under the same key → 422', async () => {
    const py = { runtime: 'python', code: 'print(1)' };
    const mount = (grant: string) => [{ grant, path: '/mnt/a', mode: 'ro' }];
    const file = (contentBase64: string) => [{ path: 'in.txt', contentBase64 }];
    for (const [first, other] of [
      [{ ...py, args: ['a'] }, { ...py, args: ['b'] }],
      [{ ...py, args: ['a', 'b'] }, { ...py, args: ['b', 'a'] }],
      [{ ...py, files: file('YQ==') }, { ...py, files: file('Yg==') }],
      [{ ...BODY, mounts: mount('ga') }, { ...BODY, mounts: mount('gb') }],
    ] as const) {
      const key = quoted(randomUUID());
      const created = await post(key, first);
      assert.equal(created.statusCode, 201, created.body);
      assertProblem(await post(key, other), 422, 'idempotency_key_reused');
      const again = await post(key, first);
      assert.equal(again.headers['idempotent-replayed'], 'true');
      assert.equal(again.body, created.body);
    }
  });

  test('→ 422 idempotency_key_reused, nothing enqueued, and the original still replays', async () => {
    const key = quoted(randomUUID());
    const first = await post(key);
    assert.equal(first.statusCode, 201);
    const jobs = await jobCount();
    for (const body of [
      { ...BODY, code: '"other"' },
      { ...BODY, runtime: 'typescript' },
      { ...BODY, wait: 0 },
      { ...BODY, metadata: { userId: 'u' } },
    ]) {
      assertProblem(await post(key, body), 422, 'idempotency_key_reused');
    }
    assert.equal(await jobCount(), jobs);
    const again = await post(key);
    assert.equal(again.headers['idempotent-replayed'], 'true');
    assert.equal(again.body, first.body);
  });
});

describe('IDEM-5: same key while the first request is in flight', () => {
  test('once its task exists, a retry joins it: 201 with that task (waiting like the first), Idempotent-Replayed, nothing enqueued', async () => {
    const key = quoted(randomUUID());
    const jobs = await jobCount();
    // No runner: the task stays queued, so `wait` holds the first request for its full 3 s.
    const firstPromise = post(key, { ...BODY, wait: 3 });
    // The key is bound to the task before the task is enqueued: once the job exists, so does the binding.
    const deadline = Date.now() + 10_000;
    while ((await jobCount()) === jobs) {
      assert.ok(Date.now() < deadline, 'the first request enqueued nothing within 10 s');
      await new Promise((r) => setTimeout(r, 10));
    }

    const started = Date.now();
    const [second, third] = await Promise.all([post(key, { ...BODY, wait: 3 }), post(key, { ...BODY, wait: 3 })]);
    // A different request under the same key is 422 even while the first is in flight.
    assertProblem(await post(key, BODY), 422, 'idempotency_key_reused');
    const first = await firstPromise;
    assert.equal(first.statusCode, 201);
    assert.equal(first.headers['idempotent-replayed'], undefined);
    assert.equal(first.json().status, 'queued', 'the wait ran out without a runner');
    for (const retry of [second, third]) {
      assert.equal(retry.statusCode, 201, retry.body);
      assert.equal(retry.headers['idempotent-replayed'], 'true');
      assert.equal(retry.headers.location, first.headers.location);
      assert.equal(retry.json().id, first.json().id);
    }
    assert.ok(Date.now() - started >= 2_900, 'the retries waited for the task like the first request');
    assert.equal(await jobCount(), jobs + 1);

    // Once the first answer is stored, it is what retries get, byte for byte.
    const replay = await post(key, { ...BODY, wait: 3 });
    assert.equal(replay.statusCode, 201);
    assert.equal(replay.headers['idempotent-replayed'], 'true');
    assert.equal(replay.body, first.body);
    assert.equal(await jobCount(), jobs + 1);
  });

  test('before its task exists the key is held by a lease: 409 with Retry-After; a holder that never comes back frees it when the lease ends; one task either way', async () => {
    // A real Cedar gate, held at the first task creation's decision: the first request has
    // claimed its key and created nothing yet — as a harness that died there would leave it.
    let release: () => void = () => {};
    const held = new Promise<void>((resolve) => (release = resolve));
    let holding = true;
    const cedar = new CedarPolicyGate(new PolicyStore(stack.deps.redis), () => {}, async () => null);
    const gate: PolicyGate = {
      async decide(request, principal, action, resource, context) {
        if (action === 'tasks.create' && holding) {
          holding = false;
          await held;
        }
        return cedar.decide(request, principal, action, resource, context);
      },
    };
    const config = { ...stack.deps.config, IDEMPOTENCY_CLAIM_TTL_MS: 1000 };
    const app = await buildApp({ ...stack.deps, config }, standardSecurityPath, gate);
    try {
      const key = quoted(randomUUID());
      const jobs = await jobCount();
      const inject = () =>
        app.inject({ method: 'POST', url: '/v1/tasks', headers: { ...stack.headers('alice', null), 'idempotency-key': key }, payload: BODY });
      const stuck = inject();
      const reached = Date.now() + 10_000;
      while (holding) {
        assert.ok(Date.now() < reached, 'the first request did not reach the policy decision');
        await new Promise((r) => setTimeout(r, 5));
      }

      const blocked = await inject();
      assertProblem(blocked, 409, 'idempotency_request_in_flight');
      assert.equal(blocked.headers['retry-after'], '1', 'the rest of the 1 s lease, rounded up');

      // The lease runs out; the retry is now the one that makes the task.
      const deadline = Date.now() + 10_000;
      let retry = await inject();
      while (retry.statusCode === 409 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 100));
        retry = await inject();
      }
      assert.equal(retry.statusCode, 201, retry.body);
      assert.equal(retry.headers['idempotent-replayed'], undefined);

      // The stuck holder wakes up: it finds the task the retry made and answers with it.
      release();
      const late = await stuck;
      assert.equal(late.statusCode, 201, late.body);
      assert.equal(late.headers['idempotent-replayed'], 'true');
      assert.equal(late.json().id, retry.json().id);
      assert.equal(await jobCount(), jobs + 1);
      assert.equal((await taskIds()).filter((id) => id === retry.json().id).length, 1);
    } finally {
      release();
      await app.close();
    }
  });

  test('20 identical concurrent POSTs create exactly one task; the rest are 409 or byte-identical replays', async () => {
    const key = quoted(randomUUID());
    const jobs = await jobCount();
    const tasksBefore = await taskIds();
    const answers = await Promise.all(Array.from({ length: 20 }, () => post(key)));

    const originals = answers.filter(
      (r) => r.statusCode === 201 && r.headers['idempotent-replayed'] === undefined,
    );
    assert.equal(originals.length, 1, answers.map((r) => r.statusCode).join(','));
    const original = originals[0]!;
    for (const res of answers) {
      if (res === original) continue;
      if (res.statusCode === 409) {
        assertProblem(res, 409, 'idempotency_request_in_flight');
      } else {
        assert.equal(res.statusCode, 201);
        assert.equal(res.headers['idempotent-replayed'], 'true');
        assert.equal(res.headers.location, original.headers.location);
        assert.equal(res.body, original.body);
      }
    }
    assert.equal(await jobCount(), jobs + 1);
    const tasksAfter = await taskIds();
    assert.deepEqual(tasksAfter.toSorted(), [original.json().id, ...tasksBefore].toSorted());
    const job = await stack.deps.queue.getJob(original.json().id);
    assert.equal(job?.id, original.json().id);
  });
});

describe('IDEM-3: the key is scoped by tenant, principal, method and route', () => {
  test("eve (other tenant) and bob (same tenant) sending alice's key get their own fresh task", async () => {
    const key = quoted(randomUUID());
    const alice = await post(key, BODY, 'alice');
    assert.equal(alice.statusCode, 201);
    const aliceTask = alice.json();

    for (const agent of ['eve', 'bob'] as const) {
      const jobs = await jobCount();
      const before = await taskIds(agent);
      const res = await post(key, BODY, agent);
      assert.equal(res.statusCode, 201, `${agent}: ${res.body}`);
      assert.equal(res.headers['idempotent-replayed'], undefined, `${agent} got a replay`);
      const own = res.json();
      assert.notEqual(own.id, aliceTask.id);
      assert.notEqual(res.body, alice.body);
      assert.equal(res.headers.location, `/v1/tasks/${own.id}`);
      assert.equal(await jobCount(), jobs + 1);
      assert.deepEqual((await taskIds(agent)).toSorted(), [own.id, ...before].toSorted());
      // Their own retry replays their own answer.
      const again = await post(key, BODY, agent);
      assert.equal(again.headers['idempotent-replayed'], 'true');
      assert.equal(again.body, res.body);
      // And another body under the same key is "reused" only within their own scope.
      assertProblem(await post(key, { ...BODY, code: '2' }, agent), 422, 'idempotency_key_reused');
    }
    // alice's stored answer is untouched by the others.
    const again = await post(key, BODY, 'alice');
    assert.equal(again.headers['idempotent-replayed'], 'true');
    assert.equal(again.body, alice.body);
  });

  test('the same key on another route (DELETE) is a different request, not a 422', async () => {
    const key = quoted(randomUUID());
    const created = await post(key);
    assert.equal(created.statusCode, 201);
    const id = created.json().id;
    const del = await stack.app.inject({
      method: 'DELETE',
      url: `/v1/tasks/${id}`,
      headers: { ...stack.headers('alice', null), 'idempotency-key': key },
    });
    assert.equal(del.statusCode, 200);
    assert.equal(del.headers['idempotent-replayed'], undefined);
    assert.equal(del.json().status, 'cancelled');
  });
});

describe('IDEM-8: only answers of requests that began executing are stored', () => {
  test('a 5xx is never stored: the retry finds the task the failed request made, enqueues its missing job and answers 201', async () => {
    // A second real app whose BullMQ queue's connection is closed: the task record is written,
    // the enqueue fails (503, the store is unreachable for it).
    const connection = stack.deps.redis.duplicate();
    const broken = new Queue(stack.queueName, { connection });
    await broken.waitUntilReady();
    await broken.close();
    connection.disconnect();
    const app = await buildApp({ ...stack.deps, queue: broken });
    try {
      const key = quoted(randomUUID());
      const jobs = await jobCount();
      const tasksBefore = await taskIds();
      const failed = await app.inject({
        method: 'POST',
        url: '/v1/tasks',
        headers: { ...stack.headers('alice', null), 'idempotency-key': key },
        payload: BODY,
      });
      assert.equal(failed.statusCode, 503, failed.body);
      assert.equal(failed.json().code, 'temporarily_unavailable');
      assert.equal(failed.headers['retry-after'], '2');
      assert.equal(await jobCount(), jobs, 'the enqueue failed');
      const [taskId] = (await taskIds()).filter((id) => !tasksBefore.includes(id));
      assert.ok(taskId, 'the task record was written before the enqueue failed');

      // Not a replay of the 503: the retry answers with that task and enqueues its job.
      const retry = await post(key);
      assert.equal(retry.statusCode, 201, retry.body);
      assert.equal(retry.headers['idempotent-replayed'], 'true');
      assert.equal(retry.json().id, taskId);
      assert.equal(retry.json().status, 'queued');
      assert.equal(await jobCount(), jobs + 1);
      assert.equal((await stack.deps.queue.getJob(taskId))?.id, taskId);
      // And again: still the same task, and no second job.
      const again = await post(key);
      assert.equal(again.json().id, taskId);
      assert.equal(await jobCount(), jobs + 1);
      assert.deepEqual((await taskIds()).filter((id) => !tasksBefore.includes(id)), [taskId]);
    } finally {
      await app.close();
    }
  });

  test('a key whose binding expired while its task is still kept → 422, never that old task for a new body', async () => {
    const key = quoted(randomUUID());
    const first = await post(key);
    assert.equal(first.statusCode, 201);
    // What IDEMPOTENCY_TTL_MS does after a day: the stored answer goes, the task (kept
    // TASK_RETENTION_MS) stays.
    const [storeKey] = await stack.deps.redis.keys(`airlock:idem:*:${first.json().id}`);
    assert.ok(storeKey);
    await stack.deps.redis.del(storeKey);
    for (const body of [BODY, { ...BODY, code: '"other"' }]) {
      assertProblem(await post(key, body), 422, 'idempotency_key_reused');
    }
    assert.equal((await taskIds()).filter((id) => id === first.json().id).length, 1);
  });

  test('a 400 (validation, timeoutMs over the cap, unknown field) is not stored: the corrected retry gets 201', async () => {
    const key = quoted(randomUUID());
    const jobs = await jobCount();
    assertProblem(
      await post(key, { ...BODY, timeoutMs: stack.deps.config.TASK_MAX_TIMEOUT_MS + 1 }),
      400,
      'invalid_request',
    );
    assertProblem(await post(key, { ...BODY, approved: true }), 400, 'invalid_request');
    assertProblem(await post(key, { runtime: 'javascript' }), 400, 'invalid_request');
    assert.equal(await jobCount(), jobs);

    const ok = await post(key);
    assert.equal(ok.statusCode, 201);
    assert.equal(ok.headers['idempotent-replayed'], undefined);
    assert.equal(await jobCount(), jobs + 1);
    const replay = await post(key);
    assert.equal(replay.headers['idempotent-replayed'], 'true');
    assert.equal(replay.body, ok.body);
  });

  test('a 404 answered after the key was claimed (DELETE of an unknown task) is not stored either', async () => {
    const key = quoted(randomUUID());
    const url = `/v1/tasks/${randomUUID()}`;
    const headers = { ...stack.headers('alice', null), 'idempotency-key': key };
    const first = await stack.app.inject({ method: 'DELETE', url, headers });
    assertProblem(first, 404, 'not_found');
    const second = await stack.app.inject({ method: 'DELETE', url, headers });
    assertProblem(second, 404, 'not_found');
    assert.notEqual(second.json().instance, first.json().instance, 'answered afresh, not replayed');
  });
});

describe('DELETE /v1/tasks/:id with an optional key', () => {
  test('without a key it cancels; with a key the answer replays byte-identically; another task under that key → 422', async () => {
    const a = (await post(quoted(randomUUID()))).json();
    const b = (await post(quoted(randomUUID()))).json();
    const plain = await stack.app.inject({
      method: 'DELETE',
      url: `/v1/tasks/${a.id}`,
      headers: stack.headers('alice', null),
    });
    assert.equal(plain.statusCode, 200);
    assert.equal(plain.json().status, 'cancelled');

    const key = quoted(randomUUID());
    const headers = { ...stack.headers('alice', null), 'idempotency-key': key };
    const first = await stack.app.inject({ method: 'DELETE', url: `/v1/tasks/${b.id}`, headers });
    assert.equal(first.statusCode, 200);
    assert.equal(first.headers['idempotent-replayed'], undefined);
    assert.equal(first.json().status, 'cancelled');
    assert.equal(first.json().error.code, 'cancelled');
    const replay = await stack.app.inject({ method: 'DELETE', url: `/v1/tasks/${b.id}`, headers });
    assert.equal(replay.statusCode, 200);
    assert.equal(replay.headers['idempotent-replayed'], 'true');
    assert.equal(replay.headers['content-type'], first.headers['content-type']);
    assert.equal(replay.body, first.body);

    assertProblem(
      await stack.app.inject({ method: 'DELETE', url: `/v1/tasks/${a.id}`, headers }),
      422,
      'idempotency_key_reused',
    );
    const invalid = await stack.app.inject({
      method: 'DELETE',
      url: `/v1/tasks/${a.id}`,
      headers: { ...stack.headers('alice', null), 'idempotency-key': 'a:b' },
    });
    assertProblem(invalid, 400, 'idempotency_key_invalid');
  });
});

/** One POST over a raw socket, so header lines can repeat. */
function rawPost(
  port: number,
  extraLines: string[],
  body: string,
): Promise<{ status: number; headers: Record<string, string>; body: string }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => {
      socket.write(
        [
          'POST /v1/tasks HTTP/1.1',
          'Host: 127.0.0.1',
          `Authorization: Bearer ${AGENTS.alice.key}`,
          'Content-Type: application/json',
          `Content-Length: ${Buffer.byteLength(body)}`,
          'Connection: close',
          ...extraLines,
          '',
          body,
        ].join('\r\n'),
      );
    });
    let raw = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (raw += chunk));
    socket.on('error', reject);
    socket.on('end', () => {
      const [head = '', ...rest] = raw.split('\r\n\r\n');
      const [statusLine = '', ...headerLines] = head.split('\r\n');
      const headers: Record<string, string> = {};
      for (const line of headerLines) {
        const i = line.indexOf(':');
        headers[line.slice(0, i).toLowerCase()] = line.slice(i + 1).trim();
      }
      resolve({ status: Number(statusLine.split(' ')[1]), headers, body: rest.join('\r\n\r\n') });
    });
  });
}
