/**
 * Property-based fuzzing of EVERY route of the real app (Fastify through `inject`, real Redis,
 * a real in-process runner with isolate hosts; nothing mocked). The route list is read from the
 * router as the app is built (helpers/owasp-fixtures.ts `captureRoutes`), and each route's
 * bodies, query strings and path parameters are generated from its own zod schemas
 * (helpers/fuzz-arbitraries.ts) and then broken: wrong types, unknown and prototype fields,
 * malformed JSON, deep nesting, wrong media types, repeated and unknown query parameters,
 * path segments with traversal, NUL and bad percent-encoding, and every kind of Authorization
 * and Idempotency-Key value (valid keys of several principals, a task token, garbage).
 *
 * What must hold for every request: no 5xx, no hang (10 s each), no unhandled rejection in the
 * process, and every 4xx is `application/problem+json` whose `code` is one of ours with the
 * status that code always has. Then raw bytes over a real socket (the app listening on
 * loopback), for what `inject` cannot send: broken request lines, header syntax, Content-Length
 * and chunked framing, missing Host, oversized headers: no 5xx, every 4xx problem+json, no
 * connection left hanging. Afterwards the service still answers /healthz and runs `1+1`.
 *
 * `FUZZ_RUNS` sets the number of requests per route (default 30, about 2000 requests, and ten
 * times that many raw requests; well under a minute); `FUZZ_RUNS=2000` is a long run.
 * `FUZZ_SEED` replays a failure fast-check reported.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { connect } from 'node:net';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import fc from 'fast-check';
import type { HTTPMethods, LightMyRequestResponse } from 'fastify';
import { PROBLEMS, isProblemCode } from '../../harness/problems.ts';
import { auditFixture, inProcessSealer } from '../helpers/audit.ts';
import { anyJson, fromJsonSchema, jsonSchemaOf, mutated, nastyString } from '../helpers/fuzz-arbitraries.ts';
import { createPrincipalWithKey, mintToken } from '../helpers/identity.ts';
import { captureRoutes, createTenantWithId, type RegisteredRoute } from '../helpers/owasp-fixtures.ts';
import { AGENTS, startStack, type Stack } from '../helpers/stack.ts';

const RUNS_PER_ROUTE = Number(process.env['FUZZ_RUNS'] ?? 30);
const SEED = process.env['FUZZ_SEED'] === undefined ? undefined : Number(process.env['FUZZ_SEED']);
const REQUEST_TIMEOUT_MS = 10_000;
const RUN = randomUUID().slice(0, 8);
const BOOTSTRAP_KEY = `bootstrap-${randomUUID()}`;
const TENANT = `fuzz-${RUN}`;

let stack: Stack;
let routes: RegisteredRoute[];
/** Credentials worth sending (each reaches a different part of the security path). */
let keys: string[] = [];
/** Ids that exist, per path parameter name, so some requests get past the 404. */
const known: Record<string, string[]> = { id: [], keyId: [], jti: [], name: [], tenantId: [] };
const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => unhandled.push(reason);

