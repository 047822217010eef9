/**
 * Leftover sandbox containers (issues 14 and 15), with REAL runners (a runner process SIGKILLed
 * with its process group; in-process runners from startRunner), real Redis and the real Docker
 * engine shared by everything on this machine:
 * - the warm-pool containers of a runner that died are removed by a live runner of the same
 *   installation once the dead runner's heartbeat is stale, and not before;
 * - two installations (two Redis databases, as two checkouts with their own `npm start` have)
 *   on one engine never touch each other's containers, even with the same RUNNER_ID (what the
 *   old default, the hostname, gave both), and a task running in one survives the other's
 *   start-up.
 * Every runner id here is this file's own; containers are removed by those ids at the end.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { redisKeys } from '../../protocol/redis-keys.ts';
import { runnerDir } from '../../runner/backends/call-socket.ts';
import { INSTALLATION_LABEL, RUNNER_LABEL } from '../../runner/backends/docker-config.ts';
import { loadConfig } from '../../runner/config.ts';
import { startRunner, type Runner } from '../../runner/runner.ts';
import { docker, dockerGate, removeContainersOf } from '../helpers/docker.ts';
import { pollTask, REDIS_URL, startStack, TERMINAL, type Stack } from '../helpers/stack.ts';

const skip = await dockerGate();
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** Where the runners of this file make their containers' capability sockets. */
const CALL_SOCKETS = '/tmp/airlock-test-calls-orphans';
/** The second installation: another database of the same Redis server. */
const REDIS_URL_B = (() => {
  const url = new URL(REDIS_URL);
  url.pathname = '/1';
  return url.toString();
})();

/** Containers (any state) of a runner id, with their installation label. */
async function containers(runnerId: string): Promise<{ id: string; installation: string }[]> {
  const list = await docker.listContainers({
    all: true,
    filters: { label: [`${RUNNER_LABEL}=${runnerId}`] },
  });
  return list.map((c) => ({ id: c.Id, installation: c.Labels[INSTALLATION_LABEL] ?? '' }));
}

