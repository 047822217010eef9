/**
 * Approvals (issue 11): time from an approver's `POST /v1/approvals/:id/approve` to the approved
 * call reaching the target, p50/p99 (target: under 20 ms). The broker holds the waiting call (as
 * it holds a runner's); the decision wakes it through Redis pub/sub, and it runs the remaining
 * stages (exactly-once record, rate limit, audit) and calls the target. Real parts in this
 * process, on one clock: the harness app (inject), the broker on its loopback listener, Redis
 * (REDIS_URL), a loopback target that notes each arrival. Runnable alone:
 * `REDIS_URL=redis://127.0.0.1:6379 node --import tsx bench/approvals.ts` (SAMPLES, WARMUP).
 * Then: what a waiting isolate task keeps — the resident memory (VmRSS) of the isolate host
 * processes (children of this process, each running one task) while their tasks wait for a
 * decision, against the same hosts idle; and their CPU time over the wait (should be ~0).
 * Not measured: a waiting container (its memory is the container's, capped by `memoryMb`).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { callKey } from '../harness/broker/call-records.ts';
import { issueBrokerToken } from '../protocol/broker-token.ts';
import { approvalKeys } from '../protocol/approval.ts';
import { activatePolicies, callBroker, permitInvoke, putCapability, resetPolicies } from '../test/helpers/capabilities.ts';
import { createPrincipalWithKey } from '../test/helpers/identity.ts';
import { startStack } from '../test/helpers/stack.ts';
import { readFile, readdir } from 'node:fs/promises';
import { fmtMs, summarize } from './stats.ts';

/** Resident KiB and CPU ticks of this process's isolate host children (Linux /proc). */
async function hostProcs(): Promise<{ pid: number; rssKiB: number; ticks: number }[]> {
  const out: { pid: number; rssKiB: number; ticks: number }[] = [];
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = await readFile(`/proc/${name}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[1]) !== process.pid) continue;
      const cmd = await readFile(`/proc/${name}/cmdline`, 'utf8');
      if (!cmd.includes('isolate-host')) continue;
      const status = await readFile(`/proc/${name}/status`, 'utf8');
      const rss = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
      out.push({ pid: Number(name), rssKiB: rss, ticks: Number(fields[11]) + Number(fields[12]) });
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

const SAMPLES = Number(process.env['SAMPLES'] ?? 200);
const WARMUP = Number(process.env['WARMUP'] ?? 20);
const ADMIN_KEY = `admin-${randomUUID()}`;

const arrivals = new Map<string, number>();
const target = http.createServer((req, res) => {
  arrivals.set(req.url ?? '', performance.now());
  req.resume();
  req.on('end', () => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{"refunded":true}');
  });
});
await new Promise<void>((r) => target.listen(0, '127.0.0.1', r));
const port = (target.address() as AddressInfo).port;

const stack = await startStack({
  runner: false,
  broker: true,
  harnessEnv: {
    AIRLOCK_ADMIN_API_KEY: ADMIN_KEY,
    AIRLOCK_ADMIN_TENANT: 'acme',
    AIRLOCK_VAULT_KEY: randomBytes(32).toString('base64'),
    CAPABILITY_PRIVATE_TARGETS: `127.0.0.1:${port}`,
  },
});
try {
  await putCapability(stack, ADMIN_KEY, 'payments.refund', {
    description: 'Refund',
    input: { type: 'object', properties: { order: { type: 'string' } }, required: ['order'], additionalProperties: false },
    risk: 'irreversible',
    implementation: { type: 'http', method: 'POST', url: `http://127.0.0.1:${port}/refunds/{input.order}`, body: 'input' },
  });
  await activatePolicies(stack, ADMIN_KEY, permitInvoke('bench-approvals', ['payments.refund']));
  await new Promise((r) => setTimeout(r, 1100)); // the broker's policy cache
  const approver = await createPrincipalWithKey(stack, ADMIN_KEY, 'user', { roles: ['approver'] });

  const samples: number[] = [];
  const answered: number[] = [];
  const route: number[] = [];
  for (let i = 0; i < WARMUP + SAMPLES; i++) {
    const taskId = randomUUID();
    await stack.deps.store.create({
      id: taskId, tenantId: 'acme', agentId: 'alice', status: 'running', runtime: 'javascript', createdAt: new Date().toISOString(),
      limits: { timeoutMs: 60_000, cpuMs: 60_000, memoryMb: 64, outputBytes: 1 << 20 }, metadata: {}, attempts: 1,
      capabilities: ['payments.refund'], principalKind: 'agent',
    });
    const token = (await issueBrokerToken(stack.deps.redis, taskId, 1))!;
    const order = `b-${i}-${randomUUID().slice(0, 8)}`;
    const held = callBroker(stack, token, { taskId, attempt: 1, seq: 0, name: 'payments.refund', input: { order } });
    // The broker made the request and holds the call: find its id through the call key mapping.
    const mapping = approvalKeys.call('acme', callKey(taskId, 0, 'payments.refund', { order }));
    let id: string | null = null;
    for (let t = 0; t < 400 && !id; t++) {
      id = await stack.deps.redis.get(mapping);
      if (!id) await new Promise((r) => setTimeout(r, 5));
    }
    if (!id) throw new Error('no approval request was made');
    await new Promise((r) => setTimeout(r, 5)); // the broker is waiting on pub/sub by now
    const t0 = performance.now();
    const res = await stack.app.inject({ method: 'POST', url: `/v1/approvals/${id}/approve`, headers: { authorization: `Bearer ${approver.key}` }, payload: {} });
    const tApproved = performance.now();
    if (res.statusCode !== 200) throw new Error(`approve: ${res.statusCode} ${res.body}`);
    const answer = await held;
    const t2 = performance.now();
    if (!answer.body.ok) throw new Error(`call: ${JSON.stringify(answer.body)}`);
    const t1 = arrivals.get(`/refunds/${order}`);
    if (t1 === undefined) throw new Error('the target was not reached');
    if (i >= WARMUP) {
      samples.push(t1 - t0);
      answered.push(t2 - t0);
      route.push(tApproved - t0);
    }
  }
  const s = summarize(samples);
  const a = summarize(answered);
  process.stdout.write(
    `Approvals: approve → call reaches the target (ms), n=${s.n}: p50 ${fmtMs(s.p50)}, p90 ${fmtMs(s.p90)}, p99 ${fmtMs(s.p99)}, max ${fmtMs(s.max)} ` +
      `(target < 20 ms: ${s.p99 < 20 ? 'met' : 'NOT met'})\n` +
      `Approvals: approve → the held call answered (ms): p50 ${fmtMs(a.p50)}, p99 ${fmtMs(a.p99)}\n` +
      `Approvals: the approve request itself (ms): p50 ${fmtMs(summarize(route).p50)}, p99 ${fmtMs(summarize(route).p99)}\n`,
  );
} finally {
  await resetPolicies(stack, ADMIN_KEY);
  await stack.close();
}

