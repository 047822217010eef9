/**
 * The cap on an agent's active (queued + running) tasks, through the real app (`inject`), a real
 * in-process runner running real isolates, and real Redis. Long tasks are busy loops with a
 * long `timeoutMs` (isolates have no timers), cancelled by the test. The cap is 2; the tenant
 * and agents are unique to this run and the stack's partition salt is random.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { startStack, type Stack } from '../helpers/stack.ts';
import { assertThrottled, limits, policies, rateLimitAgents, type RunAgent } from '../helpers/ratelimit.ts';

let stack: Stack;
let agents: Record<string, RunAgent>;
const created: [RunAgent, string][] = [];

before(async () => {
  const run = await rateLimitAgents({ busy: 1, bystander: 1 });
  agents = run.agents;
  stack = await startStack({
    harnessEnv: { AIRLOCK_AGENTS_FILE: run.file, RATE_LIMIT_CONCURRENT_TASKS: '2' },
  });
});
after(async () => {
  // Long tasks a failed assertion left running would hold the runner until their timeout.
  for (const [agent, id] of created) await cancel(agent, id);
  await stack.close();
});

const LONG = { runtime: 'javascript', code: 'for (;;) {}', timeoutMs: 120_000 };
const QUICK = { runtime: 'javascript', code: '40 + 2', wait: 20 };

async function create(agent: RunAgent, body: object, key = randomUUID()) {
  const res = await stack.app.inject({
    method: 'POST',
    url: '/v1/tasks',
    headers: { ...agent.headers(), 'idempotency-key': `"${key}"` },
    payload: body,
  });
  if (res.statusCode === 201) created.push([agent, res.json().id as string]);
  return res;
}
const cancel = (agent: RunAgent, id: string) =>
  stack.app.inject({ method: 'DELETE', url: `/v1/tasks/${id}`, headers: agent.headers() });
const count = async (agent: RunAgent) =>
  ((await stack.app.inject({ method: 'GET', url: '/v1/tasks?limit=100', headers: agent.headers() })).json() as {
    items: unknown[];
  }).items.length;

describe('concurrent task cap', () => {
  test('the cap refuses a 3rd active task, and frees up after a cancel and after a task finishes', async () => {
    const busy = agents['busy'] as RunAgent;
    const a = await create(busy, LONG);
    assert.equal(a.statusCode, 201);
    assert.equal(limits(a).get('agent-concurrent-tasks')?.r, 1);
    const b = await create(busy, LONG);
    assert.equal(b.statusCode, 201);
    assert.equal(limits(b).get('agent-concurrent-tasks')?.r, 0);
    const aId = a.json().id as string;
    const bId = b.json().id as string;

    const key = randomUUID();
    const refused = await create(busy, QUICK, key);
    assert.deepEqual(assertThrottled(refused, ['agent-concurrent-tasks']), ['agent-concurrent-tasks']);
    assert.equal(Number(refused.headers['retry-after']) >= 1, true);
    assert.equal(await count(busy), 2, 'nothing was created');

    // Another agent is not affected by busy's full cap.
    const other = await create(agents['bystander'] as RunAgent, { ...QUICK, wait: 0 });
    assert.equal(other.statusCode, 201);

    // Cancelling a running task frees its slot; the refused request's key now works.
    assert.equal((await cancel(busy, aId)).json().status, 'cancelled');
    const c = await create(busy, QUICK, key);
    assert.equal(c.statusCode, 201, c.body);
    assert.equal(c.json().status, 'succeeded');
    // The event stream writes its own response head; it carries the headers too.
    const events = await stack.app.inject({ method: 'GET', url: `/v1/tasks/${c.json().id}/events`, headers: busy.headers() });
    assert.match(String(events.headers['content-type']), /^text\/event-stream/);
    assert.equal(policies(events).get('agent-reads')?.q, 1_000_000);
    assert.ok(limits(events).get('agent-reads'));

    // C finished: its slot is free again, so a new long task fits beside B...
    const d = await create(busy, LONG);
    assert.equal(d.statusCode, 201, d.body);
    // ...and then the cap is full again.
    assertThrottled(await create(busy, LONG), ['agent-concurrent-tasks']);

    for (const id of [bId, d.json().id as string]) assert.equal((await cancel(busy, id)).json().status, 'cancelled');
    const e = await create(busy, QUICK);
    assert.equal(e.statusCode, 201);
  });
});