before(async () => {
  process.on('unhandledRejection', onUnhandled);
  const audit = await auditFixture();
  const grantRoot = await mkdtemp(path.join(tmpdir(), 'airlock-fuzz-grants-'));
  const captured = await captureRoutes(() =>
    startStack({
      harnessEnv: {
        AIRLOCK_ADMIN_API_KEY: BOOTSTRAP_KEY,
        AIRLOCK_ADMIN_TENANT: `fuzz-boot-${RUN}`,
        AUDIT_DIR: audit.dir,
        GRANT_ROOTS: grantRoot,
        // Generated tasks and waits stay short, so thousands of requests fit in a minute.
        MAX_WAIT_SECONDS: '1',
        TASK_MAX_TIMEOUT_MS: '1000',
        TASK_DEFAULT_TIMEOUT_MS: '1000',
        // Container tasks are accepted and stay queued (this runner has isolates only): a 503
        // runtime_unavailable is a correct answer, but not what this test is about.
        TASKS_REQUIRE_LIVE_RUNNER: 'false',
      },
    }),
  );
  stack = captured.result;
  routes = captured.routes;
  const admin = await createTenantWithId(stack, BOOTSTRAP_KEY, TENANT);
  const agent = await createPrincipalWithKey(stack, admin.adminKey, 'agent');
  const user = await createPrincipalWithKey(stack, admin.adminKey, 'user');
  const token = await mintToken(stack, AGENTS.alice.key);
  // Every tenant the fuzzer's keys belong to has a signed audit checkpoint (minting a token is
  // audited; before the sealer's first checkpoint /v1/audit/checkpoint is, rightly, 503).
  const bootAgent = await createPrincipalWithKey(stack, BOOTSTRAP_KEY, 'agent');
  await mintToken(stack, bootAgent.key);
  await mintToken(stack, agent.key);
  const sealer = inProcessSealer(stack.deps.redis, audit);
  const logs = [`tenants/acme`, `tenants/fuzz-boot-${RUN}`, `tenants/${TENANT}`];
  for (let i = 0; i < 100 && logs.some((l) => sealer.logSize(l) === 0); i++) await sealer.tick();
  await sealer.commit();
  sealer.checkpoint();
  await sealer.close();
  keys = [AGENTS.alice.key, BOOTSTRAP_KEY, admin.adminKey, agent.key, user.key, token];
  // A finished task of alice (its event stream ends at once; a running one's would not).
  const done = await stack.app.inject({
    method: 'POST',
    url: '/v1/tasks',
    headers: stack.headers('alice'),
    payload: { runtime: 'javascript', code: '1+1', wait: 1 },
  });
  assert.equal(done.statusCode, 201, done.body);
  assert.equal(done.json().status, 'succeeded', done.body);
  // Objects the fuzzer may disable or revoke: never the ones whose keys it sends.
  const victimAgent = await createPrincipalWithKey(stack, admin.adminKey, 'agent');
  const victimUser = await createPrincipalWithKey(stack, admin.adminKey, 'user');
  known['id']!.push(done.json().id, victimAgent.id, victimUser.id);
  known['keyId']!.push(victimAgent.keyId, victimUser.keyId);
  known['name']!.push('fuzz-grant');
  known['tenantId']!.push(TENANT);
});

after(async () => {
  process.off('unhandledRejection', onUnhandled);
  await stack?.close();
});

/** Header values a client can send (visible ASCII and obs-text; HTTP forbids the rest). */
const headerText = fc.string({ unit: fc.integer({ min: 0x20, max: 0xff }).map((c) => String.fromCharCode(c)), maxLength: 60 });

const authorization = (): fc.Arbitrary<string | undefined> =>
  fc.oneof(
    { weight: 6, arbitrary: fc.constantFrom(...keys).map((k) => `Bearer ${k}`) },
    { weight: 1, arbitrary: fc.constant(undefined) },
    {
      weight: 3,
      arbitrary: fc.oneof(
        headerText,
        headerText.map((t) => `Bearer ${t}`),
        fc.constantFrom(...keys).map((k) => `bearer  ${k} `),
        fc.constantFrom(...keys).map((k) => `Basic ${Buffer.from(`x:${k}`).toString('base64')}`),
        fc.tuple(fc.base64String(), fc.base64String(), fc.base64String()).map((p) => `Bearer ${p.join('.')}`),
        fc.tuple(fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: 24, maxLength: 24 }), fc.base64String({ minLength: 44, maxLength: 44 })).map(
          ([id, secret]) => `Bearer ak_${id}_${secret}`,
        ),
        fc.constantFrom('Bearer', 'Bearer ', '', 'Bearer \u00ff'),
      ),
    },
  );

const idempotencyKey: fc.Arbitrary<string | undefined> = fc.oneof(
  fc.uuid().map((u) => `"${u}"`),
  fc.uuid(),
  fc.constant(undefined),
  headerText,
  fc.constantFrom('"a"', '"abc";x=1', '""', '"', '"a" , "b"', `"${'a'.repeat(256)}"`, ':cHJldGVuZA==:', '?1', '"a\\"b"', '1', '"ÿ"'),
);

const contentType: fc.Arbitrary<string | undefined> = fc.oneof(
  { weight: 6, arbitrary: fc.constant('application/json') },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      undefined,
      'application/json; charset=utf-8',
      'application/json; charset=latin1',
      'text/plain',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=x',
      'application/problem+json',
      'application/json;;',
      'APPLICATION/JSON',
      '',
    ),
  },
  { weight: 1, arbitrary: headerText },
);

