/**
 * Approvals (issue 11), on the production shape (bench/stack.ts: a harness process with its
 * broker listener, a runner process with isolate hosts and, when Docker is here, the container
 * backend), a target in this process that notes when each call arrives, and the bench playing
 * agent and approver over loopback HTTP:
 * - approve → call: an isolate task makes calls that each need approval, one after the other; for
 *   each, once its request is pending (and the runner's resend is held by the broker), the bench
 *   POSTs `/v1/approvals/:id/approve` and times until the call reaches the target, on this
 *   process's clock (target: p99 under 20 ms); also the approve request's own round trip.
 * - what a waiting task costs: N isolate tasks waiting at once vs the same N hosts idle (resident
 *   memory of the host processes, VmRSS), and N python tasks waiting vs the N warm containers they
 *   were taken from (cgroup memory without inactive page cache, as `docker stats` counts it; the
 *   pool refills only once a task ends); and the CPU every part used over 5 s of waiting (hosts,
 *   containers, runner, harness), beside the idle hosts' over 5 s.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import Docker from 'dockerode';
import { Redis } from 'ioredis';
import { APPROVALS_CHANNEL } from '../protocol/approval.ts';
import { DEFAULT_POLICIES_TEXT } from '../harness/policy/policy-set.ts';
import { RUNNER_LABEL } from '../runner/backends/docker-config.ts';
import { dockerUnavailable } from './containers.ts';
import type { HttpClient } from './http.ts';
import { childPids, cpuMsOf } from './proc.ts';
import { startStack, type BenchRedis, type Stack } from './stack.ts';
import { summarize, type Summary } from './stats.ts';

export interface WaitingCost {
  tasks: number;
  /** Mean per host process / container: idle (before) and with a task waiting. */
  idleKiB: number;
  waitingKiB: number;
  /** (waiting − idle) total / tasks. */
  addedPerTaskKiB: number;
  /** CPU time used over `waitMs` of waiting, by role. */
  cpuMs: Record<string, number>;
  /** The same with nothing waiting (isolate: the idle hosts and runner before any task). */
  idleCpuMs?: Record<string, number>;
  /** Isolate: mean RSS of the hosts just started, before any task (for comparison). */
  freshIdleKiB?: number;
  waitMs: number;
}

export interface ApprovalsBenchResult {
  /** approve sent → the approved call reaches the target. */
  approveToCall: Summary;
  /** The approve request's own round trip. */
  approveRoute: Summary;
  /**
   * The same, split where the decision is published (seen by a subscriber in the bench): approve
   * sent → published (the route's work up to the decision), published → the call reaches the
   * target (the broker wakes, re-reads the request and runs the call's remaining stages).
   */
  approveToPublish: Summary;
  publishToCall: Summary;
  isolate: WaitingCost | null;
  container: WaitingCost | null;
  containerSkipped?: string;
  errors: string[];
}

const ADMIN_KEY = `bench-admin-${randomBytes(16).toString('hex')}`;
const WAIT_MS = 5000;
/** Time given a task to settle into its wait before anything is measured. */
const SETTLE_MS = 8000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The target: answers at once, notes when each order arrived; `next(order)` waits for one. */
async function startTarget(): Promise<{ port: number; arrived: (order: string) => Promise<number>; close: () => Promise<void> }> {
  const arrivals = new Map<string, number>();
  const waiting = new Map<string, (at: number) => void>();
  const server = http.createServer((req, res) => {
    const at = performance.now();
    const order = decodeURIComponent((req.url ?? '').split('/').pop() ?? '');
    arrivals.set(order, at);
    waiting.get(order)?.(at);
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ refunded: true, order }));
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port,
    arrived: (order) =>
      new Promise<number>((resolve, reject) => {
        const seen = arrivals.get(order);
        if (seen !== undefined) return resolve(seen);
        const timer = setTimeout(() => reject(new Error(`call ${order} never reached the target`)), 30_000);
        waiting.set(order, (at) => {
          clearTimeout(timer);
          waiting.delete(order);
          resolve(at);
        });
      }),
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

