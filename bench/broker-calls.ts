/**
 * Brokered capability call round trip (issue 10): sandbox → runner → broker → back, from an
 * isolate task and from a Python container task, through two brokers side by side:
 * - a *fixture* in the bench process that answers every call at once: what the sandbox and the
 *   runner add;
 * - the *real* harness broker (token, declared, schema, Cedar, approval, record, rate limit,
 *   audit, SSRF guard, circuit, the target over HTTP, redaction, settle, audit) calling a target
 *   in the bench process that answers at once: the difference is what the broker adds.
 * Each beside a direct HTTP call from a Node process of its own to the same fixture or target.
 *
 * How it is timed: the code in the sandbox makes its calls one after the other, and the fixture
 * (or the target) notes when each arrives. The gap between two arrivals is one full round trip
 * (answer back to the sandbox, the next call out), on one clock, the same way for every path:
 * the baseline is a separate Node process POSTing in a loop (bench/broker-direct-child.ts).
 * The two stacks run at once and take turns in blocks (each block's first side alternates), so
 * the machine's drift over the run falls on both sides alike instead of on whichever ran later.
 * The baseline takes its turn in the same blocks: its process lives as long as the stacks, warms
 * up as they do, and makes one series per block (first in even blocks, last in odd ones), so it
 * is measured in the same phase of the machine, with the same processes up, as the paths it is
 * the baseline of. (Until 2026-12-07 it ran once, before the stacks started, on a quieter
 * machine; the report still prints that figure beside this one.)
 * Real parts: runner processes (bench/stack.ts), isolate hosts, the Docker backend and a real v3
 * image with the real Python client; tasks are queued as the harness queues them (record + job).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import http from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { CapabilityStore } from '../harness/capabilities/capability-store.ts';
import { DEFAULT_POLICIES_TEXT } from '../harness/policy/policy-set.ts';
import { PolicyStore } from '../harness/policy/policy-store.ts';
import { CredentialStore } from '../harness/vault/credential-store.ts';
import { loadVaultKeyring } from '../harness/vault/vault-keys.ts';
import type { JobPayload } from '../protocol/job.ts';
import { containerQueueName } from '../protocol/redis-keys.ts';
import type { Runtime } from '../protocol/task.ts';
import { TaskStore } from '../protocol/task-store.ts';
import { dockerUnavailable } from './containers.ts';
import type { DirectSeries } from './broker-direct-child.ts';
import { cpuMsOf, forkChild } from './proc.ts';
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
/**
 * The series: blocks of one task per side and runtime, each making CALLS_PER_TASK calls (the
 * first SKIP_PER_TASK round trips of each task dropped), pooled per path. BENCH_BROKER_BLOCKS.
 */
const BLOCKS = Number(process.env['BENCH_BROKER_BLOCKS'] ?? 8);
/** Calls of the Python warm-up task of each side (its first task reaches a fresh container path). */
const PYTHON_WARMUP_CALLS = 200;
/**
 * The pause after each Python task: the runner then starts the warm container that replaces the
 * one used (WARM_POOL_SIZE=1), a burst of CPU across dockerd, containerd and runc that would
 * otherwise land on whichever task runs next.
 */
const AFTER_CONTAINER_MS = Number(process.env['BENCH_BROKER_AFTER_CONTAINER_MS'] ?? 1000);
const CALLS_PER_TASK = 110;
const SKIP_PER_TASK = 10;

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
  /**
   * The direct calls measured the way they were until 2026-12-07: one series each, before the
   * stacks started, from a process just started. For comparison only; `direct` and `real.direct`
   * are taken in the blocks.
   */
  quietDirect?: { fixture: Summary; target: Summary };
  /** Per block: the real broker's isolate p50 minus the fixture's, from the block's two tasks. */
  blockAdds: number[];
  /**
   * CPU the real stack's harness process spent per brokered call of the series (user + system,
   * from /proc, counted only while the real side's tasks ran): steadier than a latency on a
   * machine whose speed swings, and what a change to the broker's path moves first.
   */
  harnessCpuMsPerCall: number | null;
  pythonSkipped?: string;
  settings: { blocks: number; callsPerTask: number; skip: number; warmupCalls: number; pythonWarmupCalls: number; afterContainerMs: number };
  errors: string[];
}

/** A server of the bench that answers each request at once and notes when it arrived, per task. */
interface Recorder {
  url: string;
  port: number;
  arrivals: Map<string, number[]>;
  close: () => Promise<void>;
}

/**
 * Starts a recorder: `taskOf` names the task a request belongs to, `answer` gives the JSON body
 * of the answer (both from the request and its body). With `authorization`, a request without
 * exactly that header is answered 401 and not noted.
 */
