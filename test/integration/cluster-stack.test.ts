/**
 * Airlock on a real Redis Cluster: three masters on loopback (helpers/redis-cluster.ts:
 * redis-server --cluster-enabled, redis-cli --cluster create; MOVED, CROSSSLOT and non-local-key
 * refusals are the real ones), two harnesses (the real app, each with its own deps and
 * connections, through `inject`), two in-process runners and one runner process that is
 * SIGKILLed — all configured with REDIS_CLUSTER_NODES, so every connection is an ioredis Cluster
 * and queues use the `{airlock}` prefix. Nothing is mocked.
 *
 * Cases: a runner killed mid-task (the task is retried on another runner and succeeds), the task
 * lifecycle across replicas (create and wait on one, read, list and stream on the other),
 * idempotency across replicas, the concurrency cap, cancel of a running task, and the audit
 * sealer (in-process, on a cluster connection) sealing what all of them recorded, with the
 * producers' heartbeats across the shards' nodes.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../harness/app.ts';
import { loadConfig as loadHarnessConfig } from '../../harness/config.ts';
import { createHarnessDeps, type HarnessDeps } from '../../harness/deps.ts';
import { loadConfig as loadRunnerConfig } from '../../runner/config.ts';
import { startRunner, type Runner } from '../../runner/runner.ts';
import { auditFixture, inProcessSealer } from '../helpers/audit.ts';
import { startRedisCluster, type RedisClusterFixture } from '../helpers/redis-cluster.ts';
import { AGENTS, writeAgentsFile } from '../helpers/stack.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const QUEUE = `cluster-${randomUUID()}`;
const CONCURRENT_CAP = 2;

let cluster: RedisClusterFixture;
let nodes: string;
const harnesses: { app: FastifyInstance; deps: HarnessDeps }[] = [];
const runners: Runner[] = [];
const processes: ChildProcess[] = [];

before(async () => {
  cluster = await startRedisCluster();
  nodes = cluster.ports.map((p) => `127.0.0.1:${p}`).join(',');
  const agentsFile = await writeAgentsFile();
  for (let i = 0; i < 2; i++) {
    const config = loadHarnessConfig({
      REDIS_URL: 'redis://127.0.0.1:6379',
      REDIS_CLUSTER_NODES: nodes,
      AIRLOCK_AGENTS_FILE: agentsFile,
      LOG_LEVEL: 'silent',
      RATE_LIMIT_TASK_CREATES_PER_MIN: '100000',
      RATE_LIMIT_READS_PER_MIN: '100000',
      RATE_LIMIT_WRITES_PER_MIN: '100000',
      RATE_LIMIT_CONCURRENT_TASKS: String(CONCURRENT_CAP),
      // The runner-kill case submits before any runner lives.
      TASKS_REQUIRE_LIVE_RUNNER: 'false',
    });
    assert.equal(config.AIRLOCK_QUEUE_PREFIX, '{airlock}', 'a cluster gets the hash-tagged prefix by default');
    const deps = await createHarnessDeps(config, QUEUE);
    harnesses.push({ app: await buildApp(deps), deps });
  }
});
after(async () => {
  for (const child of processes) if (child.exitCode === null && child.signalCode === null) process.kill(-child.pid!, 'SIGKILL');
  for (const r of runners) await r.close();
  for (const h of harnesses) {
    await h.app.close();
    await h.deps.close();
  }
  await cluster?.stop();
});

const runnerEnv = (id: string) => ({
  REDIS_URL: 'redis://127.0.0.1:6379',
  REDIS_CLUSTER_NODES: nodes,
  ISOLATE_HOSTS: '2',
  RUNNER_ID: id,
  RUNNER_BACKENDS: 'isolate',
  RUNNER_LOCK_MS: '1000',
  RUNNER_STALLED_CHECK_MS: '500',
});

async function startInProcessRunner(): Promise<void> {
  runners.push(await startRunner(loadRunnerConfig(runnerEnv(`cluster-${randomUUID()}`)), () => {}, QUEUE));
}

/** A runner process (own process group) on the cluster; resolves once it says it is ready. */
async function spawnRunner(): Promise<ChildProcess> {
  const id = `cluster-kill-${randomUUID()}`;
  const child = spawn(process.execPath, ['--no-node-snapshot', '--import', 'tsx', 'runner/worker.ts'], {
    cwd: ROOT,
    detached: true,
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', ...runnerEnv(id), AIRLOCK_TASK_QUEUE: QUEUE, LOG_LEVEL: 'info' },
  });
  processes.push(child);
  let log = '';
  await new Promise<void>((resolve, reject) => {
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (chunk: string) => {
      log += chunk;
      if (log.includes(`"runnerId":"${id}","msg":"ready (`)) resolve();
    });
    child.once('exit', (code, signal) => reject(new Error(`runner exited (${code ?? signal}) before ready:\n${log}`)));
  });
  return child;
}

const headers = (agent: keyof typeof AGENTS = 'alice', key: string | null = randomUUID()) => ({
  authorization: `Bearer ${AGENTS[agent].key}`,
  ...(key === null ? {} : { 'idempotency-key': `"${key}"` }),
});

async function post(h: number, body: Record<string, unknown>, agent: keyof typeof AGENTS = 'alice', key: string = randomUUID()) {
  return harnesses[h]!.app.inject({ method: 'POST', url: '/v1/tasks', headers: headers(agent, key), payload: body });
}

