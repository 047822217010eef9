/**
 * The runner's warm-pool metrics on the real Docker engine: with one warm container per image,
 * three python tasks at once — at most one finds a warm container, the others are misses — and
 * the pool's ready containers are read when scraped (refilled to one after the tasks). Also the
 * container runtime's finished, wall and CPU figures.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { dockerGate } from '../helpers/docker.ts';
import { pollTask, startStack, TERMINAL, type Stack } from '../helpers/stack.ts';

const skip = await dockerGate();

function total(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    const m = /^(\w+)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const got = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => got[k] === v)) sum += Number(m[3]);
  }
  return sum;
}

describe('warm pool metrics', { skip }, () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack({
      runnerEnv: { RUNNER_BACKENDS: 'docker', WARM_POOL_SIZE: '1', CONTAINER_CONCURRENCY: '3', RUNNER_METRICS_PORT: '0' },
    });
  });
  after(async () => {
    await stack?.close();
  });

  test('misses when the pool runs dry, ready containers read when scraped, container usage', { timeout: 120_000 }, async () => {
    const scrape = async () => (await fetch(`${stack.runner!.metricsUrl}/metrics`)).text();
    // The pool has filled (one python container ready) before the tasks come.
    const deadline = Date.now() + 60_000;
    while (total(await scrape(), 'airlock_warm_pool_containers', { runtime: 'python' }) < 1) {
      assert.ok(Date.now() < deadline, 'the warm pool fills');
      await new Promise((r) => setTimeout(r, 100));
    }
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await stack.app.inject({
        method: 'POST', url: '/v1/tasks', headers: stack.headers('alice'),
        payload: { runtime: 'python', code: 'import time; time.sleep(0.5); print(sum(range(10**5)))' },
      });
      assert.equal(res.statusCode, 201, res.body);
      ids.push(res.json().id);
    }
    for (const id of ids) assert.equal((await pollTask(stack, id, (t) => TERMINAL.has(t.status), 'alice', 90_000)).status, 'succeeded');
    const text = await scrape();
    const misses = total(text, 'airlock_warm_pool_misses_total');
    // One warm container for three tasks started together: at least one of them found none.
    assert.ok(misses >= 1 && misses <= 3, `misses ${misses}`);
    assert.equal(total(text, 'airlock_tasks_finished_total', { runtime: 'python', status: 'succeeded', error_code: 'none' }), 3);
    const wall = total(text, 'airlock_sandbox_wall_seconds_sum', { runtime: 'python' });
    assert.ok(wall >= 1.5 && wall < 60, `wall ${wall} (three runs of at least 0.5 s)`);
    assert.equal(total(text, 'airlock_sandbox_cpu_seconds_count', { runtime: 'python' }), 3);
    assert.equal(total(text, 'airlock_isolate_host_restarts_total'), 0);
    // Refilled afterwards, and the scrape says so.
    const refillBy = Date.now() + 60_000;
    while (total(await scrape(), 'airlock_warm_pool_containers', { runtime: 'python' }) < 1) {
      assert.ok(Date.now() < refillBy, 'the pool refills');
      await new Promise((r) => setTimeout(r, 100));
    }
  });
});
