/**
 * Approvals (issue 11): time from an approver's `POST /v1/approvals/:id/approve` to the approved
 * call reaching the target, p50/p99 (target: under 20 ms). The broker holds the waiting call (as
 * it holds a runner's); the decision wakes it through Redis pub/sub, and it runs the remaining
 * stages (exactly-once record, rate limit, audit) and calls the target. Real parts in this
 * process, on one clock: the harness app (inject), the broker on its loopback listener, Redis
 * (REDIS_URL), a loopback target that notes each arrival. Runnable alone:
 * `REDIS_URL=redis://127.0.0.1:6379 node --import tsx bench/approvals.ts` (SAMPLES, WARMUP).
 * Not measured here: the memory a waiting isolate or container keeps (see README, Approvals).
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
import { fmtMs, summarize } from './stats.ts';

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
  target.closeAllConnections();
  target.close();
}