async function json<T>(client: HttpClient, method: string, path: string, key: string, body?: unknown, ok = [200, 201]): Promise<T> {
  const res = await client.request(method, path, { headers: { authorization: `Bearer ${key}` }, ...(body !== undefined ? { body } : {}) });
  if (!ok.includes(res.status)) throw new Error(`${method} ${path}: ${res.status} ${res.body.slice(0, 300)}`);
  return JSON.parse(res.body) as T;
}

/** The pending request of `taskId` with call number `seq`, polled as the approver sees the list. */
async function pendingOf(client: HttpClient, key: string, taskId: string, seq: number): Promise<string> {
  for (let i = 0; i < 3000; i++) {
    const page = await json<{ items: { id: string; taskId: string; seq: number }[] }>(client, 'GET', '/v1/approvals?status=pending&limit=100', key);
    const found = page.items.find((a) => a.taskId === taskId && a.seq === seq);
    if (found) return found.id;
    await sleep(2);
  }
  throw new Error(`no pending approval for call ${seq} of task ${taskId}`);
}

async function taskStatus(stack: Stack, id: string): Promise<string> {
  const res = await stack.client.request('GET', `/v1/tasks/${id}`, { headers: { authorization: `Bearer ${stack.apiKey}` } });
  return (JSON.parse(res.body) as { status: string }).status;
}

async function submit(stack: Stack, runtime: string, code: string): Promise<string> {
  const res = await stack.client.request('POST', '/v1/tasks', {
    headers: { authorization: `Bearer ${stack.apiKey}`, 'idempotency-key': `"${randomUUID()}"` },
    body: { runtime, code, capabilities: ['bench.refund'], timeoutMs: 120_000 },
  });
  if (res.status !== 201) throw new Error(`POST /v1/tasks: ${res.status} ${res.body.slice(0, 300)}`);
  return (JSON.parse(res.body) as { id: string }).id;
}

const TERMINAL = ['succeeded', 'failed', 'timed_out', 'cancelled'];

/** Waits until every task has `status` ('ended': any terminal one). */
async function untilAll(stack: Stack, ids: string[], status: string, within = 60_000): Promise<void> {
  const deadline = Date.now() + within;
  for (const id of ids) {
    for (;;) {
      const s = await taskStatus(stack, id);
      if (s === status || (status === 'ended' && TERMINAL.includes(s))) break;
      if (TERMINAL.includes(s)) throw new Error(`task ${id} ended ${s} before ${status}`);
      if (Date.now() > deadline) throw new Error(`task ${id} not ${status} within ${within} ms (${s})`);
      await sleep(25);
    }
  }
}

function rssKiB(pid: number): Promise<number> {
  return readFile(`/proc/${pid}/status`, 'utf8').then((s) => Number(/VmRSS:\s+(\d+)/.exec(s)?.[1] ?? NaN), () => NaN);
}

/** Memory of a container's cgroup without inactive page cache (as `docker stats`), KiB; and its CPU ms. */
async function containerUsage(id: string): Promise<{ kib: number; cpuMs: number }> {
  const read = (p: string) => readFile(p, 'utf8').catch(() => '');
  const v1 = `/sys/fs/cgroup/memory/docker/${id}`;
  let usage = Number((await read(`${v1}/memory.usage_in_bytes`)).trim() || NaN);
  let stat = await read(`${v1}/memory.stat`);
  let inactive = Number(/^total_inactive_file (\d+)$/m.exec(stat)?.[1] ?? 0);
  let cpuMs = Number((await read(`/sys/fs/cgroup/cpuacct/docker/${id}/cpuacct.usage`)).trim() || NaN) / 1e6;
  if (!Number.isFinite(usage)) {
    const v2 = `/sys/fs/cgroup/system.slice/docker-${id}.scope`;
    usage = Number((await read(`${v2}/memory.current`)).trim() || NaN);
    stat = await read(`${v2}/memory.stat`);
    inactive = Number(/^inactive_file (\d+)$/m.exec(stat)?.[1] ?? 0);
    cpuMs = Number(/^usage_usec (\d+)$/m.exec(await read(`${v2}/cpu.stat`))?.[1] ?? NaN) / 1000;
  }
  return { kib: (usage - inactive) / 1024, cpuMs };
}