/** Polls `check` until it is true or the deadline passes; returns the last answer. */
async function waitFor(check: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('leftover containers across runners and installations', { skip }, () => {
  const runnerIds: string[] = [];
  const children: ChildProcess[] = [];
  const redisB = new Redis(REDIS_URL_B, { maxRetriesPerRequest: 1 });
  before(async () => {
    await redisB.ping();
  });
  after(async () => {
    for (const child of children) {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // gone already
      }
    }
    for (const id of runnerIds) await removeContainersOf(id);
    await redisB.zrem(redisKeys.runners, ...runnerIds).catch(() => 0);
    redisB.disconnect();
  });

  test('the warm pool of a runner that died is removed by a live runner once its heartbeat is stale', async () => {
    const dead = `test-dead-${randomUUID()}`;
    const live = `test-live-${randomUUID()}`;
    runnerIds.push(dead, live);
    // The runner that will die: its own process (and process group), docker only, a warm pool.
    const child = spawn(
      process.execPath,
      ['--no-node-snapshot', '--import', 'tsx', 'runner/worker.ts'],
      {
        cwd: ROOT,
        detached: true,
        stdio: ['ignore', 'ignore', 'pipe'],
        env: {
          PATH: process.env['PATH'] ?? '/usr/bin:/bin',
          REDIS_URL,
          RUNNER_ID: dead,
          RUNNER_BACKENDS: 'docker',
          REQUIRE_DOCKER: '1',
          WARM_POOL_SIZE: '1',
          AIRLOCK_TASK_QUEUE: `test-orphans-${randomUUID()}`,
          GRANT_STAGING_DIR: `/tmp/airlock-test-staging-${dead}`,
          CALL_SOCKET_DIR: CALL_SOCKETS,
        },
      },
    );
    children.push(child);
    let log = '';
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (log += d));
    const exited = new Promise((r) => child.once('exit', r));
    assert.ok(
      await waitFor(async () => (await containers(dead)).length === 3, 30_000),
      `the runner to die filled its pool (one per runtime):\n${log}`,
    );

    const runner = await startRunner(
      loadConfig({
        REDIS_URL,
        RUNNER_ID: live,
        RUNNER_BACKENDS: 'docker',
        REQUIRE_DOCKER: '1',
        WARM_POOL_SIZE: '0',
        RUNNER_GONE_AFTER_MS: '2000',
        GRANT_STAGING_DIR: `/tmp/airlock-test-staging-${live}`,
        CALL_SOCKET_DIR: CALL_SOCKETS,
      }),
      () => {},
      `test-orphans-${randomUUID()}`,
    );
    // Each warm container has its capability socket's directory, in the runner's own.
    const deadSockets = runnerDir(CALL_SOCKETS, runner.installationId, dead);
    assert.equal((await readdir(deadSockets)).length, 3);
    try {
      // Alive: its containers stay, through the start-up sweep and periodic ones.
      await new Promise((r) => setTimeout(r, 3000));
      assert.equal((await containers(dead)).length, 3, "a live runner's containers are left alone");

      process.kill(-child.pid!, 'SIGKILL');
      await exited;
      const killedAt = Date.now();
      const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
      const lastBeat = Number(
        await redis.zscore(redisKeys.runners, dead).finally(() => redis.disconnect()),
      );
      assert.ok(lastBeat > 0, 'the dead runner had registered');
      assert.equal((await containers(dead)).length, 3, 'left behind by the SIGKILL');
      assert.ok(
        await waitFor(async () => (await containers(dead)).length === 0, 20_000),
        'removed by the live runner',
      );
      assert.ok(
        await waitFor(async () => !existsSync(deadSockets), 5_000),
        'and the directory of its capability sockets with them',
      );
      const removedAt = Date.now();
      console.log(
        `  dead runner's pool removed ${removedAt - killedAt} ms after the SIGKILL, ${removedAt - lastBeat} ms after its last heartbeat (gone after 2000 ms)`,
      );
      assert.ok(removedAt - lastBeat > 2000, 'not before its heartbeat was stale');
    } finally {
      await runner.close();
    }
  });

  describe('two installations on one engine', () => {
    const shared = `test-shared-${randomUUID()}`;
    let stack: Stack;
    let runnerB: Runner | null = null;
    before(async () => {
      runnerIds.push(shared);
      stack = await startStack({
        runnerEnv: {
          RUNNER_ID: shared,
          RUNNER_BACKENDS: 'docker',
          REQUIRE_DOCKER: '1',
          WARM_POOL_SIZE: '1',
          RUNNER_GONE_AFTER_MS: '1000',
          GRANT_STAGING_DIR: '/tmp/airlock-test-staging-orphans-a',
        },
      });
    });
    after(async () => {
      await runnerB?.close();
      await stack?.close();
    });

    test("neither touches the other's containers, even under the same RUNNER_ID; a running task survives the other's start-up", async () => {
      // Before B exists, every container with this id is A's.
      const all = async () => (await containers(shared)).map((c) => c.id);
      assert.ok(await waitFor(async () => (await all()).length >= 3, 30_000), 'A filled its pool');

      const created = await stack.app.inject({
        method: 'POST',
        url: '/v1/tasks',
        headers: stack.headers(),
        payload: {
          runtime: 'python',
          code: 'import socket, time\nprint(socket.gethostname(), flush=True)\ntime.sleep(4)\nprint("done")',
        },
      });
      assert.equal(created.statusCode, 201, created.body);
      const id = (created.json() as { id: string }).id;
      const running = await pollTask(
        stack,
        id,
        (t) => t.status === 'running' || TERMINAL.has(t.status),
      );
      assert.equal(running.status, 'running');
      const aBefore = await all();
      // The task may have found its warm container still starting and made a fresh one a
      // moment later: sample A's containers until the task ends, so the one it ran in is seen.
      const seenA = new Set(aBefore);
      let sampling = true;
      const sampler = (async () => {
        while (sampling) {
          for (const c of await all()) seenA.add(c);
          await new Promise((r) => setTimeout(r, 100));
        }
      })();

      // Another checkout: its own Redis (here: database 1), the same Docker engine, and what
      // both got from the old default RUNNER_ID (the hostname): the same id.
      runnerB = await startRunner(
        loadConfig({
          REDIS_URL: REDIS_URL_B,
          RUNNER_ID: shared,
          RUNNER_BACKENDS: 'docker',
          REQUIRE_DOCKER: '1',
          WARM_POOL_SIZE: '1',
          RUNNER_GONE_AFTER_MS: '1000',
          GRANT_STAGING_DIR: '/tmp/airlock-test-staging-orphans-b',
        }),
        () => {},
        `test-orphans-${randomUUID()}`,
      );
      const done = await pollTask(stack, id, (t) => TERMINAL.has(t.status));
      sampling = false;
      await sampler;
      assert.equal(done.status, 'succeeded', JSON.stringify(done));
      const [hostname, last] = (done['result'] as { stdout: string }).stdout.split('\n');
      assert.equal(last, 'done');

      const installationB = runnerB.installationId;
      const ofB = async () =>
        (await containers(shared)).filter((c) => c.installation === installationB);
      assert.ok(await waitFor(async () => (await ofB()).length >= 3, 30_000), 'B filled its pool');

      // Both swept several times meanwhile (every 500 ms): each kept the other's containers.
      // (A removes its task's container itself, after the task.)
      const aNow = new Set(await all());
      assert.ok(
        [...seenA].some((c) => c.startsWith(hostname ?? '-')),
        "the task ran in one of A's containers",
      );
      const kept = aBefore.filter((c) => !c.startsWith(hostname ?? '-'));
      assert.ok(kept.length >= aBefore.length - 1);
      for (const c of kept) assert.ok(aNow.has(c), "B left A's containers alone");
      const bIds = (await ofB()).map((c) => c.id);
      await new Promise((r) => setTimeout(r, 1500));
      const bLater = new Set((await ofB()).map((c) => c.id));
      for (const c of bIds) assert.ok(bLater.has(c), "A left B's pool alone");
      const installationA = stack.runner?.installationId;
      assert.ok(installationA && installationA !== installationB, 'one installation per Redis');
      for (const c of kept) {
        const labels = (await docker.getContainer(c).inspect()).Config.Labels;
        assert.equal(labels[INSTALLATION_LABEL], installationA);
      }
    });
  });
});
