/**
 * Traces, metrics and runner logs after one real task with a capability call, through real
 * parts: the harness app and its broker listener in this process, the runner and the audit
 * sealer as real child processes, a real loopback target for the capability, and a real
 * OTLP/HTTP receiver (a loopback server decoding the JSON export) that both processes export to
 * because OTEL_EXPORTER_OTLP_ENDPOINT names it.
 *
 * - one trace: POST /v1/tasks → enqueue → runner → sandbox run → capability call (runner) →
 *   broker → target request, each span the child of the one before, across both processes;
 * - the target received a `traceparent` with that trace id (the target request's span);
 * - every audit entry of the task carries the trace id, and the sealed trace bundle verifies
 *   (a changed trace id does not);
 * - harness, runner and sealer /metrics hold each family, with plausible values;
 * - the runner's log lines are JSON, the task's with taskId and traceId.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { Writable } from 'node:stream';
import Fastify from 'fastify';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { after, before, describe, test } from 'node:test';
import { parseVerifierKey } from '../../protocol/audit/note.ts';
import type { SealedEntry } from '../../protocol/audit/entry.ts';
import { verifyTraceBundle } from '../../protocol/audit/verify-bundle.ts';
import { startTracing, type Tracing } from '../../protocol/telemetry/tracing.ts';
import { registerHttpTracing } from '../../harness/telemetry/http-tracing.ts';
import { ROOT, auditFixture, startSealerProcess, waitFor, type AuditFixture, type SealerProcess } from '../helpers/audit.ts';
import { bearer, createPrincipalWithKey } from '../helpers/identity.ts';
import { activatePolicies, callBroker, permitInvoke, runningTask, putCapability, putCredential, resetPolicies } from '../helpers/capabilities.ts';
import { pollTask, REDIS_URL, startStack, TERMINAL, type Stack } from '../helpers/stack.ts';
import { startTargetFixture, type TargetFixture } from '../helpers/target-fixture.ts';

const ADMIN_KEY = `admin-${randomUUID()}`;
const METRICS_TOKEN = `metrics-${randomUUID()}`;
const SECRETS = { tickets: `tk_${randomBytes(18).toString('base64url')}`, payments: 'unused-payments', basic: 'unused:basic' };

interface ReceivedSpan {
  service: string;
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  kind: number;
  attributes: Record<string, unknown>;
}

/** A real OTLP/HTTP traces receiver (JSON encoding) on loopback. */
async function startOtlpReceiver(): Promise<{ url: string; spans: ReceivedSpan[]; requests: number; close(): Promise<void> }> {
  const spans: ReceivedSpan[] = [];
  const state = { requests: 0 };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      state.requests++;
      if (req.method !== 'POST' || req.url !== '/v1/traces' || !/json/.test(String(req.headers['content-type']))) {
        res.writeHead(415).end();
        return;
      }
      let body = Buffer.concat(chunks);
      if (req.headers['content-encoding'] === 'gzip') body = gunzipSync(body);
      const doc = JSON.parse(body.toString('utf8')) as {
        resourceSpans: { resource: { attributes: Attr[] }; scopeSpans: { spans: RawSpan[] }[] }[];
      };
      for (const rs of doc.resourceSpans) {
        const service = String(attrs(rs.resource.attributes)['service.name']);
        for (const ss of rs.scopeSpans) {
          for (const s of ss.spans) {
            spans.push({ service, traceId: s.traceId, spanId: s.spanId, parentSpanId: s.parentSpanId ?? '', name: s.name, kind: s.kind, attributes: attrs(s.attributes ?? []) });
          }
        }
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    spans,
    get requests() {
      return state.requests;
    },
    close: () => new Promise<void>((r) => { server.close(() => r()); server.closeAllConnections(); }),
  };
}
interface Attr { key: string; value: Record<string, unknown> }
interface RawSpan { traceId: string; spanId: string; parentSpanId?: string; name: string; kind: number; attributes?: Attr[] }
function attrs(list: Attr[]): Record<string, unknown> {
  return Object.fromEntries(list.map((a) => [a.key, Object.values(a.value)[0]]));
}

/** Families (`# TYPE <name>`) in a Prometheus exposition. */
function families(text: string): Set<string> {
  return new Set([...text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]!));
}
/** Sum of the samples of `name` whose labels include `labels`. */
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

