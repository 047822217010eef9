/**
 * Test fixture: a real harness app (Fastify, used through `inject`) and a real in-process runner
 * (BullMQ worker + isolate host child processes) on a real Redis, with a queue of its own.
 * Nothing is mocked. Redis comes from REDIS_URL (default 127.0.0.1:6379).
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { hashApiKey } from '../../harness/auth/api-key-authenticator.ts';
import { buildApp } from '../../harness/app.ts';
import { loadConfig as loadHarnessConfig } from '../../harness/config.ts';
import { createHarnessDeps, type HarnessDeps } from '../../harness/deps.ts';
import { createBrokerApp, createBrokerParts, type BrokerParts, type CreateBrokerOptions } from '../../harness/broker/create-broker.ts';
import { startRollback, type Rollback } from '../../harness/rollback/start-rollback.ts';
import { loadConfig as loadRunnerConfig } from '../../runner/config.ts';
import { startRunner, type Runner } from '../../runner/runner.ts';

export const REDIS_URL = process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379';

/** Agents known to every stack: two in tenant `acme`, one in tenant `globex`. */
export const AGENTS = {
  alice: { tenantId: 'acme', agentId: 'alice', key: `key-alice-${randomUUID()}` },
  bob: { tenantId: 'acme', agentId: 'bob', key: `key-bob-${randomUUID()}` },
  eve: { tenantId: 'globex', agentId: 'eve', key: `key-eve-${randomUUID()}` },
} as const;
export type AgentName = keyof typeof AGENTS;

export interface Stack {
  app: FastifyInstance;
  deps: HarnessDeps;
  runner: Runner | null;
  queueName: string;
  /** The broker listener (with `broker`): a real loopback port the runner's BROKER_URL names. */
  broker: FastifyInstance | null;
  brokerUrl: string | null;
  /** The broker's parts (with `broker`), shared by the listener and the rollback. */
  brokerParts: BrokerParts | null;
  /** The rollback of failed tasks' calls (with `broker`); a test may close it and start another. */
  rollback: Rollback | null;
  /** The blob directory harness and runner share (BLOB_DIR). */
  blobDir: string;
  /** Headers for an agent; add `idempotency` to send a fresh quoted Idempotency-Key. */
  headers(agent?: AgentName, idempotencyKey?: string | null): Record<string, string>;
  close(): Promise<void>;
}

export interface StackOptions {
  /** Start an in-process runner. @defaultValue true */
  runner?: boolean;
  /** Extra harness env. */
  harnessEnv?: Record<string, string>;
  /** Extra runner env. */
  runnerEnv?: Record<string, string>;
  /** Start the harness broker on a loopback port and point the runner at it. */
  broker?: boolean | CreateBrokerOptions;
}

export async function writeAgentsFile(): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'airlock-test-'));
  const file = path.join(dir, 'agents.json');
  const agents = Object.values(AGENTS).map((a) => ({
    tenantId: a.tenantId,
    agentId: a.agentId,
    keySha256: [hashApiKey(a.key)],
  }));
  await writeFile(file, JSON.stringify({ agents }));
  return file;
}