/** A raw body: JSON of a value, or bytes that are not quite JSON. */
function bodyText(schema: ReturnType<typeof jsonSchemaOf>): fc.Arbitrary<string | undefined> {
  const value = mutated(schema ? fromJsonSchema(schema) : anyJson);
  return fc.oneof(
    { weight: 8, arbitrary: value.map((v) => JSON.stringify(v) ?? 'null') },
    { weight: 1, arbitrary: fc.constant(undefined) },
    {
      weight: 2,
      arbitrary: fc.oneof(
        value.map((v) => (JSON.stringify(v) ?? 'null').slice(0, -1)),
        fc.string({ maxLength: 50 }),
        fc.constantFrom('', '{', '[', 'nul', '{"a":1,}', '\u0000', '{"__proto__":{"x":1}}', '{"constructor":{"prototype":{"x":1}}}', '1e999999'),
        fc.integer({ min: 1000, max: 20000 }).map((n) => `${'['.repeat(n)}${']'.repeat(n)}`),
        fc.integer({ min: 1000, max: 20000 }).map((n) => `${'{"a":'.repeat(n)}1${'}'.repeat(n)}`),
      ),
    },
  );
}

/** A path segment for parameter `name`: a known id, one its schema allows, or a nasty one. */
function pathSegment(name: string, paramsSchema: ReturnType<typeof jsonSchemaOf>): fc.Arbitrary<string> {
  const props = (paramsSchema?.['properties'] ?? {}) as Record<string, Record<string, unknown>>;
  const fromSchema = props[name] ? fromJsonSchema(props[name]).map((v) => String(v)) : nastyString;
  const ids = known[name] ?? [];
  const encoded = fc.oneof(
    ...(ids.length > 0 ? [{ weight: 3, arbitrary: fc.constantFrom(...ids) }] : []),
    { weight: 3, arbitrary: fromSchema },
    { weight: 2, arbitrary: nastyString },
  ).map(pct);
  // Sent as they are: percent-encoding the router must survive, traversal, empty segments.
  const raw = fc.constantFrom('%', '%zz', '%00', '%2e%2e', '..', '.', '%2F', 'a%2Fb', '%C0%AE', '%ff', '~', '*', '', 'a/b', '../../x');
  return fc.oneof({ weight: 5, arbitrary: encoded }, { weight: 1, arbitrary: raw });
}

/** A query string: one the schema allows (sometimes with extra or repeated parameters), or junk. */
function queryString(schema: ReturnType<typeof jsonSchemaOf>): fc.Arbitrary<string> {
  const pairs = (schema ? fromJsonSchema(schema) : fc.constant({})).map((v) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.entries(v).map(([k, x]) => [k, typeof x === 'string' ? x : JSON.stringify(x)] as [string, string])
      : [],
  );
  const extra = fc.array(fc.tuple(fc.oneof(fc.string({ maxLength: 10 }), fc.constantFrom('limit', 'cursor', 'status', 'proofs', '__proto__')), nastyString), { maxLength: 3 });
  const encode = (p: [string, string][]) => p.map(([k, v]) => `${pct(k)}=${pct(v)}`).join('&');
  return fc.oneof(
    { weight: 3, arbitrary: pairs.map(encode) },
    { weight: 2, arbitrary: fc.tuple(pairs, extra).map(([p, e]) => encode([...p, ...e])) },
    { weight: 1, arbitrary: pairs.map((p) => encode([...p, ...p])) },
    { weight: 1, arbitrary: fc.constantFrom('', '&&', '=', 'a', 'limit', 'limit=', 'limit[]=1', 'limit[a]=1', '%', 'limit=%zz', 'a=1&a=2&a=3') },
  );
}

/** encodeURIComponent of the UTF-8 a client would send (a lone surrogate becomes U+FFFD). */
function pct(s: string): string {
  return encodeURIComponent(Buffer.from(s, 'utf8').toString('utf8'));
}

interface FuzzRequest {
  method: string;
  url: string;
  headers: Record<string, string>;
  payload: string | undefined;
}

/**
 * Requests for `route`, half of them well-formed (a valid credential and Idempotency-Key, JSON,
 * a body, query and path its schemas allow, so they reach the handlers and their stores) and
 * half fuzzed in every part.
 */
