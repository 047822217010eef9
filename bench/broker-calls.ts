/**
 * Brokered capability call round trip (issue 10): sandbox → runner → broker → back, from an
 * isolate task and from a Python container task, beside a direct HTTP call from Node to the same
 * broker. The broker here is a fixture in the bench process that answers every call at once (the
 * harness broker's own work — token check, policy, record, target — is measured on its side and
 * joined with these figures later), so the numbers are what the sandbox and the runner add.
 *
 * How it is timed: the code in the sandbox makes its calls one after the other, and the fixture
 * notes when each arrives. The gap between two arrivals is one full round trip (answer back to the
 * sandbox, the next call out to the fixture), on one clock, the same way for all three paths: the
 * baseline is a separate Node process POSTing in a loop (bench/broker-direct-child.ts).
 * Real parts: a runner process (bench/stack.ts), isolate hosts, the Docker backend and a real v3
 * image with the real Python client; tasks are queued as the harness queues them (record + job).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { CapabilityStore } from '../harness/capabilities/capability-store.ts';
import { DEFAULT_POLICIES_TEXT } from '../harness/policy/policy-set.ts';
import { PolicyStore } from '../harness/policy/policy-store.ts';
import type { JobPayload } from '../protocol/job.ts';
import { containerQueueName } from '../protocol/redis-keys.ts';
import type { Runtime } from '../protocol/task.ts';
import { TaskStore } from '../protocol/task-store.ts';
import { dockerUnavailable } from './containers.ts';
import { forkChild } from './proc.ts';
import { startStack, type BenchRedis, type Stack } from './stack.ts';
import { summarize, type Summary } from './stats.ts';

const CHILD = fileURLToPath(new URL('./broker-direct-child.ts', import.meta.url));

/**
 * Calls made by one warm-up task before each phase's series (fixture and real broker alike, so
 * the runner is as warm in both): the figures are a running service's, not a fresh process's.
 * V8 tiers code up over the first thousand or so calls — cedar-wasm's decisions went from about
 * 1.1 ms to 0.2 ms over its first 1 500 in a microbenchmark, and the broker's path likewise.
 */
const WARMUP_CALLS = Number(process.env['BENCH_BROKER_WARMUP_CALLS'] ?? 2000);

export interface BrokerCallsBenchResult {
  /** Node → fixture, plain HTTP keep-alive. */
  direct: Summary;
  isolate: Summary;
  python: Summary | null;
  /**
   * Through the real harness broker (token, declared, schema, Cedar, approval, record, rate
   * limit, audit, SSRF guard, circuit, the target over HTTP, redaction, settle, audit) to a
   * target that answers at once, beside Node calling that target directly.
   */
  real?: { direct: Summary; isolate: Summary; python: Summary | null };
  pythonSkipped?: string;
  settings: { warmup: number; samples: number; warmupCalls: number };
  errors: string[];
}