// What a waiting isolate task keeps: a stack with an in-process runner (2 isolate hosts).
const HOSTS = 2;
const withRunner = await startStack({
  broker: true,
  runnerEnv: { ISOLATE_HOSTS: String(HOSTS) },
  harnessEnv: {
    AIRLOCK_ADMIN_API_KEY: ADMIN_KEY,
    AIRLOCK_ADMIN_TENANT: 'acme',
    AIRLOCK_VAULT_KEY: randomBytes(32).toString('base64'),
    CAPABILITY_PRIVATE_TARGETS: `127.0.0.1:${port}`,
  },
});
try {
  await putCapability(withRunner, ADMIN_KEY, 'payments.refund', {
    description: 'Refund',
    input: { type: 'object', properties: { order: { type: 'string' } }, required: ['order'], additionalProperties: false },
    risk: 'irreversible',
    implementation: { type: 'http', method: 'POST', url: `http://127.0.0.1:${port}/refunds/{input.order}`, body: 'input' },
  });
  await activatePolicies(withRunner, ADMIN_KEY, permitInvoke('bench-approvals', ['payments.refund']));
  await new Promise((r) => setTimeout(r, 1500));
  const idle = await hostProcs();
  const ids: string[] = [];
  for (let i = 0; i < HOSTS; i++) {
    const res = await withRunner.app.inject({
      method: 'POST', url: '/v1/tasks', headers: withRunner.headers('alice'),
      payload: { runtime: 'javascript', code: `const data = new Array(1e5).fill(0).map((_, i) => i); await caps.payments.refund({ order: 'm${i}' }); data.length`, capabilities: ['payments.refund'], timeoutMs: 60_000 },
    });
    ids.push(res.json().id as string);
  }
  for (const id of ids) {
    for (let t = 0; t < 400; t++) {
      const task = (await withRunner.app.inject({ method: 'GET', url: `/v1/tasks/${id}`, headers: withRunner.headers('alice', null) })).json() as { status: string };
      if (task.status === 'waiting_approval') break;
      await new Promise((r) => setTimeout(r, 25));
    }
  }
  const before = await hostProcs();
  await new Promise((r) => setTimeout(r, 5000));
  const after = await hostProcs();
  const idleRss = idle.reduce((n, p) => n + p.rssKiB, 0) / Math.max(1, idle.length);
  const waitingRss = after.reduce((n, p) => n + p.rssKiB, 0) / Math.max(1, after.length);
  const ticks = after.reduce((n, p) => n + p.ticks, 0) - before.reduce((n, p) => n + p.ticks, 0);
  process.stdout.write(
    `Approvals: waiting isolate task (a 100k-element array live): host RSS ${(waitingRss / 1024).toFixed(1)} MiB while waiting vs ` +
      `${(idleRss / 1024).toFixed(1)} MiB idle (+${((waitingRss - idleRss) / 1024).toFixed(1)} MiB per waiting task); ` +
      `CPU over 5 s of waiting, all ${after.length} hosts: ${ticks * 10} ms\n`,
  );
} finally {
  await resetPolicies(withRunner, ADMIN_KEY);
  await withRunner.close();
  target.closeAllConnections();
  target.close();
}