async function startRecorder(
  taskOf: (req: http.IncomingMessage, body: string) => string,
  answer: (body: string) => string,
  authorization?: string,
): Promise<Recorder> {
  const arrivals = new Map<string, number[]>();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const at = performance.now();
      if (authorization !== undefined && req.headers.authorization !== authorization) {
        res.writeHead(401, { 'content-type': 'application/json', 'content-length': 2 });
        res.end('{}');
        return;
      }
      const text = Buffer.concat(chunks).toString('utf8');
      const task = taskOf(req, text);
      const list = arrivals.get(task) ?? [];
      list.push(at);
      arrivals.set(task, list);
      const body = answer(text);
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    arrivals,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/** The broker stand-in: answers every call `{ ok: true, output: <its input> }`, by the task the body names. */
const startFixture = () =>
  startRecorder(
    (_req, body) => (JSON.parse(body) as { taskId: string }).taskId,
    (body) => JSON.stringify({ ok: true, output: (JSON.parse(body) as { input: unknown }).input }),
  );

/**
 * The target the real broker's capability posts to: echoes the body, by the task of the call key
 * the broker sends in `Idempotency-Key` (`<task id>:<seq>:…`; `direct` for the baseline, which
 * sends none). Like a real API, it wants its credential (`Authorization: Bearer <secret>`), which
 * the broker injects from the vault and the direct baseline sends itself: a call without it is
 * refused, fails its task and so the bench.
 */
export const startTarget = (secret: string) =>
  startRecorder(
    (req) => String(req.headers['idempotency-key'] ?? req.headers['x-bench-series'] ?? 'direct').split(':')[0] as string,
    (body) => body || 'null',
    `Bearer ${secret}`,
  );

/** The target's credential and the vault key the real harness seals it with (one per bench run). */
export interface BenchCredential {
  secret: string;
  /** AIRLOCK_VAULT_KEY of the harness whose broker calls the target. */
  vaultKey: string;
}

export function benchCredential(): BenchCredential {
  return { secret: `bench_${randomBytes(24).toString('base64url')}`, vaultKey: randomBytes(32).toString('base64') };
}

/** Round trips from the arrival times of consecutive calls, warm-up dropped. */
export function gaps(times: readonly number[], warmup: number): number[] {
  const out: number[] = [];
  for (let i = warmup + 1; i < times.length; i++) out.push(times[i]! - times[i - 1]!);
  return out;
}

/** One side of the comparison: a stack whose runner calls the fixture, or its own harness's broker. */
export interface Side {
  stack: Stack;
  queues: Record<'isolate' | 'container', Queue>;
  broker: 'fixture' | 'real';
  /** Where the calls' arrival times are noted (per task id). */
  arrivals: Map<string, number[]>;
}

/** A side on `stack` (its isolate and container queues, on connections of `redis`, added to `queues` to close). */
export function sideOn(stack: Stack, broker: Side['broker'], arrivals: Side['arrivals'], redis: Redis, queues: Queue[]): Side {
  const q = {
    isolate: new Queue(stack.queueName, { connection: redis.duplicate() }),
    container: new Queue(containerQueueName(stack.queueName), { connection: redis.duplicate() }),
  };
  queues.push(q.isolate, q.container);
  return { stack, queues: q, broker, arrivals };
}

export async function runTask(store: TaskStore, side: Side, runtime: Runtime, code: string): Promise<string> {
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
    ...(side.broker === 'real' ? { capabilities: ['bench.echo'], principalKind: 'agent' as const } : {}),
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
  await side.queues[runtime === 'javascript' ? 'isolate' : 'container'].add('run', payload, { jobId: id, removeOnComplete: true, removeOnFail: true });
  const deadline = Date.now() + 180_000;
  for (;;) {
    const task = await store.get(id);
    if (task && ['succeeded', 'failed', 'timed_out', 'cancelled'].includes(task.status)) {
      if (task.status !== 'succeeded') throw new Error(`${runtime} bench task (${side.broker} broker) ${task.status}: ${JSON.stringify(task.error ?? task.result).slice(0, 500)}`);
      return id;
    }
    if (Date.now() > deadline || !side.stack.runner.isAlive()) throw new Error(`${runtime} bench task did not finish:\n${side.stack.runner.tail()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export async function brokerCallsBench(
  benchRedis: BenchRedis,
  log: (msg: string) => void,
  withContainers = true,
  settings = { blocks: BLOCKS, callsPerTask: CALLS_PER_TASK, skip: SKIP_PER_TASK },
): Promise<BrokerCallsBenchResult> {
  const errors: string[] = [];
  const fixture = await startFixture();
  const credential = benchCredential();
  const target = await startTarget(credential.secret);
  const redis = new Redis(benchRedis.url, { maxRetriesPerRequest: null });
  redis.on('error', () => {});
  const stacks: Stack[] = [];
  const queues: Queue[] = [];
  const baselineCalls = settings.blocks * settings.callsPerTask;
  const direct = directCaller(fixture, target, credential);
  try {
    // The baseline as it was measured until 2026-12-07: before the stacks start, from a cold
    // process. Printed beside the one taken in the blocks.
    log(`calls: direct Node → fixture × ${baselineCalls}, direct Node → target × ${baselineCalls} (before the stacks start)`);
    const quiet = await direct.series('direct-quiet', baselineCalls);
    await defineBenchCapability(redis, target.url, credential);

    const docker = withContainers ? await dockerUnavailable() : 'BENCH_CONTAINERS=0';
    const backends = { RUNNER_BACKENDS: docker ? 'isolate' : 'isolate,docker', ...(docker ? {} : { REQUIRE_DOCKER: '1', WARM_POOL_SIZE: '1', CONTAINER_CONCURRENCY: '1' }) };
    // Both stacks run side by side: one runner calls the fixture, the other its harness's broker.
    const fixtureStack = await startStack(benchRedis, 1, { BROKER_URL: fixture.url, ...backends });
    stacks.push(fixtureStack);
    const realStack = await startStack(benchRedis, 1, backends, {
      CAPABILITY_PRIVATE_TARGETS: `127.0.0.1:${target.port}`,
      AIRLOCK_VAULT_KEY: credential.vaultKey,
    });
    stacks.push(realStack);
    const store = new TaskStore({ redis, retentionMs: 15 * 60_000 });
    const sides = {
      fixture: sideOn(fixtureStack, 'fixture', fixture.arrivals, redis, queues),
      real: sideOn(realStack, 'real', target.arrivals, redis, queues),
    };

    // Warm-up (WARMUP_CALLS): the figures are a running service's, not a fresh process's.
    log(`calls (direct): warm-up series of ${WARMUP_CALLS} sequential calls to the fixture and to the target`);
    await direct.series('direct-warmup', WARMUP_CALLS);
    for (const side of [sides.fixture, sides.real]) {
      log(`calls (${side.broker} broker): warm-up task making ${WARMUP_CALLS} sequential calls${docker ? '' : `, then a Python one making ${PYTHON_WARMUP_CALLS}`}`);
      await runTask(store, side, 'javascript', isolateCode(WARMUP_CALLS));
      if (!docker) {
        await runTask(store, side, 'python', pythonCode(PYTHON_WARMUP_CALLS));
        await sleep(AFTER_CONTAINER_MS);
      }
    }
    const gapsOf: Record<'fixture' | 'real', Record<'isolate' | 'python', number[]>> = {
      fixture: { isolate: [], python: [] },
      real: { isolate: [], python: [] },
    };
    const blockAdds: number[] = [];
    // The real harness's CPU over its side's tasks (NaN once /proc could not tell).
    const harnessCpu = { ms: 0, calls: 0 };
    const directGaps = { fixture: [] as number[], target: [] as number[] };
    const directBlock = async (b: number) => {
      const got = await direct.series(`direct-b${b}`, settings.callsPerTask);
      directGaps.fixture.push(...gaps(got.fixture, settings.skip));
      directGaps.target.push(...gaps(got.target, settings.skip));
    };
    // Blocks alternate which broker goes first, so drift of the machine falls on both alike; the
    // direct series goes first in even blocks and last in odd ones.
    for (let b = 0; b < settings.blocks; b++) {
      const order = b % 2 === 0 ? [sides.fixture, sides.real] : [sides.real, sides.fixture];
      const blockIso: Record<string, number[]> = {};
      if (b % 2 === 0) await directBlock(b);
      for (const side of order) {
        const cpu0 = cpuMsOf(side.stack.harness.pid) ?? NaN;
        const iso = await runTask(store, side, 'javascript', isolateCode(settings.callsPerTask));
        blockIso[side.broker] = gaps(side.arrivals.get(iso) ?? [], settings.skip);
        gapsOf[side.broker].isolate.push(...(blockIso[side.broker] as number[]));
        if (!docker) {
          const py = await runTask(store, side, 'python', pythonCode(settings.callsPerTask));
          gapsOf[side.broker].python.push(...gaps(side.arrivals.get(py) ?? [], settings.skip));
        }
        if (side.broker === 'real') {
          harnessCpu.ms += (cpuMsOf(side.stack.harness.pid) ?? NaN) - cpu0;
          harnessCpu.calls += settings.callsPerTask * (docker ? 1 : 2);
        }
        if (!docker) await sleep(AFTER_CONTAINER_MS);
      }
      if (b % 2 === 1) await directBlock(b);
      blockAdds.push(summarize(blockIso['real'] as number[]).p50 - summarize(blockIso['fixture'] as number[]).p50);
      log(`calls: block ${b + 1}/${settings.blocks}: broker adds ${blockAdds[b]!.toFixed(2)} ms at p50`);
    }
    return {
      direct: summarize(directGaps.fixture),
      isolate: summarize(gapsOf.fixture.isolate),
      python: docker ? null : summarize(gapsOf.fixture.python),
      real: { direct: summarize(directGaps.target), isolate: summarize(gapsOf.real.isolate), python: docker ? null : summarize(gapsOf.real.python) },
      quietDirect: { fixture: summarize(gaps(quiet.fixture, settings.skip)), target: summarize(gaps(quiet.target, settings.skip)) },
      blockAdds,
      harnessCpuMsPerCall: Number.isFinite(harnessCpu.ms) && harnessCpu.calls > 0 ? harnessCpu.ms / harnessCpu.calls : null,
      ...(docker ? { pythonSkipped: docker } : {}),
      settings: { ...settings, warmupCalls: WARMUP_CALLS, pythonWarmupCalls: docker ? 0 : PYTHON_WARMUP_CALLS, afterContainerMs: docker ? 0 : AFTER_CONTAINER_MS },
      errors,
    };
  } finally {
    await direct.close();
    for (const q of queues) await q.obliterate({ force: true }).catch(() => undefined);
    await Promise.all(queues.map((q) => q.close()));
    for (const stack of stacks) await stack.stop();
    await fixture.close();
    await target.close();
    redis.disconnect();
  }
}

/**
 * The baseline's process (bench/broker-direct-child.ts), kept for the whole bench. `series`
 * makes `count` calls to the fixture, then to the target (with the target's credential), and
 * gives their arrival times.
 */
function directCaller(fixture: Recorder, target: Recorder, credential: BenchCredential) {
  const proc = forkChild(CHILD, []);
  const run = (message: DirectSeries) =>
    new Promise<void>((resolve, reject) => {
      const onExit = () => reject(new Error(`the direct baseline's process exited: ${proc.stderr()}`));
      proc.child.once('exit', onExit);
      proc.child.once('message', (reply: { done?: string; error?: string }) => {
        proc.child.off('exit', onExit);
        if (reply.done === message.series) resolve();
        else reject(new Error(`direct baseline failed: ${reply.error ?? JSON.stringify(reply)}`));
      });
      proc.child.send(message);
    });
  return {
    async series(series: string, count: number): Promise<{ fixture: number[]; target: number[] }> {
      await run({ url: fixture.url, authorization: 'Bearer direct', series, count });
      await run({ url: target.url, authorization: `Bearer ${credential.secret}`, series, count });
      const fixtureTimes = fixture.arrivals.get(series) ?? [];
      const targetTimes = target.arrivals.get(series) ?? [];
      if (fixtureTimes.length !== count || targetTimes.length !== count) throw new Error(`direct baseline: ${series} reached the fixture ${fixtureTimes.length} and the target ${targetTimes.length} times of ${count}`);
      return { fixture: fixtureTimes, target: targetTimes };
    },
    async close(): Promise<void> {
      if (proc.child.connected) proc.child.disconnect();
      await proc.exited;
    },
  };
}

export const isolateCode = (calls: number) => `for (let i = 0; i < ${calls}; i++) await caps.bench.echo({ i });`;
const pythonCode = (calls: number) => `from airlock import caps\nfor i in range(${calls}):\n    caps.bench.echo(i=i)`;

/**
 * The capability the real broker calls, with the target's credential in the vault (sealed with
 * the key the real harness gets), and a policy that lets the bench's agent invoke it.
 */
export async function defineBenchCapability(redis: Redis, targetUrl: string, credential: BenchCredential): Promise<void> {
  const now = new Date().toISOString();
  await new CredentialStore(redis, loadVaultKeyring(credential.vaultKey)).put('bench', 'bench-target', { type: 'bearer' }, credential.secret);
  await new CapabilityStore(redis).put('bench', {
    name: 'bench.echo',
    description: 'Echoes its input (bench target)',
    input: { type: 'object' },
    risk: 'read',
    timeoutMs: 10_000,
    implementation: { type: 'http', method: 'POST', url: `${targetUrl}/echo`, body: 'input', credential: 'bench-target' },
    createdAt: now,
    updatedAt: now,
  });
  await new PolicyStore(redis).activate(
    'bench',
    `${DEFAULT_POLICIES_TEXT}\n@id("bench-echo") permit (principal, action == Airlock::Action::"capabilities.invoke", resource == Airlock::Capability::"bench.echo");`,
    { kind: 'user', id: 'bench' },
  );
}