/** The fixture: answers each call at once and notes when it arrived, per task. */
async function startFixture(): Promise<{ url: string; arrivals: Map<string, number[]>; close: () => Promise<void> }> {
  const arrivals = new Map<string, number[]>();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const at = performance.now();
      const call = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { taskId: string; input: unknown };
      const list = arrivals.get(call.taskId) ?? [];
      list.push(at);
      arrivals.set(call.taskId, list);
      const body = JSON.stringify({ ok: true, output: call.input });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    arrivals,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/** Round trips from the arrival times of consecutive calls, warm-up dropped. */
function gaps(times: readonly number[], warmup: number): number[] {
  const out: number[] = [];
  for (let i = warmup + 1; i < times.length; i++) out.push(times[i]! - times[i - 1]!);
  return out;
}

async function runTask(
  stack: Stack,
  store: TaskStore,
  queues: Record<'isolate' | 'container', Queue>,
  runtime: Runtime,
  code: string,
  broker: 'fixture' | 'real' = 'fixture',
): Promise<string> {
  const id = randomUUID();
  const limits = { timeoutMs: 120_000, cpuMs: 120_000, memoryMb: runtime === 'javascript' ? 64 : 256, outputBytes: 1024 * 1024 };
  await store.create({
    id,
    tenantId: 'bench',
    agentId: 'bench',
    status: 'queued',
    runtime,
    createdAt: new Date().toISOString(),
    limits,
    metadata: {},
    attempts: 0,
    // What the harness records for a task that declared capabilities (the real broker reads it).
    ...(broker === 'real' ? { capabilities: ['bench.echo'], principalKind: 'agent' as const } : {}),
  });
  const payload: JobPayload = {
    version: 'v1',
    taskId: id,
    tenantId: 'bench',
    agentId: 'bench',
    runtime,
    code,
    limits,
    capabilities: ['bench.echo'],
  };
  await queues[runtime === 'javascript' ? 'isolate' : 'container'].add('run', payload, { jobId: id, removeOnComplete: true, removeOnFail: true });
  const deadline = Date.now() + 180_000;
  for (;;) {
    const task = await store.get(id);
    if (task && ['succeeded', 'failed', 'timed_out', 'cancelled'].includes(task.status)) {
      if (task.status !== 'succeeded') throw new Error(`${runtime} bench task ${task.status}: ${JSON.stringify(task.error ?? task.result).slice(0, 500)}`);
      return id;
    }
    if (Date.now() > deadline || !stack.runner.isAlive()) throw new Error(`${runtime} bench task did not finish:\n${stack.runner.tail()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export async function brokerCallsBench(
  benchRedis: BenchRedis,
  log: (msg: string) => void,
  withContainers = true,
  settings = { warmup: 50, samples: 300 },
): Promise<BrokerCallsBenchResult> {
  const errors: string[] = [];
  const total = settings.warmup + settings.samples + 1;
  const fixture = await startFixture();
  let stack: Stack | null = null;
  const redis = new Redis(benchRedis.url, { maxRetriesPerRequest: null });
  redis.on('error', () => {});
  try {
    log(`calls: direct Node → fixture × ${total}`);
    const direct = forkChild(CHILD, [fixture.url, String(total)]);
    await direct.exited;
    if ((fixture.arrivals.get('direct')?.length ?? 0) !== total) throw new Error(`direct baseline failed: ${direct.stderr()}`);

    const docker = withContainers ? await dockerUnavailable() : 'BENCH_CONTAINERS=0';
    stack = await startStack(benchRedis, 1, {
      BROKER_URL: fixture.url,
      RUNNER_BACKENDS: docker ? 'isolate' : 'isolate,docker',
      ...(docker ? {} : { REQUIRE_DOCKER: '1', WARM_POOL_SIZE: '1', CONTAINER_CONCURRENCY: '1' }),
    });
    const store = new TaskStore({ redis, retentionMs: 15 * 60_000 });
    const queues = {
      isolate: new Queue(stack.queueName, { connection: redis.duplicate() }),
      container: new Queue(containerQueueName(stack.queueName), { connection: redis.duplicate() }),
    };
    try {
      log(`calls: warm-up task making ${WARMUP_CALLS} sequential calls`);
      await runTask(stack, store, queues, 'javascript', `for (let i = 0; i < ${WARMUP_CALLS}; i++) await caps.bench.echo({ i });`);
      log(`calls: isolate task making ${total} sequential calls`);
      const iso = await runTask(stack, store, queues, 'javascript', `for (let i = 0; i < ${total}; i++) await caps.bench.echo({ i });`);
      let python: Summary | null = null;
      if (!docker) {
        log(`calls: python task making ${total} sequential calls`);
        const py = await runTask(stack, store, queues, 'python', `from airlock import caps\nfor i in range(${total}):\n    caps.bench.echo(i=i)`);
        python = summarize(gaps(fixture.arrivals.get(py) ?? [], settings.warmup));
      }
      const first = {
        direct: summarize(gaps(fixture.arrivals.get('direct') ?? [], settings.warmup)),
        isolate: summarize(gaps(fixture.arrivals.get(iso) ?? [], settings.warmup)),
        python,
      };
      await stack.stop();
      stack = null;
      let real: BrokerCallsBenchResult['real'];
      try {
        real = await realBrokerPhase(benchRedis, redis, log, docker, total, settings.warmup);
      } catch (err) {
        errors.push(`real broker phase: ${(err as Error).message}`);
      }
      return { ...first, ...(real ? { real } : {}), ...(docker ? { pythonSkipped: docker } : {}), settings: { ...settings, warmupCalls: WARMUP_CALLS }, errors };
    } finally {
      await queues.isolate.obliterate({ force: true }).catch(() => undefined);
      await queues.container.obliterate({ force: true }).catch(() => undefined);
      await Promise.all([queues.isolate.close(), queues.container.close()]);
    }
  } finally {
    await stack?.stop();
    await fixture.close();
    redis.disconnect();
  }
}

/**
 * The same round trips through the real harness broker (a harness process, its broker listener,
 * a capability `bench.echo` whose http connector posts to a target that answers at once), beside
 * Node posting to that target directly. The target notes arrivals per task, from the call key the
 * broker sends in `Idempotency-Key` (`<task id>:<seq>:…`).
 */
async function realBrokerPhase(
  benchRedis: BenchRedis,
  redis: Redis,
  log: (msg: string) => void,
  docker: string | null,
  total: number,
  warmup: number,
): Promise<NonNullable<BrokerCallsBenchResult['real']>> {
  const arrivals = new Map<string, number[]>();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const at = performance.now();
      const key = String(req.headers['idempotency-key'] ?? 'direct').split(':')[0] as string;
      const list = arrivals.get(key) ?? [];
      list.push(at);
      arrivals.set(key, list);
      const body = Buffer.concat(chunks).toString('utf8') || 'null';
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  const target = `http://127.0.0.1:${port}`;
  let stack: Stack | null = null;
  try {
    log(`calls (real broker): direct Node → target × ${total}`);
    const direct = forkChild(CHILD, [target, String(total)]);
    await direct.exited;
    const now = new Date().toISOString();
    await new CapabilityStore(redis).put('bench', {
      name: 'bench.echo',
      description: 'Echoes its input (bench target)',
      input: { type: 'object' },
      risk: 'read',
      timeoutMs: 10_000,
      implementation: { type: 'http', method: 'POST', url: `${target}/echo`, body: 'input' },
      createdAt: now,
      updatedAt: now,
    });
    await new PolicyStore(redis).activate(
      'bench',
      `${DEFAULT_POLICIES_TEXT}\n@id("bench-echo") permit (principal, action == Airlock::Action::"capabilities.invoke", resource == Airlock::Capability::"bench.echo");`,
      { kind: 'user', id: 'bench' },
    );
    stack = await startStack(
      benchRedis,
      1,
      { RUNNER_BACKENDS: docker ? 'isolate' : 'isolate,docker', ...(docker ? {} : { REQUIRE_DOCKER: '1', WARM_POOL_SIZE: '1', CONTAINER_CONCURRENCY: '1' }) },
      { CAPABILITY_PRIVATE_TARGETS: `127.0.0.1:${port}`, AIRLOCK_VAULT_KEY: randomBytes(32).toString('base64') },
    );
    const store = new TaskStore({ redis, retentionMs: 15 * 60_000 });
    const queues = {
      isolate: new Queue(stack.queueName, { connection: redis.duplicate() }),
      container: new Queue(containerQueueName(stack.queueName), { connection: redis.duplicate() }),
    };
    try {
      // A fresh harness process: a warm-up task first (WARMUP_CALLS), so V8 has optimized the
      // broker's path (and Cedar, Ajv and the pools are warm) before anything is measured.
      log(`calls (real broker): warm-up task making ${WARMUP_CALLS} sequential calls`);
      await runTask(stack, store, queues, 'javascript', `for (let i = 0; i < ${WARMUP_CALLS}; i++) await caps.bench.echo({ i });`, 'real');
      log(`calls (real broker): isolate task making ${total} sequential calls`);
      const iso = await runTask(stack, store, queues, 'javascript', `for (let i = 0; i < ${total}; i++) await caps.bench.echo({ i });`, 'real');
      let python: Summary | null = null;
      if (!docker) {
        log(`calls (real broker): python task making ${total} sequential calls`);
        const py = await runTask(stack, store, queues, 'python', `from airlock import caps\nfor i in range(${total}):\n    caps.bench.echo(i=i)`, 'real');
        python = summarize(gaps(arrivals.get(py) ?? [], warmup));
      }
      return {
        direct: summarize(gaps(arrivals.get('direct') ?? [], warmup)),
        isolate: summarize(gaps(arrivals.get(iso) ?? [], warmup)),
        python,
      };
    } finally {
      await queues.isolate.obliterate({ force: true }).catch(() => undefined);
      await queues.container.obliterate({ force: true }).catch(() => undefined);
      await Promise.all([queues.isolate.close(), queues.container.close()]);
    }
  } finally {
    await stack?.stop();
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  }
}
