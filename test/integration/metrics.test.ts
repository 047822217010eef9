/**
 * GET /metrics (Prometheus) after real traffic through the real app, runner and Redis: the
 * route metrics carry route templates (never ids), tasks created count by runtime, a 429 is
 * counted by the policy that refused it, queue depth is read when scraped; only the operator
 * token opens the route, and without METRICS_TOKEN it does not exist.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { pollTask, startStack, TERMINAL, type Stack } from '../helpers/stack.ts';

const TOKEN = `metrics-${randomUUID()}`;

/** The value of one sample (`name{labels} value`) in a Prometheus text exposition, or undefined. */
function sample(text: string, name: string, labels: Record<string, string>): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    const m = /^[^{]+\{(.*)\} (\S+)$/.exec(line);
    if (!m) continue;
    const got = Object.fromEntries([...m[1]!.matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => got[k] === v)) return Number(m[2]);
  }
  return undefined;
}

describe('GET /metrics', () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack({
      harnessEnv: { METRICS_TOKEN: TOKEN, RATE_LIMIT_TASK_CREATES_PER_MIN: '3' },
    });
  });
  after(async () => {
    await stack?.close();
  });

  const scrape = async () => {
    const res = await stack.app.inject({ method: 'GET', url: '/metrics', headers: { authorization: `Bearer ${TOKEN}` } });
    assert.equal(res.statusCode, 200, res.body);
    assert.match(String(res.headers['content-type']), /^text\/plain; version=0\.0\.4/);
    return res.body;
  };

  test('requests, latency, tasks created, 429s by policy and queue depth after real traffic', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await stack.app.inject({
        method: 'POST', url: '/v1/tasks', headers: stack.headers(), payload: { runtime: 'javascript', code: '1+1' },
      });
      assert.equal(res.statusCode, 201, res.body);
      ids.push(res.json().id);
    }
    // The fourth create in the minute is over the quota of 3.
    const refused = await stack.app.inject({
      method: 'POST', url: '/v1/tasks', headers: stack.headers(), payload: { runtime: 'javascript', code: '1+1' },
    });
    assert.equal(refused.statusCode, 429, refused.body);
    const [policy] = refused.json()['violated-policies'] as string[];
    for (const id of ids) await pollTask(stack, id, (t) => TERMINAL.has(t.status));
    const missing = await stack.app.inject({ method: 'GET', url: `/v1/tasks/${randomUUID()}`, headers: stack.headers() });
    assert.equal(missing.statusCode, 404);

    const text = await scrape();
    assert.equal(sample(text, 'airlock_tasks_created_total', { runtime: 'javascript' }), 3);
    assert.equal(sample(text, 'airlock_http_requests_total', { method: 'POST', route: '/v1/tasks', status: '201' }), 3);
    assert.equal(sample(text, 'airlock_http_requests_total', { method: 'POST', route: '/v1/tasks', status: '429' }), 1);
    assert.ok((sample(text, 'airlock_http_requests_total', { method: 'GET', route: '/v1/tasks/:id', status: '404' }) ?? 0) >= 1);
    assert.equal(sample(text, 'airlock_rate_limited_total', { policy: policy!, route: '/v1/tasks' }), 1);
    assert.equal(sample(text, 'airlock_http_request_duration_seconds_count', { method: 'POST', route: '/v1/tasks' }), 4);
    const sum = sample(text, 'airlock_http_request_duration_seconds_sum', { method: 'POST', route: '/v1/tasks' })!;
    assert.ok(sum > 0 && sum < 60, `plausible latency sum ${sum}`);
    // No task id ever becomes a label (a series per task would grow without bound).
    for (const id of ids) assert.ok(!text.includes(id), 'no ids in labels');
    assert.equal(sample(text, 'airlock_queue_jobs', { queue: stack.queueName, state: 'waiting' }), 0);
    assert.ok(text.includes('airlock_harness_process_resident_memory_bytes'), 'process metrics');
  });

  test('a wrong or missing token is a 401 problem; the scrape is not counted', async () => {
    for (const headers of [{}, { authorization: 'Bearer nope-nope-nope-nope' }, { authorization: `Bearer ${TOKEN}x` }]) {
      const res = await stack.app.inject({ method: 'GET', url: '/metrics', headers });
      assert.equal(res.statusCode, 401);
      assert.match(String(res.headers['content-type']), /problem\+json/);
    }
    assert.equal(sample(await scrape(), 'airlock_http_requests_total', { route: '/metrics' }), undefined);
  });

  test('without METRICS_TOKEN the route does not exist', async () => {
    const plain = await startStack({ runner: false });
    try {
      const res = await plain.app.inject({ method: 'GET', url: '/metrics' });
      assert.equal(res.statusCode, 404);
      assert.equal(res.json().code, 'not_found');
    } finally {
      await plain.close();
    }
  });
});