export async function startStack(options: StackOptions = {}): Promise<Stack> {
  const queueName = `test-${randomUUID()}`;
  const agentsFile = await writeAgentsFile();
  // One blob directory for harness and runner, as in a deployment (BLOB_DIR must agree).
  const blobDir = options.harnessEnv?.['BLOB_DIR'] ?? (await mkdtemp(path.join(tmpdir(), 'airlock-blobs-')));
  const config = loadHarnessConfig({
    REDIS_URL,
    AIRLOCK_AGENTS_FILE: agentsFile,
    LOG_LEVEL: 'silent',
    // Rate limits out of the way of tests that are not about them (ratelimit-*.test.ts set
    // their own); a salt per stack gives every stack fresh counters on the shared Redis.
    RATE_LIMIT_READS_PER_MIN: '1000000',
    RATE_LIMIT_WRITES_PER_MIN: '1000000',
    RATE_LIMIT_TASK_CREATES_PER_MIN: '1000000',
    RATE_LIMIT_CONCURRENT_TASKS: '10000',
    RATE_LIMIT_AUTH_FAILURES_PER_MIN: '1000000',
    // Without a runner of its own, a stack still accepts tasks (they stay queued): the tests
    // about refusing runtimes nobody serves start their own Redis (runtime-availability.test.ts).
    ...(options.runner === false ? { TASKS_REQUIRE_LIVE_RUNNER: 'false' } : {}),
    RATE_LIMIT_PK_SALT: randomUUID(),
    // Storage quotas out of the way too (storage tests set their own per tenant).
    STORAGE_QUOTA_BYTES: String(2 ** 50),
    BLOB_DIR: blobDir,
    ...options.harnessEnv,
  });
  const deps = await createHarnessDeps(config, queueName);
  const app = await buildApp(deps);
  let broker: FastifyInstance | null = null;
  let brokerUrl: string | null = null;
  let brokerParts: BrokerParts | null = null;
  let rollback: Rollback | null = null;
  if (options.broker) {
    brokerParts = await createBrokerParts(deps, options.broker === true ? {} : options.broker);
    broker = await createBrokerApp(deps, {}, brokerParts);
    brokerUrl = await broker.listen({ port: 0, host: '127.0.0.1' });
    rollback = await startRollback(deps, brokerParts.deps);
  }
  const runner =
    options.runner === false
      ? null
      : await startRunner(
          loadRunnerConfig({
            REDIS_URL,
            ISOLATE_HOSTS: '2',
            RUNNER_ID: `test-${randomUUID()}`,
            // Isolate only unless a test asks for containers (runnerEnv RUNNER_BACKENDS): the
            // runner default would also start a Docker backend with a warm pool per stack.
            RUNNER_BACKENDS: 'isolate',
            BLOB_DIR: blobDir,
            ...(brokerUrl ? { BROKER_URL: brokerUrl } : {}),
            ...options.runnerEnv,
          }),
          () => {},
          queueName,
        );
  const stack: Stack = {
    app,
    deps,
    runner,
    queueName,
    broker,
    brokerUrl,
    brokerParts,
    rollback,
    blobDir,
    headers(agent = 'alice', idempotencyKey = randomUUID()) {
      const h: Record<string, string> = { authorization: `Bearer ${AGENTS[agent].key}` };
      if (idempotencyKey !== null) h['idempotency-key'] = `"${idempotencyKey}"`;
      return h;
    },
    async close() {
      await runner?.close();
      await broker?.close();
      await stack.rollback?.service.queue.obliterate({ force: true }).catch(() => {});
      await stack.rollback?.close();
      await brokerParts?.close();
      await app.close();
      await deps.queue.obliterate({ force: true }).catch(() => {});
      await deps.containerQueue.obliterate({ force: true }).catch(() => {});
      await deps.close();
      if (!options.harnessEnv?.['BLOB_DIR']) await rm(blobDir, { recursive: true, force: true });
    },
  };
  return stack;
}

/** Polls GET /v1/tasks/:id until `done(task)` or the deadline; returns the last task seen. */
export async function pollTask(
  stack: Stack,
  id: string,
  done: (task: { status: string; [k: string]: unknown }) => boolean,
  agent: AgentName = 'alice',
  timeoutMs = 20_000,
): Promise<Record<string, unknown> & { status: string }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const res = await stack.app.inject({ method: 'GET', url: `/v1/tasks/${id}`, headers: stack.headers(agent, null) });
    const task = res.json() as Record<string, unknown> & { status: string };
    if (done(task) || Date.now() > deadline) return task;
    await new Promise((r) => setTimeout(r, 25));
  }
}

export const TERMINAL = new Set(['succeeded', 'failed', 'timed_out', 'cancelled']);
