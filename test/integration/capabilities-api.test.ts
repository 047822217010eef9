/**
 * The capability registry, discovery and task declarations through the real Fastify app
 * (inject) on real Redis: definitions are validated (schemas compile, object input, fixed
 * origins), discovery and `.d.ts` list only what policy lets the caller invoke, and
 * `POST /v1/tasks` refuses undeclarable capabilities with 403 before anything is queued.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { activatePolicies, adminHeaders, permitInvoke, putCapability, resetPolicies } from '../helpers/capabilities.ts';
import { startStack, type Stack } from '../helpers/stack.ts';

const ADMIN_KEY = `admin-${randomUUID()}`;
let stack: Stack;
const admin = () => adminHeaders(ADMIN_KEY);

const TICKETS = {
  description: 'Opens a ticket',
  input: {
    type: 'object',
    required: ['title'],
    additionalProperties: false,
    properties: { title: { type: 'string', description: 'One line' }, priority: { enum: ['low', 'high'] } },
  },
  output: { type: 'object', properties: { id: { type: 'integer' } }, required: ['id'] },
  risk: 'write',
  timeoutMs: 5000,
  rateLimit: { perMinute: 60 },
  implementation: { type: 'http', method: 'POST', url: 'https://tickets.example/api/tickets', body: 'input', credential: 'tickets' },
};

before(async () => {
  stack = await startStack({ runner: false, harnessEnv: { AIRLOCK_ADMIN_API_KEY: ADMIN_KEY, AIRLOCK_ADMIN_TENANT: 'acme' } });
  await putCapability(stack, ADMIN_KEY, 'tickets.create', TICKETS);
  await putCapability(stack, ADMIN_KEY, 'payments.refund', {
    ...TICKETS,
    description: 'Refunds',
    input: { type: 'object', properties: { order: { type: 'string' }, amount: { type: 'integer' } } },
    output: undefined,
    implementation: { type: 'http', method: 'POST', url: 'https://pay.example/refunds/{input.order}', body: 'input' },
  });
  await activatePolicies(stack, ADMIN_KEY, permitInvoke('tickets-for-agents', ['tickets.create']));
});
after(async () => {
  await resetPolicies(stack, ADMIN_KEY);
  await stack.close();
});

const put = (name: string, body: unknown) =>
  stack.app.inject({ method: 'PUT', url: `/v1/admin/capabilities/${name}`, headers: admin(), payload: body as Record<string, unknown> });

describe('capability registry', () => {
  test('create, read, list, replace, delete', async () => {
    const name = `tmp.c${randomUUID().slice(0, 6)}`;
    const created = await put(name, TICKETS);
    assert.equal(created.statusCode, 201, created.body);
    assert.equal(created.json().name, name);
    assert.equal((await put(name, { ...TICKETS, description: 'v2' })).statusCode, 200);
    const got = await stack.app.inject({ method: 'GET', url: `/v1/admin/capabilities/${name}`, headers: admin() });
    assert.equal(got.json().description, 'v2');
    const list = await stack.app.inject({ method: 'GET', url: '/v1/admin/capabilities', headers: admin() });
    assert.ok(list.json().items.some((c: { name: string }) => c.name === name));
    assert.equal((await stack.app.inject({ method: 'DELETE', url: `/v1/admin/capabilities/${name}`, headers: admin() })).statusCode, 204);
    assert.equal((await stack.app.inject({ method: 'GET', url: `/v1/admin/capabilities/${name}`, headers: admin() })).statusCode, 404);
  });

  test('http.request gets the built-in input schema', async () => {
    const res = await put(`web.f${randomUUID().slice(0, 8)}`, {
      description: 'Fetch from the docs site',
      risk: 'read',
      implementation: { type: 'http.request', allowedHosts: ['docs.example.com', '*.example.org:443'] },
    });
    assert.equal(res.statusCode, 201, res.body);
    assert.deepEqual(res.json().input.required, ['url']);
  });

  test('invalid definitions are 400s that point at the problem, and nothing is stored', async () => {
    const cases: [string, unknown, RegExp][] = [
      ['bad schema', { ...TICKETS, input: { type: 'strnig' } }, /\/body\/input/],
      ['unknown keyword (strict)', { ...TICKETS, input: { type: 'object', propertees: {} } }, /\/body\/input/],
      ['remote $ref', { ...TICKETS, input: { type: 'object', $ref: 'https://evil.example/s.json' } }, /\/body\/input/],
      ['input not an object schema', { ...TICKETS, input: { type: 'string' } }, /\/body\/input\/type/],
      ['bad output schema', { ...TICKETS, output: { type: 'object', required: 'id' } }, /\/body\/output/],
      ['no input schema', { ...TICKETS, input: undefined }, /\/body\/input/],
      ['placeholder in the host', { ...TICKETS, implementation: { ...TICKETS.implementation, url: 'https://{input.host}/x' } }, /url/],
      ['placeholder in the port', { ...TICKETS, implementation: { ...TICKETS.implementation, url: 'https://a.example:{input.p}/x' } }, /url/],
      ['not http', { ...TICKETS, implementation: { ...TICKETS.implementation, url: 'file:///etc/passwd' } }, /url/],
      ['credentials in the URL', { ...TICKETS, implementation: { ...TICKETS.implementation, url: 'https://u:p@a.example/x' } }, /url/],
      ['bad risk', { ...TICKETS, risk: 'high' }, /risk/],
      ['unknown field', { ...TICKETS, extra: 1 }, /extra|Unrecognized/i],
      ['a url placeholder the input schema does not declare (typo)', { ...TICKETS, implementation: { ...TICKETS.implementation, url: 'https://a.example/t/{input.titel}' } }, /\/body\/implementation\/url.*titel/],
      ['a body placeholder not declared', { ...TICKETS, implementation: { ...TICKETS.implementation, body: { t: ['{input.nope}'] } } }, /\/body\/implementation\/body\/t\/0.*nope/],
      ['a nested placeholder not declared', { ...TICKETS, implementation: { ...TICKETS.implementation, query: { q: '{input.title.x}' } } }, /\/body\/implementation\/query\/q.*no field .{1,2}x.{1,2} in .{1,2}title/],
      ['header with a line break', { ...TICKETS, implementation: { ...TICKETS.implementation, headers: { 'X-A': 'a\r\nb' } } }, /headers/],
    ];
    for (const [what, body, where] of cases) {
      const res = await put('bad.cap', body);
      assert.equal(res.statusCode, 400, `${what}: ${res.body}`);
      assert.equal(res.headers['content-type'], 'application/problem+json; charset=utf-8', what);
      assert.match(res.body, where, what);
    }
    assert.equal((await stack.app.inject({ method: 'GET', url: '/v1/admin/capabilities/bad.cap', headers: admin() })).statusCode, 404);
  });

  test('agents cannot manage capabilities', async () => {
    const res = await stack.app.inject({ method: 'PUT', url: '/v1/admin/capabilities/x.y', headers: stack.headers('alice', null), payload: TICKETS });
    assert.equal(res.statusCode, 403);
  });
});

describe('discovery', () => {
  test('GET /v1/capabilities lists what policy lets this caller invoke, with schemas, never the implementation', async () => {
    const res = await stack.app.inject({ method: 'GET', url: '/v1/capabilities', headers: stack.headers('alice', null) });
    assert.equal(res.statusCode, 200, res.body);
    const names = res.json().items.map((c: { name: string }) => c.name);
    assert.deepEqual(names, ['tickets.create']);
    assert.deepEqual(res.json().items[0].input, TICKETS.input);
    assert.ok(!res.body.includes('tickets.example') && !res.body.includes('credential'));
    // Another tenant sees none of them.
    const eve = await stack.app.inject({ method: 'GET', url: '/v1/capabilities', headers: stack.headers('eve', null) });
    assert.deepEqual(eve.json().items, []);
  });

  test('GET /v1/capabilities.d.ts declares the caps global from the schemas', async () => {
    const res = await stack.app.inject({ method: 'GET', url: '/v1/capabilities.d.ts', headers: stack.headers('alice', null) });
    assert.equal(res.statusCode, 200);
    assert.match(res.headers['content-type'] as string, /typescript/);
    const dts = res.body;
    assert.match(dts, /declare const caps: \{/);
    assert.match(dts, /readonly "tickets": \{/);
    assert.match(dts, /readonly "create": \(input: \{ \/\*\* One line \*\/ "title": string; "priority"\?: "low" \| "high"; \}\) => Promise<\{ "id": number; \}>;/);
    assert.match(dts, /call\(name: "tickets.create"/);
    assert.ok(!dts.includes('payments'));
  });
});

describe('POST /v1/tasks with capabilities', () => {
  const create = (capabilities: unknown, agent: 'alice' | 'eve' = 'alice') =>
    stack.app.inject({
      method: 'POST',
      url: '/v1/tasks',
      headers: stack.headers(agent),
      payload: { runtime: 'javascript', code: '1', capabilities } as Record<string, unknown>,
    });

  test('an allowed capability is recorded on the task and carried by its job', async () => {
    const res = await create(['tickets.create', 'tickets.create']);
    assert.equal(res.statusCode, 201, res.body);
    const id = res.json().id as string;
    const record = await stack.deps.store.get(id);
    assert.deepEqual(record?.capabilities, ['tickets.create']);
    assert.equal(record?.principalKind, 'agent');
    const job = await stack.deps.queue.getJob(id);
    assert.deepEqual(job?.data.capabilities, ['tickets.create']);
  });

  test('unknown, not permitted, or another tenant’s capability: 403 naming it, nothing created', async () => {
    const before = await stack.deps.queue.count();
    const unknown = await create(['tickets.create', 'mail.send']);
    assert.equal(unknown.statusCode, 403, unknown.body);
    assert.equal(unknown.json().reason, 'unknown_capability');
    assert.match(unknown.json().detail, /capabilities\[1\].*mail\.send/);
    const denied = await create(['payments.refund']);
    assert.equal(denied.statusCode, 403);
    assert.equal(denied.json().reason, 'policy');
    assert.match(denied.json().detail, /no policy permits it/);
    const eve = await create(['tickets.create'], 'eve');
    assert.equal(eve.statusCode, 403);
    assert.equal(eve.json().reason, 'unknown_capability');
    assert.equal(await stack.deps.queue.count(), before);
  });

  test('malformed lists are 400s', async () => {
    assert.equal((await create(['Tickets.Create'])).statusCode, 400);
    assert.equal((await create('tickets.create')).statusCode, 400);
    assert.equal((await create(Array.from({ length: 257 }, (_, i) => `a.b${i}`))).statusCode, 400);
  });
});
