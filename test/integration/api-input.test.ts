/**
 * Bad input gets RFC 9457 problem+json and changes nothing (STANDARDS PD-1..5, OWASP API3/API4),
 * through the real HTTP app (Fastify via `inject`), real Redis and real BullMQ. The stack runs no
 * runner, so every accepted task stays queued and every job stays in this stack's own queue: "no
 * task created" is checked exactly, by job count and by the agent's task list. Agents belong to
 * tenants unique to this run, so GET /v1/tasks sees only this file's tasks.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { LightMyRequestResponse } from 'fastify';
import { startStack, type AgentName, type Stack } from '../helpers/stack.ts';
import { runAgents } from '../helpers/run-agents.ts';

let stack: Stack;
before(async () => {
  const agents = await runAgents();
  stack = await startStack({ runner: false, harnessEnv: agents.harnessEnv });
});
after(async () => {
  await stack.close();
});

const PROBLEM_MEMBERS = ['code', 'detail', 'instance', 'status', 'title', 'type'];
/** PD-5: what must never appear in a problem. */
const LEAKS = [/at \//, /node_modules/, /redis/i, /Error:/, /secret/i, /\.ts\b/, /airlock:/];

function assertProblem(
  res: LightMyRequestResponse,
  status: number,
  code: string,
): Record<string, unknown> {
  assert.equal(res.statusCode, status, res.body);
  assert.equal(res.headers['content-type'], 'application/problem+json; charset=utf-8');
  const body = res.json() as Record<string, unknown>;
  for (const member of PROBLEM_MEMBERS)
    assert.ok(member in body, `member ${member} in ${res.body}`);
  assert.deepEqual(
    Object.keys(body).filter((k) => !PROBLEM_MEMBERS.includes(k)),
    'errors' in body ? ['errors'] : [],
  );
  assert.equal(body['status'], status);
  assert.equal(body['code'], code);
  assert.equal(body['type'], `https://airlock.dev/problems/${code}`);
  assert.equal(typeof body['title'], 'string');
  assert.equal(typeof body['detail'], 'string');
  assert.match(String(body['instance']), /^urn:uuid:[0-9a-f-]{36}$/);
  for (const leak of LEAKS) assert.doesNotMatch(res.body, leak);
  return body;
}

/** The JSON pointers of a 400's `errors` (each entry has a string detail). */
function pointers(body: Record<string, unknown>): string[] {
  const errors = body['errors'] as { detail: unknown; pointer: unknown }[];
  assert.ok(Array.isArray(errors));
  for (const e of errors) {
    assert.deepEqual(Object.keys(e).toSorted(), ['detail', 'pointer']);
    assert.equal(typeof e.detail, 'string');
    assert.ok((e.detail as string).length > 0);
  }
  return errors.map((e) => e.pointer as string);
}

async function jobCount(): Promise<number> {
  const counts = await stack.deps.queue.getJobCounts();
  return Object.values(counts).reduce((a, b) => a + b, 0);
}

/** Jobs of both queues (isolate and container). */
async function allJobCount(): Promise<number> {
  const counts = [await stack.deps.queue.getJobCounts(), await stack.deps.containerQueue.getJobCounts()];
  return counts.flatMap((c) => Object.values(c)).reduce((a, b) => a + b, 0);
}

async function listAll(
  agent: AgentName,
  query = '',
): Promise<{ id: string; status: string; createdAt: string }[]> {
  const res = await stack.app.inject({
    method: 'GET',
    url: `/v1/tasks?limit=100${query}`,
    headers: stack.headers(agent, null),
  });
  assert.equal(res.statusCode, 200);
  return res.json().items;
}

/** Runs `fn` and checks that no job and no task came of it. */
async function changesNothing(fn: () => Promise<void>): Promise<void> {
  const jobs = await jobCount();
  const tasks = await listAll('alice');
  await fn();
  assert.equal(await jobCount(), jobs);
  assert.deepEqual(await listAll('alice'), tasks);
}

function post(payload: unknown, extraHeaders: Record<string, string> = {}) {
  return stack.app.inject({
    method: 'POST',
    url: '/v1/tasks',
    headers: { ...stack.headers('alice'), ...extraHeaders },
    payload: payload as string,
  });
}

describe('POST /v1/tasks body', () => {
  test('a body over BODY_LIMIT_BYTES → 413 payload_too_large', async () => {
    await changesNothing(async () => {
      const limit = stack.deps.config.BODY_LIMIT_BYTES;
      const body = JSON.stringify({ runtime: 'javascript', code: 'x'.repeat(limit) });
      assertProblem(
        await post(body, { 'content-type': 'application/json' }),
        413,
        'payload_too_large',
      );
      // One byte over is enough (trailing whitespace keeps it valid JSON).
      const small = JSON.stringify({ runtime: 'javascript', code: '' });
      const padded = small + ' '.repeat(limit + 1 - small.length);
      assert.equal(Buffer.byteLength(padded), limit + 1);
      assertProblem(
        await post(padded, { 'content-type': 'application/json' }),
        413,
        'payload_too_large',
      );
    });
  });

  test('malformed or empty JSON → 400 invalid_request', async () => {
    await changesNothing(async () => {
      for (const raw of [
        '{"runtime":',
        '{runtime: "javascript"}',
        "{'a':1}",
        '[1,2',
        '{"runtime":"javascript","code":"1"}x',
        '',
      ]) {
        const res = await post(raw, { 'content-type': 'application/json' });
        const body = assertProblem(res, 400, 'invalid_request');
        assert.equal('errors' in body, false);
      }
      // No body and no content type at all: the body is missing, pointed at as the whole body.
      const none = await stack.app.inject({
        method: 'POST',
        url: '/v1/tasks',
        headers: stack.headers('alice'),
      });
      assert.deepEqual(pointers(assertProblem(none, 400, 'invalid_request')), ['/body']);
    });
  });

  test('a body nested deeper than 64 → 400 invalid_request on every route with a body, also where no schema reads it (it was a 500: stack overflow in the Idempotency-Key fingerprint)', async () => {
    const deep = (n: number) => [`${'['.repeat(n)}${']'.repeat(n)}`, `${'{"a":'.repeat(n)}1${'}'.repeat(n)}`];
    await changesNothing(async () => {
      for (const raw of deep(20_000)) assertProblem(await post(raw, { 'content-type': 'application/json' }), 400, 'invalid_request');
    });
    for (const raw of [...deep(65), ...deep(20_000)]) {
      const res = await stack.app.inject({
        method: 'DELETE',
        url: `/v1/tasks/${randomUUID()}`,
        headers: { ...stack.headers('alice'), 'content-type': 'application/json' },
        payload: raw,
      });
      assertProblem(res, 400, 'invalid_request');
    }
    // 64 deep is still a body (refused by the route's own rules, not for its depth).
    const ok = await stack.app.inject({
      method: 'DELETE',
      url: `/v1/tasks/${randomUUID()}`,
      headers: { ...stack.headers('alice'), 'content-type': 'application/json' },
      payload: deep(64)[0],
    });
    assertProblem(ok, 404, 'not_found');
  });

  test('wrong types, out-of-range numbers and unknown runtimes → 400 with JSON pointers', async () => {
    const cap = stack.deps.config;
    const cases: [Record<string, unknown>, string[]][] = [
      [{ runtime: 'javascript', code: 5 }, ['/body/code']],
      [{ runtime: 'javascript', code: '1', timeoutMs: 'x' }, ['/body/timeoutMs']],
      [{ runtime: 'javascript', code: '1', wait: -1 }, ['/body/wait']],
      [{ runtime: 'javascript', code: '1', wait: '5' }, ['/body/wait']],
      [{ runtime: 'ruby', code: '1' }, ['/body/runtime']],
      [{ runtime: 'JavaScript', code: '1' }, ['/body/runtime']],
      [
        { runtime: 'javascript', code: '1', timeoutMs: cap.TASK_MAX_TIMEOUT_MS + 1 },
        ['/body/timeoutMs'],
      ],
      [{ runtime: 'javascript', code: '1', timeoutMs: 0 }, ['/body/timeoutMs']],
      [{ runtime: 'javascript', code: '1', timeoutMs: 1.5 }, ['/body/timeoutMs']],
      [
        { runtime: 'javascript', code: '1', memoryMb: cap.TASK_MAX_MEMORY_MB + 1 },
        ['/body/memoryMb'],
      ],
      [{ runtime: 'javascript', code: '1', memoryMb: 7 }, ['/body/memoryMb']],
      [{ runtime: 'javascript', code: '1', wait: cap.MAX_WAIT_SECONDS + 1 }, ['/body/wait']],
      [{ runtime: 'javascript', code: '1', metadata: 'x' }, ['/body/metadata']],
      [{ runtime: 'javascript', code: '1', metadata: { userId: '' } }, ['/body/metadata/userId']],
      [
        { runtime: 'javascript', code: '1', metadata: { promptSnippet: 'p'.repeat(2001) } },
        ['/body/metadata/promptSnippet'],
      ],
      [{}, ['/body/runtime', '/body/code']],
      [
        { runtime: 'ruby', code: 5, timeoutMs: 'x', wait: -1 },
        ['/body/runtime', '/body/code', '/body/timeoutMs', '/body/wait'],
      ],
    ];
    await changesNothing(async () => {
      for (const [payload, expected] of cases) {
        const body = assertProblem(await post(payload), 400, 'invalid_request');
        assert.deepEqual(pointers(body).toSorted(), expected.toSorted(), JSON.stringify(payload));
        assert.match(String(body['detail']), /^Invalid body: \/body/);
      }
      // A JSON array or scalar is not a task either.
      for (const raw of ['[]', '"code"', '42', 'null']) {
        const body = assertProblem(
          await post(raw, { 'content-type': 'application/json' }),
          400,
          'invalid_request',
        );
        assert.deepEqual(pointers(body), ['/body']);
      }
    });
  });

  test('unknown fields (mass assignment) → 400, one JSON pointer per field', async () => {
    await changesNothing(async () => {
      const body = assertProblem(
        await post({
          runtime: 'javascript',
          code: '1',
          tenantId: 'other',
          status: 'succeeded',
          approved: true,
        }),
        400,
        'invalid_request',
      );
      assert.deepEqual(pointers(body).toSorted(), [
        '/body/approved',
        '/body/status',
        '/body/tenantId',
      ]);
      const nested = assertProblem(
        await post({
          runtime: 'javascript',
          code: '1',
          metadata: { userId: 'u', 'a/b~c': 1 },
          limits: { timeoutMs: 1 },
        }),
        400,
        'invalid_request',
      );
      // RFC 6901 escaping: "/" → "~1", "~" → "~0".
      assert.deepEqual(pointers(nested).toSorted(), ['/body/limits', '/body/metadata/a~1b~0c']);
      const proto = assertProblem(
        await post('{"runtime":"javascript","code":"1","__proto__":{"approved":true}}', {
          'content-type': 'application/json',
        }),
        400,
        'invalid_request',
      );
      assert.equal(proto['code'], 'invalid_request');
    });
  });

  test('code over TASK_MAX_CODE_BYTES (counted in bytes, not characters) → 400; exactly the limit is accepted', async () => {
    const max = stack.deps.config.TASK_MAX_CODE_BYTES;
    await changesNothing(async () => {
      const over = assertProblem(
        await post({ runtime: 'javascript', code: 'x'.repeat(max + 1) }),
        400,
        'invalid_request',
      );
      assert.deepEqual(pointers(over), ['/body/code']);
      // "é" is 2 bytes: half as many characters plus one is one character under the limit in
      // characters but over it in bytes.
      const multiByte = assertProblem(
        await post({ runtime: 'javascript', code: 'é'.repeat(max / 2 + 1) }),
        400,
        'invalid_request',
      );
      assert.deepEqual(pointers(multiByte), ['/body/code']);
    });
    const jobs = await jobCount();
    const ok = await post({ runtime: 'javascript', code: 'x'.repeat(max) });
    assert.equal(ok.statusCode, 201);
    assert.equal(await jobCount(), jobs + 1);
  });

  test('stdin and files together within TASK_MAX_INPUT_BYTES, in decoded bytes: exactly the limit accepted, one byte over refused', async () => {
    const max = stack.deps.config.TASK_MAX_INPUT_BYTES;
    const b64 = (bytes: number, fill = 0x61) => Buffer.alloc(bytes, fill).toString('base64');
    const py = { runtime: 'python', code: 'print(1)' };
    const half = Math.floor(max / 2);
    const accepted: Record<string, unknown>[] = [
      // A file of exactly the limit (its base64 ends in padding, which is not counted).
      { ...py, files: [{ path: 'a.bin', contentBase64: b64(max) }] },
      { ...py, stdin: 'x'.repeat(max) },
      // "é" is 2 bytes: the limit in bytes is half as many characters.
      { ...py, stdin: 'é'.repeat(max / 2) },
      { ...py, stdinBase64: b64(max, 0xff) },
      { ...py, stdin: 'x'.repeat(half), files: [{ path: 'a.bin', contentBase64: b64(max - half) }] },
      { ...py, stdinBase64: b64(half), files: [{ path: 'a', contentBase64: b64(1) }, { path: 'b', contentBase64: b64(max - half - 1) }] },
    ];
    assert.ok(max % 3 !== 0, 'the file of exactly the limit has base64 padding');
    for (const body of accepted) {
      const jobs = await allJobCount();
      const res = await post(body);
      assert.equal(res.statusCode, 201, `${Object.keys(body).join(',')}: ${res.body.slice(0, 300)}`);
      assert.equal(await allJobCount(), jobs + 1);
    }
    const refused: [Record<string, unknown>, string][] = [
      [{ ...py, files: [{ path: 'a.bin', contentBase64: b64(max + 1) }] }, '/body/files'],
      [{ ...py, stdin: 'x'.repeat(max + 1) }, '/body/stdin'],
      // Under the limit in characters, over it in bytes.
      [{ ...py, stdin: `${'é'.repeat(max / 2)}x` }, '/body/stdin'],
      [{ ...py, stdinBase64: b64(max + 1) }, '/body/stdinBase64'],
      // Each within the limit, together one byte over it.
      [{ ...py, stdin: 'x'.repeat(half + 1), files: [{ path: 'a.bin', contentBase64: b64(max - half) }] }, '/body/files'],
      [{ ...py, stdinBase64: b64(half), files: [{ path: 'a', contentBase64: b64(1) }, { path: 'b', contentBase64: b64(max - half) }] }, '/body/files'],
      [{ ...py, stdin: 'x', stdinBase64: b64(1) }, '/body/stdinBase64'],
      [{ ...py, stdinBase64: 'not base64!' }, '/body/stdinBase64'],
      [{ ...py, stdinBase64: 'YQ' }, '/body/stdinBase64'],
      [{ runtime: 'javascript', code: '1', stdinBase64: b64(1) }, '/body/stdinBase64'],
    ];
    await changesNothing(async () => {
      const jobs = await allJobCount();
      for (const [body, pointer] of refused) {
        const problem = assertProblem(await post(body), 400, 'invalid_request');
        assert.deepEqual(pointers(problem), [pointer], JSON.stringify(problem).slice(0, 300));
      }
      assert.equal(await allJobCount(), jobs);
    });
  });

  test('input file paths the sandbox would refuse are 400 at submission: names over 255 bytes, duplicates, a file as a directory, the program file', async () => {
    const file = (p: string) => ({ path: p, contentBase64: 'YQ==' });
    const py = { runtime: 'python', code: 'print(1)' };
    const jobs = await allJobCount();
    for (const path of ['x'.repeat(255), `d/${'é'.repeat(127)}x`, `${'y'.repeat(200)}/${'z'.repeat(255)}`]) {
      const res = await post({ ...py, files: [file(path)] });
      assert.equal(res.statusCode, 201, `${path.length}: ${res.body}`);
    }
    // main.py is the program of python, not of node.
    assert.equal((await post({ runtime: 'node', code: '1', files: [file('main.py')] })).statusCode, 201);
    assert.equal(await allJobCount(), jobs + 4);
    await changesNothing(async () => {
      for (const [files, pointer] of [
        [[file('x'.repeat(256))], '/body/files/0/path'],
        // 128 two-byte characters: 256 bytes, a name too long for the sandbox.
        [[file(`d/${'é'.repeat(128)}`)], '/body/files/0/path'],
        [[file(`${'y'.repeat(256)}/z`)], '/body/files/0/path'],
        [[file('a'), file('b'), file('a')], '/body/files/2/path'],
        [[file('a/b/c'), file('a/b')], '/body/files/1/path'],
        [[file('a'), file('a/b')], '/body/files/0/path'],
        [[file('main.py')], '/body/files/0/path'],
      ] as const) {
        const problem = assertProblem(await post({ ...py, files }), 400, 'invalid_request');
        assert.deepEqual(pointers(problem), [pointer], JSON.stringify(problem));
      }
      const node = assertProblem(await post({ runtime: 'node', code: '1', files: [file('main.js')] }), 400, 'invalid_request');
      assert.deepEqual(pointers(node), ['/body/files/0/path']);
    });
  });

  test('an unsupported content type → 415 unsupported_media_type', async () => {
    await changesNothing(async () => {
      for (const [type, raw] of [
        // A JSON text sent as text/plain is still not JSON (it used to be a 400 "expected object").
        ['text/plain', '{"runtime":"javascript","code":"1"}'],
        ['text/plain; charset=utf-8', 'runtime=javascript'],
        ['application/xml', '<task runtime="javascript">1</task>'],
        ['application/x-www-form-urlencoded', 'runtime=javascript&code=1'],
        [
          'multipart/form-data; boundary=x',
          '--x\r\nContent-Disposition: form-data; name="code"\r\n\r\n1\r\n--x--',
        ],
      ] as const) {
        assertProblem(await post(raw, { 'content-type': type }), 415, 'unsupported_media_type');
      }
    });
  });

  test('text/plain on every other route that takes a JSON body → 415, before anything is read', async () => {
    await changesNothing(async () => {
      for (const [method, url] of [
        ['POST', '/v1/tokens'],
        ['PUT', '/v1/admin/limits'],
        ['PUT', '/v1/admin/grants/g'],
        ['POST', '/v1/admin/agents'],
        ['PUT', '/v1/admin/policies/active'],
      ] as const) {
        const res = await stack.app.inject({
          method,
          url,
          headers: { ...stack.headers('alice'), 'content-type': 'text/plain' },
          payload: '{}',
        });
        assertProblem(res, 415, 'unsupported_media_type');
      }
    });
  });
});

describe('routes and query strings', () => {
  test('an unknown route or method → 404 problem', async () => {
    await changesNothing(async () => {
      for (const [method, url] of [
        ['GET', '/v1/nope'],
        ['GET', '/v0/tasks'],
        ['GET', '/internal/debug'],
        ['PUT', '/v1/tasks'],
        ['PATCH', `/v1/tasks/${randomUUID()}`],
        ['POST', `/v1/tasks/${randomUUID()}`],
      ] as const) {
        const res = await stack.app.inject({ method, url, headers: stack.headers('alice') });
        const body = assertProblem(res, 404, 'not_found');
        assert.equal(body['detail'], `No route for ${method} ${url}`);
      }
    });
  });

  test('a task id that is too long → 400 problem, from the router as from the schema', async () => {
    // 101+ characters: refused by the router's parameter length limit before any route runs.
    for (const id of ['a'.repeat(101), 'a'.repeat(5000)]) {
      for (const method of ['GET', 'DELETE'] as const) {
        const res = await stack.app.inject({
          method,
          url: `/v1/tasks/${id}`,
          headers: stack.headers('alice', null),
        });
        const body = assertProblem(res, 400, 'invalid_request');
        assert.equal(body['detail'], 'A path parameter is too long');
        assert.doesNotMatch(res.body, /aaaa/, 'the URL is not echoed');
      }
    }
    // A URL that does not decode.
    const badUrl = await stack.app.inject({
      method: 'GET',
      url: '/v1/tasks/%E0%A4%A',
      headers: stack.headers('alice', null),
    });
    assertProblem(badUrl, 400, 'invalid_request');
  });

  test('list: limit out of range, unknown status, unknown parameter or bad cursor → 400', async () => {
    const bad: [string, string[] | null][] = [
      ['limit=100000', ['/querystring/limit']],
      ['limit=0', ['/querystring/limit']],
      ['limit=abc', ['/querystring/limit']],
      ['status=done', ['/querystring/status']],
      ['tenantId=other', ['/querystring/tenantId']],
      ['cursor=abc', null],
      [`cursor=${Buffer.from('notanumber:id').toString('base64url')}`, null],
      [`cursor=${Buffer.from('12345').toString('base64url')}`, null],
      [`cursor=${'a'.repeat(201)}`, ['/querystring/cursor']],
    ];
    for (const [query, expected] of bad) {
      const res = await stack.app.inject({
        method: 'GET',
        url: `/v1/tasks?${query}`,
        headers: stack.headers('alice', null),
      });
      const body = assertProblem(res, 400, 'invalid_request');
      if (expected) assert.deepEqual(pointers(body), expected, query);
      else
        assert.equal(
          body['detail'],
          'cursor is not valid: pass the nextCursor of a previous page',
          query,
        );
    }
  });

  test('list: limit/cursor paging returns each of 5 tasks exactly once, newest first; status filter works', async () => {
    const agent: AgentName = 'bob';
    const created: string[] = [];
    for (let i = 0; i < 5; i++) {
      // Distinct creation milliseconds, so "newest first" is one well-defined order.
      const last = Date.now();
      while (Date.now() === last) await new Promise((r) => setImmediate(r));
      const res: LightMyRequestResponse = await stack.app.inject({
        method: 'POST',
        url: '/v1/tasks',
        headers: stack.headers(agent),
        payload: { runtime: 'javascript', code: String(i) },
      });
      assert.equal(res.statusCode, 201);
      created.push(res.json().id);
    }
    const newestFirst = created.toReversed();

    const page = async (query: string) => {
      const res: LightMyRequestResponse = await stack.app.inject({
        method: 'GET',
        url: `/v1/tasks?${query}`,
        headers: stack.headers(agent, null),
      });
      assert.equal(res.statusCode, 200, res.body);
      return res.json() as { items: { id: string; status: string }[]; nextCursor: string | null };
    };
    const walk = async (query: string, limit: number) => {
      const ids: string[] = [];
      const sizes: number[] = [];
      let cursor: string | null = null;
      for (;;) {
        const p = await page(`${query}&limit=${limit}${cursor ? `&cursor=${cursor}` : ''}`);
        ids.push(...p.items.map((t) => t.id));
        sizes.push(p.items.length);
        cursor = p.nextCursor;
        if (!cursor) return { ids, sizes };
        assert.ok(sizes.length <= 10, 'paging terminates');
      }
    };

    assert.deepEqual(
      (await page('limit=100')).items.map((t) => t.id),
      newestFirst,
    );
    assert.equal((await page('limit=100')).nextCursor, null);
    const byTwo = await walk('', 2);
    assert.deepEqual(byTwo.ids, newestFirst);
    assert.deepEqual(byTwo.sizes, [2, 2, 1]);
    const byOne = await walk('', 1);
    assert.deepEqual(byOne.ids, newestFirst);
    const byFive = await walk('', 5);
    assert.deepEqual(byFive.ids, newestFirst);

    // Cancel the 2nd and 4th newest; filter both ways, also across pages.
    for (const id of [newestFirst[1], newestFirst[3]]) {
      const del: LightMyRequestResponse = await stack.app.inject({
        method: 'DELETE',
        url: `/v1/tasks/${id}`,
        headers: stack.headers(agent, null),
      });
      assert.equal(del.json().status, 'cancelled');
    }
    const cancelled = await walk('status=cancelled', 1);
    assert.deepEqual(cancelled.ids, [newestFirst[1], newestFirst[3]]);
    const queued = await walk('status=queued', 2);
    assert.deepEqual(queued.ids, [newestFirst[0], newestFirst[2], newestFirst[4]]);
    assert.deepEqual((await page('status=succeeded&limit=100')).items, []);
  });

  test('list: tasks created in the same millisecond are still each listed exactly once across pages', async () => {
    const agent: AgentName = 'eve';
    const created = await Promise.all(
      Array.from({ length: 7 }, async (_, i) => {
        const res = await stack.app.inject({
          method: 'POST',
          url: '/v1/tasks',
          headers: stack.headers(agent),
          payload: { runtime: 'javascript', code: String(i) },
        });
        assert.equal(res.statusCode, 201);
        return res.json() as { id: string; createdAt: string };
      }),
    );
    // Newest first; ties (same createdAt millisecond) in descending id order.
    const expected = created
      .toSorted(
        (a, b) => Date.parse(b.createdAt) - Date.parse(a.createdAt) || (a.id < b.id ? 1 : -1),
      )
      .map((t) => t.id);
    for (const limit of [1, 2, 3]) {
      const ids: string[] = [];
      let cursor: string | null = null;
      do {
        const url: string = `/v1/tasks?limit=${limit}${cursor ? `&cursor=${cursor}` : ''}`;
        const res = await stack.app.inject({
          method: 'GET',
          url,
          headers: stack.headers(agent, null),
        });
        const p = res.json() as { items: { id: string }[]; nextCursor: string | null };
        ids.push(...p.items.map((t) => t.id));
        cursor = p.nextCursor;
      } while (cursor && ids.length <= 20);
      assert.deepEqual(ids, expected, `limit=${limit}`);
    }
  });
});