async function runnerContainers(docker: Docker, runnerId: string): Promise<string[]> {
  const list = await docker.listContainers({ filters: { label: [`${RUNNER_LABEL}=${runnerId}`], status: ['running'] } });
  return list.map((c) => c.Id);
}

/** Approves every pending request of these tasks (so they end), ignoring races. */
async function release(client: HttpClient, key: string, ids: string[]): Promise<void> {
  const page = await json<{ items: { id: string; taskId: string }[] }>(client, 'GET', '/v1/approvals?status=pending&limit=100', key);
  for (const a of page.items.filter((x) => ids.includes(x.taskId))) {
    await client.request('POST', `/v1/approvals/${a.id}/deny`, { headers: { authorization: `Bearer ${key}` }, body: {} });
  }
}

export async function approvalsBench(
  benchRedis: BenchRedis,
  log: (msg: string) => void,
  withContainers = true,
  settings = { warmup: 20, samples: 200, waiting: 4 },
): Promise<ApprovalsBenchResult> {
  const errors: string[] = [];
  const target = await startTarget();
  const dockerReason = withContainers ? await dockerUnavailable() : 'BENCH_CONTAINERS=0';
  const n = settings.waiting;
  let stack: Stack | null = null;
  try {
    stack = await startStack(
      benchRedis,
      n,
      dockerReason
        ? {}
        : { RUNNER_BACKENDS: 'isolate,docker', REQUIRE_DOCKER: '1', WARM_POOL_SIZE: String(n), CONTAINER_CONCURRENCY: String(n) },
      {
        AIRLOCK_ADMIN_API_KEY: ADMIN_KEY,
        AIRLOCK_ADMIN_TENANT: 'dev',
        AIRLOCK_VAULT_KEY: randomBytes(32).toString('base64'),
        CAPABILITY_PRIVATE_TARGETS: `127.0.0.1:${target.port}`,
      },
    );
    const client = stack.client;
    // The hosts idle, each with its next isolate prepared: before any task ran on them; and the
    // CPU they and the runner use over the same time as the waiting tasks below, for comparison.
    const idleHosts = await Promise.all(childPids(stack.runner.pid).map(rssKiB));
    const cpuOf = (pids: number[]) => pids.reduce((a, p) => a + (cpuMsOf(p) ?? 0), 0);
    const idle0 = { hosts: cpuOf(childPids(stack.runner.pid)), runner: cpuOf([stack.runner.pid]) };
    await sleep(WAIT_MS);
    const idleCpuMs = {
      hosts: cpuOf(childPids(stack.runner.pid)) - idle0.hosts,
      runner: cpuOf([stack.runner.pid]) - idle0.runner,
    };
    await json(client, 'PUT', '/v1/admin/capabilities/bench.refund', ADMIN_KEY, {
      description: 'Refunds an order (bench target; irreversible, so every call waits for approval)',
      input: { type: 'object', properties: { order: { type: 'string' } }, required: ['order'], additionalProperties: false },
      risk: 'irreversible',
      implementation: { type: 'http', method: 'POST', url: `http://127.0.0.1:${target.port}/refunds/{input.order}`, body: 'input' },
    });
    await json(client, 'PUT', '/v1/admin/policies/active', ADMIN_KEY, {
      text: `${DEFAULT_POLICIES_TEXT}\n@id("bench-approvals") permit (principal is Airlock::Agent, action == Airlock::Action::"capabilities.invoke", resource == Airlock::Capability::"bench.refund");`,
    });
    const user = await json<{ id: string }>(client, 'POST', '/v1/admin/users', ADMIN_KEY, { name: 'bench approver', roles: ['approver'] });
    const approver = (await json<{ secret: string }>(client, 'POST', `/v1/admin/users/${user.id}/keys`, ADMIN_KEY, {})).secret;
    await sleep(1100); // the broker's policy cache

    // ---- approve → call ------------------------------------------------------------------------
    const total = settings.warmup + settings.samples;
    log(`approvals: approve → call, ${total} calls of one isolate task, each approved once held`);
    const run = randomUUID().slice(0, 8);
    const task = await submit(stack, 'javascript', `for (let i = 0; i < ${total}; i++) await caps.bench.refund({ order: '${run}-' + i });`);
    const toCall: number[] = [];
    const route: number[] = [];
    const toPublish: number[] = [];
    const publishToCall: number[] = [];
    const published = new Map<string, number>();
    const subscriber = new Redis(benchRedis.url, { maxRetriesPerRequest: null });
    subscriber.on('error', () => {});
    subscriber.on('message', (_c: string, m: string) => published.set(m.split(' ')[0] ?? '', performance.now()));
    await subscriber.subscribe(APPROVALS_CHANNEL);
    for (let i = 0; i < total; i++) {
      const id = await pendingOf(client, approver, task, i);
      // The runner was told "pending" at once and resent the call; the broker holds it now.
      await sleep(20);
      const arrived = target.arrived(`${run}-${i}`);
      const t0 = performance.now();
      const res = await client.request('POST', `/v1/approvals/${id}/approve`, { headers: { authorization: `Bearer ${approver}` }, body: {} });
      const t1 = performance.now();
      if (res.status !== 200) throw new Error(`approve: ${res.status} ${res.body.slice(0, 300)}`);
      const at = await arrived;
      for (let k = 0; k < 200 && !published.has(id); k++) await sleep(1);
      const pub = published.get(id);
      if (i >= settings.warmup) {
        toCall.push(at - t0);
        route.push(t1 - t0);
        if (pub !== undefined) {
          toPublish.push(pub - t0);
          publishToCall.push(at - pub);
        }
      }
    }
    subscriber.disconnect();
    await untilAll(stack, [task], 'succeeded');

    // ---- what waiting costs: isolates ------------------------------------------------------------
    let isolate: WaitingCost | null = null;
    try {
      log(`approvals: ${n} isolate tasks waiting at once vs their ${n} hosts idle`);
      const ids: string[] = [];
      for (let i = 0; i < n; i++) ids.push(await submit(stack, 'javascript', `await caps.bench.refund({ order: 'iso-${run}-${i}' }); 'done'`));
      await untilAll(stack, ids, 'waiting_approval');
      // Settled into the wait: the first resend held, and the hosts' V8 done with the garbage of
      // starting the task (its memory reducer runs once, ~6 s after allocation stops: 10-40 ms of
      // CPU per host, seen with a probe sampling each second; then nothing).
      await sleep(SETTLE_MS);
      const roles = { hosts: () => childPids(stack!.runner.pid), runner: () => [stack!.runner.pid], harness: () => [stack!.harness.pid] };
      const cpu0 = Object.fromEntries(Object.entries(roles).map(([k, pids]) => [k, pids().reduce((a, p) => a + (cpuMsOf(p) ?? 0), 0)]));
      await sleep(WAIT_MS);
      const cpu1 = Object.fromEntries(Object.entries(roles).map(([k, pids]) => [k, pids().reduce((a, p) => a + (cpuMsOf(p) ?? 0), 0)]));
      const waiting = await Promise.all(childPids(stack.runner.pid).map(rssKiB));
      await release(client, approver, ids);
      await untilAll(stack, ids, 'ended');
      // The same hosts idle again (each with its next isolate prepared), settled the same way:
      // fresh hosts (idleHosts, at start) still carry the garbage of starting up.
      await sleep(SETTLE_MS);
      const idle = await Promise.all(childPids(stack.runner.pid).map(rssKiB));
      const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
      isolate = {
        tasks: n,
        idleKiB: mean(idle),
        waitingKiB: mean(waiting),
        addedPerTaskKiB: (waiting.reduce((a, b) => a + b, 0) - idle.reduce((a, b) => a + b, 0)) / n,
        cpuMs: Object.fromEntries(Object.keys(roles).map((k) => [k, (cpu1[k] ?? 0) - (cpu0[k] ?? 0)])),
        idleCpuMs,
        freshIdleKiB: mean(idleHosts),
        waitMs: WAIT_MS,
      };
    } catch (err) {
      errors.push(`isolate waiting cost: ${(err as Error).message}`);
    }

    // ---- what waiting costs: containers -----------------------------------------------------------
    let container: WaitingCost | null = null;
    if (!dockerReason) {
      try {
        log(`approvals: ${n} python tasks waiting at once vs the ${n} warm containers they take`);
        const docker = new Docker();
        const before = await runnerContainers(docker, stack.runnerId);
        const idle = await Promise.all(before.map(containerUsage));
        const ids: string[] = [];
        for (let i = 0; i < n; i++) ids.push(await submit(stack, 'python', `from airlock import caps\ncaps.bench.refund(order="py-${run}-${i}")`));
        await untilAll(stack, ids, 'waiting_approval', 120_000);
        await sleep(SETTLE_MS);
        // Each task took one of the warm containers listed before (the pool refills behind them).
        const waitingIds = before;
        const u0 = await Promise.all(waitingIds.map(containerUsage));
        const runnerCpu0 = cpuMsOf(stack.runner.pid) ?? 0;
        const harnessCpu0 = cpuMsOf(stack.harness.pid) ?? 0;
        await sleep(WAIT_MS);
        const u1 = await Promise.all(waitingIds.map(containerUsage));
        // The pool refills only when a task ends: the runner's containers now are the n waiting.
        const after = await Promise.all((await runnerContainers(docker, stack.runnerId)).map(containerUsage));
        const sum = (xs: { kib: number }[]) => xs.reduce((a, b) => a + b.kib, 0);
        const mean = (xs: { kib: number }[]) => sum(xs) / Math.max(1, xs.length);
        container = {
          tasks: n,
          idleKiB: mean(idle),
          waitingKiB: mean(u1),
          addedPerTaskKiB: (sum(after) - sum(idle)) / n,
          cpuMs: {
            containers: u1.reduce((a, u, i) => a + (u.cpuMs - (u0[i]?.cpuMs ?? u.cpuMs)), 0),
            runner: (cpuMsOf(stack.runner.pid) ?? 0) - runnerCpu0,
            harness: (cpuMsOf(stack.harness.pid) ?? 0) - harnessCpu0,
          },
          waitMs: WAIT_MS,
        };
        await release(client, approver, ids);
        await untilAll(stack, ids, 'ended', 60_000);
      } catch (err) {
        errors.push(`container waiting cost: ${(err as Error).message}`);
      }
    }
    return {
      approveToCall: summarize(toCall),
      approveRoute: summarize(route),
      approveToPublish: summarize(toPublish),
      publishToCall: summarize(publishToCall),
      isolate,
      container,
      ...(dockerReason ? { containerSkipped: dockerReason } : {}),
      errors,
    };
  } finally {
    // Later sections share this database: back to the shipped policies of the tenant.
    await stack?.client.request('DELETE', '/v1/admin/policies/active', { headers: { authorization: `Bearer ${ADMIN_KEY}` } }).catch(() => undefined);
    await stack?.stop();
    await target.close();
  }
}
