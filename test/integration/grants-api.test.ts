/**
 * Admin grants API and mount authorization through the real Fastify app (inject) on real Redis.
 * Grant directories are real temp folders. No runner is needed: refusals happen before queuing.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startStack, type Stack } from '../helpers/stack.ts';

const ADMIN_KEY = `admin-${randomUUID()}`;
let stack: Stack;
let root: string;

before(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'airlock-grants-'));
  await mkdir(path.join(root, 'data'));
  await mkdir(path.join(root, 'scratch'));
  await symlink('/etc', path.join(root, 'etc-link'));
  stack = await startStack({
    runner: false,
    harnessEnv: { AIRLOCK_ADMIN_API_KEY: ADMIN_KEY, AIRLOCK_ADMIN_TENANT: 'acme', GRANT_ROOTS: root },
  });
});
after(async () => {
  await stack.close();
});

const admin = () => ({ authorization: `Bearer ${ADMIN_KEY}` });
const putGrant = (name: string, body: Record<string, unknown>, headers = admin()) =>
  stack.app.inject({ method: 'PUT', url: `/v1/admin/grants/${name}`, headers, payload: body });

describe('admin grants API', () => {
  test('an admin creates, reads, lists, replaces and deletes a grant', async () => {
    const body = { hostPath: path.join(root, 'data'), mode: 'ro', maxBytes: 1_000_000, allowedAgents: ['alice'] };
    const created = await putGrant('data-ro', body);
    assert.equal(created.statusCode, 201);
    assert.equal(created.json().name, 'data-ro');
    assert.equal((await putGrant('data-ro', { ...body, maxBytes: 2_000_000 })).statusCode, 200);
    const got = await stack.app.inject({ method: 'GET', url: '/v1/admin/grants/data-ro', headers: admin() });
    assert.equal(got.json().maxBytes, 2_000_000);
    const list = await stack.app.inject({ method: 'GET', url: '/v1/admin/grants', headers: admin() });
    assert.ok(list.json().items.some((g: { name: string }) => g.name === 'data-ro'));
    const del = await stack.app.inject({ method: 'DELETE', url: '/v1/admin/grants/data-ro', headers: admin() });
    assert.equal(del.statusCode, 204);
    const gone = await stack.app.inject({ method: 'GET', url: '/v1/admin/grants/data-ro', headers: admin() });
    assert.equal(gone.statusCode, 404);
  });

  test('a non-admin gets 403 on every admin route, before body validation', async () => {
    const agent = stack.headers('alice', null);
    for (const [method, url] of [
      ['PUT', '/v1/admin/grants/x'],
      ['GET', '/v1/admin/grants'],
      ['GET', '/v1/admin/grants/x'],
      ['DELETE', '/v1/admin/grants/x'],
    ] as const) {
      const res = await stack.app.inject({ method, url, headers: agent, ...(method === 'PUT' ? { payload: {} } : {}) });
      assert.equal(res.statusCode, 403, `${method} ${url}`);
      assert.equal(res.json().code, 'forbidden');
    }
  });

  test('host paths outside GRANT_ROOTS, relative, with .., through a symlink, or missing are refused', async () => {
    const base = { mode: 'ro', maxBytes: 10, allowedAgents: ['*'] };
    for (const hostPath of ['/etc', 'relative/dir', `${root}/data/../scratch`, `${root}/etc-link`, `${root}/missing`, root]) {
      const res = await putGrant('bad', { ...base, hostPath });
      assert.equal(res.statusCode, 400, hostPath);
      assert.equal(res.json().code, 'invalid_request');
    }
  });
});

describe('mount authorization', () => {
  before(async () => {
    await putGrant('ro-alice', { hostPath: path.join(root, 'data'), mode: 'ro', maxBytes: 1e6, allowedAgents: ['alice'] });
    await putGrant('rw-all', { hostPath: path.join(root, 'scratch'), mode: 'rw', maxBytes: 1e6, allowedAgents: ['*'] });
  });
  const submit = (agent: 'alice' | 'bob' | 'eve', mounts: unknown[]) =>
    stack.app.inject({
      method: 'POST',
      url: '/v1/tasks',
      headers: stack.headers(agent),
      payload: { runtime: 'python', code: 'print(1)', mounts },
    });

  test('allowed mounts are accepted and queued with the resolved host path', async () => {
    const res = await submit('alice', [
      { grant: 'ro-alice', path: '/mnt/data', mode: 'ro' },
      { grant: 'rw-all', path: '/mnt/scratch', mode: 'rw' },
    ]);
    assert.equal(res.statusCode, 201);
    const job = await stack.deps.containerQueue.getJob(res.json().id);
    assert.deepEqual(job?.data.mounts, [
      { grant: 'ro-alice', hostPath: path.join(root, 'data'), path: '/mnt/data', mode: 'ro', maxBytes: 1e6 },
      { grant: 'rw-all', hostPath: path.join(root, 'scratch'), path: '/mnt/scratch', mode: 'rw', maxBytes: 1e6 },
    ]);
  });

  test('a grant you are not allowed, rw on an ro grant, an unknown grant, another tenant: 403, nothing queued', async () => {
    const before = await stack.deps.containerQueue.count();
    const cases: ['alice' | 'bob' | 'eve', unknown[]][] = [
      ['bob', [{ grant: 'ro-alice', path: '/mnt/data', mode: 'ro' }]],
      ['alice', [{ grant: 'ro-alice', path: '/mnt/data', mode: 'rw' }]],
      ['alice', [{ grant: 'nope', path: '/mnt/data', mode: 'ro' }]],
      ['eve', [{ grant: 'rw-all', path: '/mnt/data', mode: 'ro' }]],
    ];
    for (const [agent, mounts] of cases) {
      const res = await submit(agent, mounts);
      assert.equal(res.statusCode, 403, JSON.stringify([agent, mounts]));
      assert.equal(res.json().code, 'forbidden');
      assert.match(String(res.headers['content-type']), /^application\/problem\+json/);
    }
    assert.equal(await stack.deps.containerQueue.count(), before);
  });

  test('mount paths must be below /mnt without . or .. segments', async () => {
    for (const p of ['/etc', '/mnt', '/mnt/../etc', 'mnt/x', '/mnt/a/./b']) {
      const res = await submit('alice', [{ grant: 'rw-all', path: p, mode: 'ro' }]);
      assert.equal(res.statusCode, 400, p);
    }
  });
});