async function getTask(h: number, id: string, agent: keyof typeof AGENTS = 'alice') {
  const res = await harnesses[h]!.app.inject({ method: 'GET', url: `/v1/tasks/${id}`, headers: headers(agent, null) });
  assert.equal(res.statusCode, 200, res.body);
  return res.json() as { id: string; status: string; attempts?: number; result?: { value: unknown } };
}

async function until<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const busy = (ms: number, value = 1) => `const end = Date.now() + ${ms}; while (Date.now() < end) {} ${value}`;

describe('Airlock on a 3-master Redis Cluster', () => {
  test('a runner SIGKILLed mid-task: the task is retried on another runner and succeeds', async () => {
    const runner = await spawnRunner();
    const res = await post(0, { runtime: 'javascript', code: busy(3000, 7), timeoutMs: 30_000 });
    assert.equal(res.statusCode, 201, res.body);
    const id = res.json().id as string;
    await until('the task to run', async () => ((await harnesses[0]!.deps.store.get(id))?.status === 'running' ? true : undefined));
    process.kill(-runner.pid!, 'SIGKILL');
    await startInProcessRunner();
    await startInProcessRunner();
    const done = await until('the retried task to end', async () => {
      const t = await harnesses[1]!.deps.store.get(id);
      return t && ['succeeded', 'failed', 'timed_out', 'cancelled'].includes(t.status) ? t : undefined;
    });
    assert.equal(done.status, 'succeeded', JSON.stringify(done.error));
    assert.equal(done.attempts, 2);
    assert.equal(done.result?.value, 7);
  });

  test('lifecycle across replicas: create and wait on one, read, list and stream its events on the other', async () => {
    const res = await post(0, { runtime: 'javascript', code: 'console.log("hi"); 1+1', wait: 10 });
    assert.equal(res.statusCode, 201, res.body);
    const id = res.json().id as string;
    assert.equal(res.json().status, 'succeeded');
    assert.equal((await getTask(1, id)).result?.value, 2);
    const list = await harnesses[1]!.app.inject({ method: 'GET', url: '/v1/tasks?limit=100', headers: headers('alice', null) });
    assert.ok((list.json().items as { id: string }[]).some((t) => t.id === id));
    const events = await harnesses[1]!.app.inject({ method: 'GET', url: `/v1/tasks/${id}/events`, headers: headers('alice', null) });
    assert.equal(events.statusCode, 200);
    assert.match(events.body, /"status":"running"/);
    assert.match(events.body, /hi/);
    assert.match(events.body, /"status":"succeeded"/);
  });

  test('idempotency across replicas: one task per key; another body with the key is a 422', async () => {
    const key = randomUUID();
    const body = { runtime: 'javascript', code: '40+2', wait: 10 };
    const first = await post(0, body, 'alice', key);
    const second = await post(1, body, 'alice', key);
    assert.equal(first.statusCode, 201, first.body);
    assert.equal(second.statusCode, 201, second.body);
    assert.equal(second.json().id, first.json().id);
    assert.equal(second.headers['idempotent-replayed'], 'true');
    assert.equal(second.json().result?.value, 42);
    const other = await post(1, { ...body, code: '1' }, 'alice', key);
    assert.equal(other.statusCode, 422, other.body);
    assert.equal(other.json().code, 'idempotency_key_reused');
  });

  test('the concurrency cap holds across replicas; an ended task frees its slot', async () => {
    const long = { runtime: 'javascript', code: busy(2500), timeoutMs: 30_000 };
    const a = await post(0, long, 'bob');
    const b = await post(1, long, 'bob');
    assert.equal(a.statusCode, 201, a.body);
    assert.equal(b.statusCode, 201, b.body);
    const refused = await post(0, long, 'bob');
    assert.equal(refused.statusCode, 429, refused.body);
    assert.equal(refused.json().code, 'quota_exceeded');
    await until('both to end', async () => {
      const ts = await Promise.all([a, b].map((r) => getTask(1, r.json().id, 'bob')));
      return ts.every((t) => t.status === 'succeeded') ? true : undefined;
    });
    assert.equal((await post(1, { runtime: 'javascript', code: '1', wait: 10 }, 'bob')).statusCode, 201);
  });

  test('the audit sealer reads every shard across the nodes and seals the tasks\' entries; producer heartbeats reach every shard', async () => {
    const fx = await auditFixture();
    const { redis } = harnesses[0]!.deps;
    for (const h of harnesses) await h.deps.audit.heartbeat();
    const sealer = inProcessSealer(redis, fx);
    try {
      for (let i = 0; i < 200 && sealer.logSize('tenants/acme') < 10; i++) await sealer.tick();
      await sealer.commit();
      assert.ok(sealer.logSize('tenants/acme') >= 10, `sealed ${sealer.logSize('tenants/acme')} entries of tenant acme`);
    } finally {
      await sealer.close();
    }
  });

  test('cancel from the other replica stops a running task', async () => {
    const res = await post(0, { runtime: 'javascript', code: busy(20_000), timeoutMs: 30_000 });
    assert.equal(res.statusCode, 201, res.body);
    const id = res.json().id as string;
    await until('it to run', async () => ((await getTask(1, id)).status === 'running' ? true : undefined));
    const started = Date.now();
    const cancelled = await harnesses[1]!.app.inject({ method: 'DELETE', url: `/v1/tasks/${id}`, headers: headers('alice') });
    assert.equal(cancelled.statusCode, 200, cancelled.body);
    const t = await until('it to be cancelled', async () => {
      const task = await getTask(0, id);
      return task.status === 'cancelled' ? task : undefined;
    }, 10_000);
    assert.equal(t.status, 'cancelled');
    assert.ok(Date.now() - started < 10_000);
  });
});