let receiver: Awaited<ReturnType<typeof startOtlpReceiver>>;
let tracing: Tracing | null;
let target: TargetFixture;
let fx: AuditFixture;
let sealer: SealerProcess;
let stack: Stack;
let runner: ChildProcess;
let runnerLog = '';
let runnerMetricsUrl = '';
let sealerMetricsUrl = '';

before(async () => {
  receiver = await startOtlpReceiver();
  // This process is the harness: its SDK starts the way harness/server.ts starts it.
  process.env['OTEL_EXPORTER_OTLP_ENDPOINT'] = receiver.url;
  process.env['OTEL_BSP_SCHEDULE_DELAY'] = '100';
  tracing = await startTracing('airlock-harness');
  assert.ok(tracing, 'the SDK starts when an endpoint is set');
  target = await startTargetFixture(SECRETS);
  fx = await auditFixture();
  sealer = await startSealerProcess(fx, { AUDIT_METRICS_PORT: '0', LOG_LEVEL: 'info' });
  sealerMetricsUrl = await waitFor(() => /metrics at (http:\/\/\S+)\/metrics/.exec(sealer.output())?.[1], 'the sealer metrics url');
  stack = await startStack({
    runner: false,
    broker: true,
    harnessEnv: {
      AIRLOCK_ADMIN_API_KEY: ADMIN_KEY,
      AIRLOCK_ADMIN_TENANT: 'acme',
      AIRLOCK_VAULT_KEY: randomBytes(32).toString('base64'),
      CAPABILITY_PRIVATE_TARGETS: `127.0.0.1:${target.port}`,
      METRICS_TOKEN,
      AUDIT_DIR: fx.dir,
      // Held 1 s, then "still pending": the runner resends the call while it waits.
      APPROVAL_POLL_MS: '1000',
    },
  });
  const id = `obs-${randomUUID()}`;
  runner = spawn(process.execPath, ['--no-node-snapshot', '--import', 'tsx', 'runner/worker.ts'], {
    cwd: ROOT,
    env: {
      ...process.env,
      REDIS_URL,
      RUNNER_ID: id,
      RUNNER_BACKENDS: 'isolate',
      ISOLATE_HOSTS: '1',
      AIRLOCK_TASK_QUEUE: stack.queueName,
      BROKER_URL: stack.brokerUrl!,
      BLOB_DIR: stack.blobDir,
      RUNNER_METRICS_PORT: '0',
      LOG_LEVEL: 'info',
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  runner.stderr!.setEncoding('utf8');
  runner.stderr!.on('data', (chunk: string) => (runnerLog += chunk));
  await waitFor(() => runnerLog.includes('"msg":"ready (') || runner.exitCode !== null, 'the runner to be ready', 30_000);
  assert.equal(runner.exitCode, null, runnerLog);
  runnerMetricsUrl = /metrics at (http:\/\/[^/\s"]+)\/metrics/.exec(runnerLog)![1]!;

  await putCredential(stack, ADMIN_KEY, 'tickets', { type: 'bearer', value: SECRETS.tickets });
  await putCapability(stack, ADMIN_KEY, 'tickets.create', {
    description: 'Opens a ticket',
    input: { type: 'object', properties: { title: { type: 'string' } }, required: ['title'], additionalProperties: false },
    risk: 'write',
    implementation: { type: 'http', method: 'POST', url: `${target.base}/tickets`, body: 'input', credential: 'tickets' },
  });
  await putCredential(stack, ADMIN_KEY, 'payments', { type: 'header', header: 'X-Api-Key', value: SECRETS.payments });
  await putCapability(stack, ADMIN_KEY, 'payments.refund', {
    description: 'Refunds an order (cannot be undone: needs approval)',
    input: { type: 'object', properties: { order: { type: 'string' } }, required: ['order'], additionalProperties: false },
    risk: 'irreversible',
    implementation: { type: 'http', method: 'POST', url: `${target.base}/refunds/{input.order}`, body: { amount: 1 }, credential: 'payments' },
  });
  await putCapability(stack, ADMIN_KEY, 'status.check', {
    description: 'A target that is down',
    input: { type: 'object', properties: {}, additionalProperties: false },
    risk: 'read',
    implementation: { type: 'http', method: 'GET', url: `${target.base}/fail` },
  });
  await activatePolicies(stack, ADMIN_KEY, permitInvoke('obs-caps', ['tickets.create', 'payments.refund', 'status.check']));
  await new Promise((r) => setTimeout(r, 1100)); // the broker's policy cache
});

after(async () => {
  if (stack) await resetPolicies(stack, ADMIN_KEY).catch(() => undefined);
  if (runner && runner.exitCode === null) {
    const exited = new Promise((r) => runner.once('exit', r));
    runner.kill('SIGTERM');
    await exited;
  }
  await stack?.close();
  await sealer?.stop();
  await tracing?.shutdown();
  await target?.close();
  await receiver?.close();
});

describe('one task with a capability call', () => {
  let taskId = '';
  let traceId = '';

  before(async () => {
    const res = await stack.app.inject({
      method: 'POST',
      url: '/v1/tasks',
      headers: stack.headers('alice'),
      payload: { runtime: 'javascript', code: "const t = await caps.tickets.create({ title: 'traced' }); console.log('made', t.id); t.title", capabilities: ['tickets.create'] },
    });
    assert.equal(res.statusCode, 201, res.body);
    taskId = res.json().id;
    const task = await pollTask(stack, taskId, (t) => TERMINAL.has(t.status), 'alice', 30_000);
    assert.equal(task.status, 'succeeded', JSON.stringify(task));
    const seen = target.seen.filter((s) => s.url === '/tickets').at(-1);
    const tp = /^00-([0-9a-f]{32})-([0-9a-f]{16})-01$/.exec(String(seen?.headers.traceparent ?? ''));
    assert.ok(tp, `the target got a sampled traceparent: ${JSON.stringify(seen?.headers)}`);
    traceId = tp[1]!;
  });

  test('one trace links HTTP request → enqueue → runner → sandbox run → capability call → broker → target', async () => {
    const kinds = { internal: 1, server: 2, client: 3, producer: 4, consumer: 5 };
    const find = (service: string, kind: number, name: RegExp) =>
      receiver.spans.find((s) => s.traceId === traceId && s.service === service && s.kind === kind && name.test(s.name));
    const chain = await waitFor(() => {
      const http = find('airlock-harness', kinds.server, /^POST \/v1\/tasks$/);
      const publish = find('airlock-harness', kinds.producer, /publish$/);
      const processed = find('airlock-runner', kinds.consumer, /process$/);
      const run = find('airlock-runner', kinds.internal, /^sandbox run$/);
      const call = find('airlock-runner', kinds.client, /^capability tickets\.create$/);
      const broker = find('airlock-harness', kinds.server, /^POST \/v1\/broker\/calls$/);
      const outbound = find('airlock-harness', kinds.client, /^tickets\.create 127\.0\.0\.1:/);
      return http && publish && processed && run && call && broker && outbound ? { http, publish, processed, run, call, broker, outbound } : null;
    }, 'every span of the task at the receiver', 20_000);
    assert.equal(chain.http.parentSpanId, '', 'the HTTP request starts the trace');
    assert.equal(chain.publish.parentSpanId, chain.http.spanId);
    assert.equal(chain.processed.parentSpanId, chain.publish.spanId, 'the runner continues the trace from the job payload');
    assert.equal(chain.run.parentSpanId, chain.processed.spanId);
    assert.equal(chain.call.parentSpanId, chain.run.spanId, 'the call made from the sandbox is a child of its run');
    assert.equal(chain.broker.parentSpanId, chain.call.spanId, 'the broker continues the runner\'s traceparent');
    assert.equal(chain.outbound.parentSpanId, chain.broker.spanId);
    const sent = String(target.seen.filter((s) => s.url === '/tickets').at(-1)!.headers.traceparent);
    assert.equal(sent.split('-')[2], chain.outbound.spanId, 'the target request carries its own span');
    assert.equal(chain.http.attributes['http.response.status_code'], 201);
    assert.equal(chain.processed.attributes['airlock.task.id'], taskId);
    assert.equal(chain.run.attributes['airlock.task.status'], 'succeeded');
    assert.equal(chain.call.attributes['airlock.call.outcome'], 'success');
  });

  test('the audit entries of the task carry the trace id; the sealed bundle verifies, a changed trace id does not', async () => {
    const get = (url: string) => stack.app.inject({ method: 'GET', url, headers: stack.headers('alice', null) });
    const bundle = await waitFor(async () => {
      const res = await get(`/v1/tasks/${taskId}/trace?proofs=true`);
      if (res.statusCode !== 200) return null;
      const b = res.json() as { entries: string[] };
      const actions = b.entries.map((e) => (JSON.parse(e) as SealedEntry).action);
      return ['task.created', 'task.started', 'capability.call.started', 'capability.call', 'task.succeeded'].every((a) => actions.includes(a)) ? b : null;
    }, 'the task\'s entries sealed', 20_000);
    const entries = bundle.entries.map((e) => JSON.parse(e) as SealedEntry);
    for (const e of entries.filter((x) => x.action.startsWith('task.') || x.action.startsWith('capability.'))) {
      assert.equal(e.traceId, traceId, `${e.action} carries the trace id`);
    }
    const key = parseVerifierKey(fx.verifierKey('acme'));
    assert.equal(verifyTraceBundle(bundle as Parameters<typeof verifyTraceBundle>[0], [key]).ok, true);
    const tampered = structuredClone(bundle);
    tampered.entries[0] = tampered.entries[0]!.replace(traceId, '0'.repeat(32));
    assert.notEqual(tampered.entries[0], bundle.entries[0]);
    assert.equal(verifyTraceBundle(tampered as Parameters<typeof verifyTraceBundle>[0], [key]).ok, false);
  });

  test('harness, runner and sealer /metrics hold every family, with plausible values', async () => {
    const res = await stack.app.inject({ method: 'GET', url: '/metrics', headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
    assert.equal(res.statusCode, 200);
    const harness = res.body;
    for (const f of [
      'airlock_http_requests_total', 'airlock_http_request_duration_seconds', 'airlock_tasks_created_total',
      'airlock_rate_limited_total', 'airlock_queue_jobs', 'airlock_capability_calls_total',
      'airlock_capability_call_duration_seconds', 'airlock_capability_circuits', 'airlock_capability_circuit_open',
      'airlock_approvals_requested_total', 'airlock_approvals_resolved_total', 'airlock_approval_decision_seconds',
      'airlock_approvals_pending',
    ]) assert.ok(families(harness).has(f), `harness: ${f}`);
    assert.equal(total(harness, 'airlock_tasks_created_total', { runtime: 'javascript' }), 1);
    assert.equal(total(harness, 'airlock_capability_calls_total', { capability: 'tickets.create', outcome: 'success' }), 1);
    const callSeconds = total(harness, 'airlock_capability_call_duration_seconds_sum', { capability: 'tickets.create' });
    assert.ok(callSeconds > 0 && callSeconds < 30, `call latency ${callSeconds}`);
    assert.equal(total(harness, 'airlock_capability_circuits', { state: 'closed' }), 1, 'the target\'s circuit is closed');
    assert.equal(total(harness, 'airlock_approvals_pending'), 0);

    const runnerText = await (await fetch(`${runnerMetricsUrl}/metrics`)).text();
    for (const f of [
      'airlock_tasks_finished_total', 'airlock_queue_wait_seconds', 'airlock_sandbox_wall_seconds', 'airlock_sandbox_cpu_seconds',
      'airlock_isolate_host_restarts_total', 'airlock_warm_pool_containers', 'airlock_warm_pool_misses_total',
      'airlock_runner_process_cpu_seconds_total',
    ]) assert.ok(families(runnerText).has(f), `runner: ${f}`);
    assert.equal(total(runnerText, 'airlock_tasks_finished_total', { runtime: 'javascript', status: 'succeeded', error_code: 'none' }), 1);
    assert.equal(total(runnerText, 'airlock_queue_wait_seconds_count', { runtime: 'javascript' }), 1);
    const wall = total(runnerText, 'airlock_sandbox_wall_seconds_sum', { runtime: 'javascript' });
    assert.ok(wall > 0 && wall < 30, `sandbox wall ${wall}`);
    assert.equal(total(runnerText, 'airlock_sandbox_cpu_seconds_count', { runtime: 'javascript' }), 1);
    assert.ok(!runnerText.includes(taskId), 'no task id in labels');
    assert.equal((await fetch(`${runnerMetricsUrl}/other`)).status, 404);

    const sealerText = await (await fetch(`${sealerMetricsUrl}/metrics`)).text();
    for (const f of ['airlock_audit_sealer_lag_seconds', 'airlock_audit_sealer_last_round_timestamp_seconds', 'airlock_audit_entries_read_total']) {
      assert.ok(families(sealerText).has(f), `sealer: ${f}`);
    }
    assert.ok(total(sealerText, 'airlock_audit_entries_read_total') >= 5);
    const lastRound = total(sealerText, 'airlock_audit_sealer_last_round_timestamp_seconds');
    assert.ok(Math.abs(Date.now() / 1000 - lastRound) < 60, `sealer last round ${lastRound}`);

    // The sample Grafana dashboard asks only for metrics that exist.
    const known = new Set([...families(harness), ...families(runnerText), ...families(sealerText)]);
    const dashboard = readFileSync(path.join(ROOT, 'deploy/grafana/airlock-dashboard.json'), 'utf8');
    const asked = new Set([...dashboard.matchAll(/\b(airlock_\w+)/g)].map((m) => m[1]!.replace(/_(bucket|sum|count)$/, '')));
    assert.ok(asked.size >= 20, `dashboard metrics: ${[...asked].join(', ')}`);
    for (const name of asked) assert.ok(known.has(name), `the dashboard's ${name} is a metric`);
  });

  test('the runner logs JSON lines; the task\'s carry taskId and traceId', () => {
    const lines = runnerLog.split('\n').filter((l) => l.trim() !== '');
    const records = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    for (const r of records) assert.equal(typeof r['level'], 'number');
    const mine = records.filter((r) => r['taskId'] === taskId);
    assert.deepEqual(mine.map((r) => r['msg']), ['task started', 'task finished']);
    for (const r of mine) assert.equal(r['traceId'], traceId);
    assert.equal(mine[1]!['status'], 'succeeded');
  });
});

describe('harness request logs', () => {
  test('with traces on, a request\'s completion line names its trace; an agent\'s traceparent is not continued', async () => {
    const lines: Record<string, unknown>[] = [];
    const stream = new Writable({ write(chunk: Buffer, _enc, done) { lines.push(JSON.parse(chunk.toString('utf8'))); done(); } });
    const app = Fastify({ logger: { level: 'info', stream } });
    registerHttpTracing(app, { continueTrace: false });
    app.get('/x', async () => ({ ok: true }));
    const foreign = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    const res = await app.inject({ method: 'GET', url: '/x', headers: { traceparent: foreign } });
    assert.equal(res.statusCode, 200);
    await app.close();
    const done = lines.find((l) => l['msg'] === 'request completed');
    assert.match(String(done?.['traceId']), /^[0-9a-f]{32}$/, JSON.stringify(lines));
    assert.notEqual(done?.['traceId'], '0af7651916cd43dd8448eb211c80319c');
  });
});

describe('metrics after approvals, cancels and a failing target', () => {
  const scrape = async () => {
    const res = await stack.app.inject({ method: 'GET', url: '/metrics', headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
    assert.equal(res.statusCode, 200);
    return res.body;
  };
  const runnerScrape = async () => (await fetch(`${runnerMetricsUrl}/metrics`)).text();
  const submit = async (code: string, capabilities: string[] = []) => {
    const res = await stack.app.inject({
      method: 'POST', url: '/v1/tasks', headers: stack.headers('alice'),
      payload: { runtime: 'javascript', code, capabilities, timeoutMs: 60_000 },
    });
    assert.equal(res.statusCode, 201, res.body);
    return res.json().id as string;
  };

  test('an approved call: pending while it waits, then requested, approved and the decision latency', { timeout: 60_000 }, async () => {
    const approver = await createPrincipalWithKey(stack, ADMIN_KEY, 'user', { roles: ['approver'] });
    const before = await scrape();
    const id = await submit(`await caps.payments.refund({ order: 'o-${randomUUID()}' })`, ['payments.refund']);
    const waiting = await pollTask(stack, id, (t) => t.status === 'waiting_approval' || TERMINAL.has(t.status));
    assert.equal(waiting.status, 'waiting_approval', JSON.stringify(waiting));
    await waitFor(async () => total(await scrape(), 'airlock_approvals_pending') === 1, 'the held call to count as pending');
    const list = await stack.app.inject({ method: 'GET', url: '/v1/approvals?status=pending&limit=100', headers: bearer(approver.key) });
    const approval = (list.json().items as { id: string; taskId: string }[]).find((a) => a.taskId === id)!;
    const decided = await stack.app.inject({ method: 'POST', url: `/v1/approvals/${approval.id}/approve`, headers: bearer(approver.key), payload: {} });
    assert.equal(decided.statusCode, 200, decided.body);
    assert.equal((await pollTask(stack, id, (t) => TERMINAL.has(t.status))).status, 'succeeded');
    const after = await scrape();
    const delta = (name: string, labels: Record<string, string> = {}) => total(after, name, labels) - total(before, name, labels);
    assert.equal(delta('airlock_approvals_requested_total'), 1);
    assert.equal(delta('airlock_approvals_resolved_total', { status: 'approved' }), 1);
    assert.equal(delta('airlock_approval_decision_seconds_count', { decision: 'approved' }), 1);
    const waited = delta('airlock_approval_decision_seconds_sum', { decision: 'approved' });
    assert.ok(waited > 0 && waited < 60, `decision latency ${waited}`);
    assert.equal(total(after, 'airlock_approvals_pending'), 0);
    assert.equal(delta('airlock_capability_calls_total', { capability: 'payments.refund', outcome: 'success' }), 1);
  });

  test('a cancelled running task: its isolate host is replaced and the task counts as cancelled', { timeout: 60_000 }, async () => {
    const before = await runnerScrape();
    const id = await submit('while (true) {}');
    await pollTask(stack, id, (t) => t.status === 'running' || TERMINAL.has(t.status));
    const res = await stack.app.inject({ method: 'DELETE', url: `/v1/tasks/${id}`, headers: stack.headers('alice') });
    assert.equal(res.statusCode, 200, res.body);
    await waitFor(async () => {
      const text = await runnerScrape();
      return total(text, 'airlock_isolate_host_restarts_total') > total(before, 'airlock_isolate_host_restarts_total') &&
        total(text, 'airlock_tasks_finished_total', { status: 'cancelled', error_code: 'cancelled' }) === total(before, 'airlock_tasks_finished_total', { status: 'cancelled', error_code: 'cancelled' }) + 1;
    }, 'a host restart and a cancelled task counted', 20_000);
  });

  test('a broker caller cannot mint metric labels: undeclared names and refused tokens are counted as such', async () => {
    const before = await scrape();
    const task = await runningTask(stack, ['tickets.create']);
    const names = [`x.n${randomUUID().slice(0, 8)}`, `y.n${randomUUID().slice(0, 8)}`];
    for (const [seq, name] of names.entries()) {
      const res = await fetch(`${stack.brokerUrl}/v1/broker/calls`, {
        method: 'POST',
        // A malformed trace context is ignored, not an error.
        headers: { 'content-type': 'application/json', authorization: `Bearer ${task.token}`, traceparent: `00-${'z'.repeat(32)}-nope-01` },
        body: JSON.stringify({ version: 'v1', taskId: task.id, attempt: task.attempt, seq, name, input: {} }),
      });
      assert.equal(res.status, 200);
    }
    const refused = await callBroker(stack, 'not-a-token', { taskId: task.id, attempt: 1, seq: 9, name: 'z.secretname', input: {} });
    assert.equal(refused.status, 401);
    const text = await scrape();
    for (const name of [...names, 'z.secretname']) assert.ok(!text.includes(name), `${name} is not a label`);
    const delta = (labels: Record<string, string>) => total(text, 'airlock_capability_calls_total', labels) - total(before, 'airlock_capability_calls_total', labels);
    assert.equal(delta({ capability: 'undeclared' }), 2);
    assert.equal(delta({ capability: 'unauthorized', outcome: 'unauthorized' }), 1);
  });

  // Last: it opens the circuit of the fixture's host, which the other capabilities share.
  test('a target that keeps failing opens its circuit; later calls are counted unavailable', { timeout: 60_000 }, async () => {
    const id = await submit(`const codes = []; for (let i = 0; i < 7; i++) { try { await caps.status.check({}); } catch (e) { codes.push(e.code); } } codes`, ['status.check']);
    const task = await pollTask(stack, id, (t) => TERMINAL.has(t.status), 'alice', 30_000);
    assert.equal(task.status, 'succeeded', JSON.stringify(task));
    const codes = (task['result'] as { value: string[] }).value;
    assert.ok(codes.includes('capability_unavailable'), codes.join());
    const text = await scrape();
    assert.equal(total(text, 'airlock_capability_circuits', { state: 'open' }), 1);
    assert.equal(total(text, 'airlock_capability_circuit_open', { target: `127.0.0.1:${target.port}` }), 1);
    assert.equal(total(text, 'airlock_capability_calls_total', { capability: 'status.check', outcome: 'capability_failed' }), 5);
    assert.equal(total(text, 'airlock_capability_calls_total', { capability: 'status.check', outcome: 'capability_unavailable' }), 2);
  });
});