function requestFor(route: RegisteredRoute): fc.Arbitrary<FuzzRequest> {
  const params = jsonSchemaOf(route.params);
  const query = jsonSchemaOf(route.querystring);
  const body = jsonSchemaOf(route.body);
  const names = [...route.url.matchAll(/:([A-Za-z]+)|\*/g)].map((m) => m[1] ?? '*');
  const segmentsOf = (good: boolean) =>
    fc.tuple(
      ...names.map((n) =>
        n === '*'
          ? fc.array(good ? fc.stringMatching(/^[a-z0-9._-]{1,12}$/) : pathSegment('*', null), { minLength: 0, maxLength: 4 }).map((s) => s.join('/'))
          : good
            ? wellFormedSegment(n, params)
            : pathSegment(n, params),
      ),
    );
  const hasBody = route.body !== undefined || ['POST', 'PUT', 'DELETE', 'PATCH'].includes(route.method);
  const optional = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: undefined });
  const lastEventId = optional(fc.oneof(headerText, fc.constantFrom('0', '0-0', '1-99999999999999999999', '-1', '99999999999999-0')));
  const accept = optional(fc.constantFrom('text/event-stream', 'application/json', '*/*', 'text/html', 'application/problem+json'));
  const fuzzed = fc.record({
    segments: segmentsOf(false),
    query: queryString(query),
    authorization: authorization(),
    idempotencyKey,
    contentType,
    body: hasBody ? bodyText(body) : fc.constant(undefined),
    lastEventId,
    accept,
  });
  const wellFormed = fc.record({
    segments: segmentsOf(true),
    query: query ? fromJsonSchema(query).map((v) => queryOf(v)) : fc.constant(''),
    authorization: fc.constantFrom(...keys).map((k): string | undefined => `Bearer ${k}`),
    idempotencyKey: fc.uuid().map((u): string | undefined => `"${u}"`),
    contentType: fc.constant<string | undefined>('application/json'),
    body: hasBody && body ? fromJsonSchema(body).map((v): string | undefined => JSON.stringify(v)) : fc.constant(undefined),
    lastEventId,
    accept,
  });
  return fc.oneof(fuzzed, wellFormed).map((r) => {
    let i = 0;
    const url = route.url.replace(/:([A-Za-z]+)|\*/g, () => r.segments[i++] ?? '');
    const headers: Record<string, string> = {};
    if (r.authorization !== undefined) headers['authorization'] = r.authorization;
    if (r.idempotencyKey !== undefined) headers['idempotency-key'] = r.idempotencyKey;
    if (r.body !== undefined && r.contentType !== undefined) headers['content-type'] = r.contentType;
    if (r.lastEventId !== undefined) headers['last-event-id'] = r.lastEventId;
    if (r.accept !== undefined) headers['accept'] = r.accept;
    const req: FuzzRequest = { method: route.method, url: r.query ? `${url}?${r.query}` : url, headers, payload: r.body };
    // fast-check prints counterexamples through this: bodies can be a megabyte.
    return Object.assign(req, { [fc.toStringMethod]: () => describeRequest(req) });
  });
}

/** A path segment of parameter `name` that exists, or that its schema allows. */
function wellFormedSegment(name: string, paramsSchema: ReturnType<typeof jsonSchemaOf>): fc.Arbitrary<string> {
  const props = (paramsSchema?.['properties'] ?? {}) as Record<string, Record<string, unknown>>;
  const ids = known[name] ?? [];
  const fromSchema = props[name] ? fromJsonSchema(props[name]).map((v) => String(v)) : fc.uuid();
  return (ids.length > 0 ? fc.oneof(fc.constantFrom(...ids), fromSchema) : fromSchema).map(pct);
}

/** The query string of a generated query object. */
function queryOf(value: unknown): string {
  if (!value || typeof value !== 'object' || Array.isArray(value)) return '';
  return Object.entries(value)
    .map(([k, v]) => `${pct(k)}=${pct(typeof v === 'string' ? v : JSON.stringify(v))}`)
    .join('&');
}

async function send(req: FuzzRequest): Promise<LightMyRequestResponse> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${REQUEST_TIMEOUT_MS} ms`)), REQUEST_TIMEOUT_MS);
  });
  try {
    return await Promise.race([
      stack.app.inject({
        method: req.method as HTTPMethods,
        url: req.url,
        headers: req.headers,
        ...(req.payload === undefined ? {} : { payload: req.payload }),
      }),
      timeout,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

function describeRequest(req: FuzzRequest): string {
  const body = req.payload === undefined ? '' : ` body(${req.payload.length})=${JSON.stringify(req.payload.slice(0, 200))}`;
  return `${req.method} ${req.url} ${JSON.stringify(req.headers)}${body}`;
}

/** The properties every answer has; throws with the request and answer otherwise. */
function check(req: FuzzRequest, res: LightMyRequestResponse): void {
  const where = () => `${describeRequest(req)}\n→ ${res.statusCode} ${res.headers['content-type']} ${res.body.slice(0, 500)}`;
  // /readyz answers 503 not_ready while no runner is live: the probe doing its job (seen in long
  // FUZZ_RUNS runs, when this stack's runner was briefly not live).
  if (req.url.split('?')[0] === '/readyz' && res.statusCode === 503) {
    assert.equal((JSON.parse(res.body) as { code?: unknown }).code, 'not_ready', where());
    return;
  }
  assert.ok(res.statusCode < 500, `5xx: ${where()}`);
  if (res.statusCode < 400) return;
  // The console is for people: its pages answer a 4xx with an HTML page, its static files and
  // form refusals with text (a problem+json is fine too, from the API parts they go through).
  if (req.url.startsWith('/console')) {
    assert.match(String(res.headers['content-type']), /^(text\/html|text\/plain|application\/problem\+json)/, `console 4xx of an unexpected type: ${where()}`);
    return;
  }
  assert.match(String(res.headers['content-type']), /^application\/problem\+json/, `4xx without problem+json: ${where()}`);
  if (req.method === 'HEAD') return;
  const body = JSON.parse(res.body) as { code?: unknown; status?: unknown; type?: unknown };
  assert.ok(isProblemCode(body.code), `4xx without one of our codes: ${where()}`);
  assert.equal(PROBLEMS[body.code].status, res.statusCode, `code ${body.code} answered with another status: ${where()}`);
  assert.equal(body.status, res.statusCode, `status member differs: ${where()}`);
  assert.equal(typeof body.type, 'string', where());
}

test('every route: generated and malformed requests get no 5xx and only problem+json 4xx', async (t) => {
  assert.ok(routes.length > 40, `the router lists ${routes.length} routes`);
  const statuses = new Map<number, number>();
  for (const route of routes) {
    await fc.assert(
      fc.asyncProperty(requestFor(route), async (req) => {
        const res = await send(req);
        statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1);
        check(req, res);
      }),
      { numRuns: RUNS_PER_ROUTE, ...(SEED === undefined ? {} : { seed: SEED }), endOnFailure: true, includeErrorInReport: true },
    );
  }
  t.diagnostic(`${routes.length} routes × ${RUNS_PER_ROUTE} requests; statuses: ${JSON.stringify(Object.fromEntries([...statuses].sort()))}`);
  // Some requests got through to the handlers (the fuzz is not all 401s and 400s).
  const ok = [...statuses].filter(([s]) => s < 300).reduce((n, [, c]) => n + c, 0);
  assert.ok(ok > routes.length, `only ${ok} 2xx answers: ${JSON.stringify([...statuses])}`);
  assert.deepEqual(unhandled, [], 'unhandled rejections during the fuzz');
});

/** Raw bytes over a real socket: what `inject` cannot send (broken HTTP framing, bad headers). */
function rawRequest(): fc.Arbitrary<string> {
  const line = fc.record({
    method: fc.oneof(fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'HEAD', 'OPTIONS', 'PATCH', 'TRACE', 'CONNECT'), fc.string({ maxLength: 8 })),
    path: fc.oneof(
      fc.constantFrom(...routes.map((r) => r.url.replace(/:([A-Za-z]+)/g, 'x').replace('*', 'f'))),
      fc.string({ maxLength: 30 }).map((t) => `/${t}`),
      fc.constantFrom('*', '', '//', '/v1/tasks?%', 'http://evil/v1/tasks', '/v1/../../etc/passwd'),
    ),
    version: fc.constantFrom('HTTP/1.1', 'HTTP/1.0', 'HTTP/2.0', 'HTTP/1.1 x', '', 'HTTP/9'),
  });
  const header = fc.oneof(
    fc.constantFrom(
      `Authorization: Bearer ${AGENTS.alice.key}`,
      'Content-Type: application/json',
      'Content-Length: 5',
      'Content-Length: abc',
      'Content-Length: -1',
      'Content-Length: 5\r\nContent-Length: 6',
      'Transfer-Encoding: chunked',
      'Transfer-Encoding: gzip, chunked',
      'Transfer-Encoding: identity',
      'Expect: 100-continue',
      'Connection: keep-alive',
      'Connection: upgrade\r\nUpgrade: websocket',
      'Host:',
      `X-Big: ${'a'.repeat(20_000)}`,
      'Idempotency-Key: "abc"',
      ' folded: continuation',
      'no-colon',
      'Bad Name: x',
      'X-Ctl: a\u0001b',
    ),
    fc.tuple(fc.string({ maxLength: 10 }), fc.string({ maxLength: 20 })).map(([k, v]) => `${k}: ${v}`),
  );
  return fc
    .record({
      line,
      headers: fc.array(header, { maxLength: 6 }),
      host: fc.boolean(),
      body: fc.oneof(fc.constant(''), fc.string({ maxLength: 40 }), fc.constantFrom('{"runtime":"javascript","code":"1"}', '5\r\nhello\r\n0\r\n\r\n', 'zz\r\nx\r\n', '0\r\n\r\n')),
      eol: fc.constantFrom('\r\n', '\n', '\r'),
    })
    .map(({ line: l, headers, host, body, eol }) =>
      [`${l.method} ${l.path} ${l.version}`, ...(host ? ['Host: 127.0.0.1'] : []), ...headers, '', body].join(eol),
    );
}

/** Sends `raw`, half-closes, and returns every byte the server sent until it closed (5 s cap). */
function sendRaw(port: number, raw: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.end(raw, 'latin1'));
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`the connection was still open after 5 s: ${JSON.stringify(raw.slice(0, 200))}`));
    }, 5000);
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', () => {});
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks).toString('latin1'));
    });
  });
}

test('raw HTTP over a real socket: malformed framing and headers get no 5xx, and every 4xx is problem+json', async () => {
  await stack.app.listen({ port: 0, host: '127.0.0.1' });
  const port = (stack.app.server.address() as { port: number }).port;
  await fc.assert(
    fc.asyncProperty(rawRequest(), async (raw) => {
      const answer = await sendRaw(port, raw);
      // Every response in the answer (pipelining may make several): its status and content type.
      for (const m of answer.matchAll(/HTTP\/1\.[01] (\d{3})[^\r\n]*\r\n((?:[^\r\n]+\r\n)*)\r\n/g)) {
        const status = Number(m[1]);
        const where = `${JSON.stringify(raw.slice(0, 300))}\n→ ${JSON.stringify(answer.slice(0, 400))}`;
        assert.ok(status < 500, `5xx: ${where}`);
        // The console answers people: an HTML or text 4xx there is right (as in check()).
        const type = /^console\//.test(/^[A-Z]+ \/(\S*)/.exec(raw)?.[1] ?? '') ? /^content-type: (text\/html|text\/plain|application\/problem\+json)/im : /^content-type: application\/problem\+json/im;
        if (status >= 400) assert.match(m[2] ?? '', type, `4xx without problem+json: ${where}`);
      }
    }),
    { numRuns: RUNS_PER_ROUTE * 10, ...(SEED === undefined ? {} : { seed: SEED }), endOnFailure: true, includeErrorInReport: true },
  );
  assert.deepEqual(unhandled, []);
});

test('afterwards the service is healthy and still runs 1+1', async () => {
  assert.equal((await stack.app.inject({ method: 'GET', url: '/healthz' })).statusCode, 200);
  const res = await stack.app.inject({
    method: 'POST',
    url: '/v1/tasks',
    headers: stack.headers('alice'),
    payload: { runtime: 'javascript', code: '1+1', wait: 1 },
  });
  assert.equal(res.statusCode, 201, res.body);
  assert.equal(res.json().status, 'succeeded', res.body);
  assert.equal(res.json().result.value, 2);
  assert.deepEqual(unhandled, []);
});
