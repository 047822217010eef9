/**
 * Console sessions as a /v1 credential, through the real app (`inject`, whose `remoteAddress`
 * sets the client IP) on real Redis, no runner, no browser (console-browser.test.ts drives
 * Chromium). Covered: failed sign-ins are the API's failed authentications (rate limited per IP,
 * `auth.failed` entries); the session never outlives its key or user, and follows role changes;
 * CSRF token and Sec-Fetch-Site on state-changing requests (refusals audited, nothing changed);
 * an Authorization header wins over the cookie; malformed cookies are nobody; Redis holds only
 * the id's hash; sign-out needs the token and ends the session.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { consoleSessionKey } from '../../harness/console/session-store.ts';
import { AUDIT_SHARDS, auditStreamKey } from '../../protocol/redis-keys.ts';
import { auditDrafts } from '../helpers/capabilities.ts';
import { bearer, createPrincipalWithKey } from '../helpers/identity.ts';
import { REDIS_URL, startStack, type Stack } from '../helpers/stack.ts';

const ADMIN_KEY = `admin-${randomUUID()}`;
let stack: Stack;
let redis: Redis;

before(async () => {
  redis = new Redis(REDIS_URL);
  stack = await startStack({
    runner: false,
    harnessEnv: { AIRLOCK_ADMIN_API_KEY: ADMIN_KEY, AIRLOCK_ADMIN_TENANT: 'acme', RATE_LIMIT_AUTH_FAILURES_PER_MIN: '3' },
  });
});
after(async () => {
  await stack.close();
  redis.disconnect();
});

const FORM = { 'content-type': 'application/x-www-form-urlencoded' };
const tokenIn = (body: string) => /name="csrf" value="([^"]+)"/.exec(body)?.[1] ?? '';

/** The sign-in form's cookie and token, then the POST; returns the raw answer. */
async function signIn(key: string, remoteAddress = '127.0.0.1') {
  const form = await stack.app.inject({ method: 'GET', url: '/console/sign-in', remoteAddress });
  const cookie = String(form.headers['set-cookie']).split(';')[0] as string;
  return stack.app.inject({
    method: 'POST', url: '/console/sign-in', remoteAddress, headers: { ...FORM, cookie },
    payload: new URLSearchParams({ key, csrf: tokenIn(form.body) }).toString(),
  });
}

async function session(key: string): Promise<{ cookie: string; csrf: string; id: string }> {
  const res = await signIn(key);
  assert.equal(res.statusCode, 303, res.body);
  const set = ([] as string[]).concat(res.headers['set-cookie'] as string[]).find((c) => c.startsWith('airlock_session='));
  const cookie = set?.split(';')[0] as string;
  const page = await stack.app.inject({ method: 'GET', url: '/console/tasks', headers: { cookie } });
  assert.equal(page.statusCode, 200);
  return { cookie, csrf: tokenIn(page.body), id: cookie.slice('airlock_session='.length) };
}

const submit = async (key: string) => {
  const res = await stack.app.inject({
    method: 'POST', url: '/v1/tasks', headers: { ...bearer(key), 'idempotency-key': `"${randomUUID()}"` },
    payload: { runtime: 'javascript', code: '1' },
  });
  assert.equal(res.statusCode, 201, res.body);
  return res.json().id as string;
};
const statusOf = async (key: string, id: string) =>
  (await stack.app.inject({ method: 'GET', url: `/v1/tasks/${id}`, headers: bearer(key) })).json().status as string;

describe('console sessions', () => {
  test('failed sign-ins are failed authentications: audited, and an IP is throttled after 3', async () => {
    // An address of this run only (the audit streams outlive a run on a shared Redis).
    const ip = `10.${Math.floor(Math.random() * 250)}.${Math.floor(Math.random() * 250)}.${Math.floor(Math.random() * 250)}`;
    for (let i = 0; i < 3; i++) {
      const res = await signIn(`ak_${randomUUID().replaceAll('-', '')}`, ip);
      assert.equal(res.statusCode, 401);
      assert.equal(res.headers['set-cookie']?.toString().includes('airlock_session=') ?? false, false);
    }
    const member = await createPrincipalWithKey(stack, ADMIN_KEY, 'user', { roles: ['member'] });
    const blocked = await signIn(member.key, ip);
    assert.equal(blocked.statusCode, 429, 'even a valid key, from that address');
    assert.ok(blocked.headers['retry-after']);
    const failed = (await auditDrafts(redis)).filter((d) => d.action === 'auth.failed' && (d.details as { ip?: string }).ip === ip);
    assert.equal(failed.length, 3);
    assert.equal((await signIn(member.key, '198.51.100.70')).statusCode, 303, 'other addresses are not affected');
  });

  test('the session never outlives its key or its user (another key of the user revoked: no effect)', async () => {
    const admin = await createPrincipalWithKey(stack, ADMIN_KEY, 'user', { roles: ['admin'] });
    const s = await session(admin.key);
    const read = async () => (await stack.app.inject({ method: 'GET', url: '/v1/admin/users', headers: { cookie: s.cookie } })).statusCode;
    assert.equal(await read(), 200);
    // Another key of the same user revoked: this session is untouched.
    const other = await stack.app.inject({ method: 'POST', url: `/v1/admin/users/${admin.id}/keys`, headers: { ...bearer(ADMIN_KEY), 'idempotency-key': `"${randomUUID()}"` }, payload: {} });
    assert.equal(other.statusCode, 201, other.body);
    await stack.app.inject({ method: 'DELETE', url: `/v1/admin/keys/${other.json().key.id}`, headers: bearer(ADMIN_KEY) });
    assert.equal(await read(), 200);
    // Its own key revoked: the API and the pages refuse it.
    const revoked = await stack.app.inject({ method: 'DELETE', url: `/v1/admin/keys/${admin.keyId}`, headers: bearer(ADMIN_KEY) });
    assert.equal(revoked.statusCode, 200, revoked.body);
    assert.equal((await stack.app.inject({ method: 'GET', url: '/v1/admin/users', remoteAddress: '203.0.113.92', headers: { cookie: s.cookie } })).statusCode, 401);
    const page = await stack.app.inject({ method: 'GET', url: '/console/admin', headers: { cookie: s.cookie } });
    assert.equal(page.statusCode, 303);
    assert.equal(page.headers['location'], '/console/sign-in');

    const user = await createPrincipalWithKey(stack, ADMIN_KEY, 'user', { roles: ['member'] });
    const t = await session(user.key);
    const tasks = async () => (await stack.app.inject({ method: 'GET', url: '/v1/tasks', headers: { cookie: t.cookie } })).statusCode;
    assert.equal(await tasks(), 200);
    assert.equal((await stack.app.inject({ method: 'POST', url: `/v1/admin/users/${user.id}/disable`, headers: bearer(ADMIN_KEY) })).statusCode, 200);
    assert.equal((await stack.app.inject({ method: 'GET', url: '/v1/tasks', remoteAddress: '203.0.113.91', headers: { cookie: t.cookie } })).statusCode, 401, 'a disabled user’s session is dead');
  });

  test('CSRF: a cookie-authenticated write needs the session’s token and no cross-site fetch; refusals are audited', async () => {
    const member = await createPrincipalWithKey(stack, ADMIN_KEY, 'user', { roles: ['member'] });
    const s = await session(member.key);
    const id = await submit(member.key);
    const cancel = (headers: Record<string, string>) =>
      stack.app.inject({ method: 'DELETE', url: `/v1/tasks/${id}`, headers: { cookie: s.cookie, ...headers } });
    const attempts: Record<string, string>[] = [{}, { 'x-csrf-token': 'x'.repeat(43) }, { 'x-csrf-token': s.csrf.slice(1) }, { 'x-csrf-token': s.csrf, 'sec-fetch-site': 'cross-site' }, { 'x-csrf-token': s.csrf, 'sec-fetch-site': 'same-site' }];
    for (const headers of attempts) {
      const res = await cancel(headers);
      assert.equal(res.statusCode, 403, `${JSON.stringify(headers)}: ${res.body}`);
      assert.equal(res.json().code, 'forbidden');
    }
    assert.equal(await statusOf(member.key, id), 'queued', 'nothing changed');
    const refused = (await auditDrafts(redis)).filter((d) => d.action === 'console.csrf_refused' && d.agentId === member.id);
    assert.equal(refused.length, 5);
    assert.ok(!JSON.stringify(refused).includes(s.id) && !JSON.stringify(refused).includes(s.csrf), 'neither the session id nor the token in the log');
    // A safe read needs no token; the write with it goes through (and is the member's own cancel).
    assert.equal((await stack.app.inject({ method: 'GET', url: `/v1/tasks/${id}`, headers: { cookie: s.cookie } })).statusCode, 200);
    const ok = await cancel({ 'x-csrf-token': s.csrf, 'sec-fetch-site': 'same-origin' });
    assert.equal(ok.statusCode, 200, ok.body);
    assert.equal(await statusOf(member.key, id), 'cancelled');
  });

  test('the admin forms: without the session’s token, or in a member’s session, nothing is stored or deleted (and the value is not echoed)', async () => {
    const admin = await createPrincipalWithKey(stack, ADMIN_KEY, 'user', { roles: ['admin'] });
    const member = await createPrincipalWithKey(stack, ADMIN_KEY, 'user', { roles: ['member'] });
    const a = await session(admin.key);
    const m = await session(member.key);
    const secret = `v-${randomUUID()}`;
    const post = (s: { cookie: string }, url: string, fields: Record<string, string>) =>
      stack.app.inject({ method: 'POST', url, headers: { ...FORM, cookie: s.cookie }, payload: new URLSearchParams(fields).toString() });
    const definition = JSON.stringify({ description: 'x', input: { type: 'object', properties: {} }, risk: 'read', implementation: { type: 'http', method: 'GET', url: 'https://example.invalid/x' } });
    const forms: [string, string, Record<string, string>][] = [
      ['/console/admin/credentials', '/v1/admin/credentials/form-cred', { verb: 'put', name: 'form-cred', type: 'bearer', value: secret }],
      ['/console/admin/capabilities', '/v1/admin/capabilities/form.cap', { verb: 'put', name: 'form.cap', definition }],
      ['/console/admin/limits', '/v1/admin/limits', { verb: 'put', definition: JSON.stringify({ agents: { [member.id]: { readsPerMin: 1 } } }) }],
    ];
    const state = async (url: string) => {
      const res = await stack.app.inject({ method: 'GET', url, headers: bearer(ADMIN_KEY) });
      return `${res.statusCode} ${url.endsWith('/limits') ? JSON.stringify(res.json().overrides) : ''}`;
    };
    const before = await Promise.all(forms.map(([, url]) => state(url)));
    for (const [form, , fields] of forms) {
      for (const [s, csrf] of [[a, undefined], [a, 'x'.repeat(43)], [m, m.csrf]] as const) {
        const res = await post(s, form, { ...fields, ...(csrf ? { csrf } : {}) });
        assert.equal(res.statusCode, 403, `${form}: ${res.body.slice(0, 300)}`);
        assert.ok(!res.body.includes(secret), `${form}: the value is not echoed`);
      }
    }
    assert.deepEqual(await Promise.all(forms.map(([, url]) => state(url))), before, 'nothing changed');
    // Control: the admin's own session with its token stores them, and deletes only with it.
    for (const [form, , fields] of forms) assert.equal((await post(a, form, { ...fields, csrf: a.csrf })).statusCode, 303, form);
    assert.equal((await state('/v1/admin/credentials/form-cred')).trim(), '200');
    assert.equal((await post(a, '/console/admin/credentials', { verb: 'delete', name: 'form-cred' })).statusCode, 403);
    assert.equal((await post(m, '/console/admin/credentials', { verb: 'delete', name: 'form-cred', csrf: m.csrf })).statusCode, 403);
    assert.equal((await state('/v1/admin/credentials/form-cred')).trim(), '200');
    assert.equal((await post(a, '/console/admin/credentials', { verb: 'delete', name: 'form-cred', csrf: a.csrf })).statusCode, 303);
    assert.equal((await state('/v1/admin/credentials/form-cred')).trim(), '404');
    await post(a, '/console/admin/capabilities', { verb: 'delete', name: 'form.cap', csrf: a.csrf });
    await post(a, '/console/admin/limits', { verb: 'put', definition: '{}', csrf: a.csrf });
  });

  test('an Authorization header wins over the cookie; malformed cookies are nobody; Redis holds only the hash', async () => {
    const admin = await createPrincipalWithKey(stack, ADMIN_KEY, 'user', { roles: ['admin'] });
    const s = await session(admin.key);
    // 401s count against their address's failed-auth budget (3 here): one address per probe.
    let n = 0;
    const from = () => `203.0.113.${100 + n++}`;
    const res = await stack.app.inject({ method: 'GET', url: '/v1/admin/users', remoteAddress: from(), headers: { cookie: s.cookie, authorization: 'Bearer wrong-key-0123456789abcdef' } });
    assert.equal(res.statusCode, 401, 'a bad header is not rescued by a good cookie');
    for (const cookie of ['airlock_session=', 'airlock_session=x', `airlock_session=${s.id}x`, `airlock_session=${s.id.slice(0, -1)}!`, `other=${s.id}`]) {
      assert.equal((await stack.app.inject({ method: 'GET', url: '/v1/tasks', remoteAddress: from(), headers: { cookie } })).statusCode, 401, cookie);
    }
    assert.equal(await redis.exists(consoleSessionKey(s.id)), 1);
    const stored = await redis.get(consoleSessionKey(s.id));
    assert.ok(stored && !stored.includes(s.id) && !stored.includes(admin.key));
    assert.equal(await redis.exists(`airlock:console:session:${s.id}`), 0);
  });

  test('a new session id at every sign-in (the earlier one ended); sign-out needs the session’s token, then ends the session; an agent key cannot sign in', async () => {
    const member = await createPrincipalWithKey(stack, ADMIN_KEY, 'user', { roles: ['member'] });
    const s = await session(member.key);
    // Signing in again from this browser ends the session it had (a new id every time).
    const again = await stack.app.inject({ method: 'GET', url: '/console/sign-in', headers: { cookie: s.cookie } });
    const second = await stack.app.inject({
      method: 'POST', url: '/console/sign-in',
      headers: { ...FORM, cookie: `${s.cookie}; ${String(again.headers['set-cookie']).split(';')[0]}` },
      payload: new URLSearchParams({ key: member.key, csrf: tokenIn(again.body) }).toString(),
    });
    assert.equal(second.statusCode, 303, second.body);
    assert.equal(await redis.exists(consoleSessionKey(s.id)), 0, 'the earlier session is gone');
    assert.equal((await stack.app.inject({ method: 'GET', url: '/v1/tasks', remoteAddress: '203.0.113.93', headers: { cookie: s.cookie } })).statusCode, 401);
    const cookie = ([] as string[]).concat(second.headers['set-cookie'] as string[]).find((c) => c.startsWith('airlock_session='))?.split(';')[0] as string;
    const id = cookie.slice('airlock_session='.length);
    assert.notEqual(id, s.id);
    const csrf = tokenIn((await stack.app.inject({ method: 'GET', url: '/console/tasks', headers: { cookie } })).body);

    const out = (token: string) => stack.app.inject({ method: 'POST', url: '/console/sign-out', headers: { ...FORM, cookie }, payload: `csrf=${token}` });
    assert.equal((await out('nope')).statusCode, 403);
    assert.equal((await stack.app.inject({ method: 'GET', url: '/v1/tasks', headers: { cookie } })).statusCode, 200, 'still signed in');
    const done = await out(csrf);
    assert.equal(done.statusCode, 303);
    assert.match(String(done.headers['set-cookie']), /airlock_session=; Path=\/; Max-Age=0/);
    assert.equal(await redis.exists(consoleSessionKey(id)), 0);
    assert.equal((await stack.app.inject({ method: 'GET', url: '/v1/tasks', remoteAddress: '203.0.113.90', headers: { cookie } })).statusCode, 401);
    // The sign-in form's own token: without its cookie, or with another token, nothing happens.
    const forms: [string, string][] = [['', ''], ['', 'x'.repeat(43)], ['airlock_signin=' + 'y'.repeat(43), 'x'.repeat(43)], ['airlock_signin=short', 'short']];
    for (const [cookie, csrf] of forms) {
      const res = await stack.app.inject({ method: 'POST', url: '/console/sign-in', headers: { ...FORM, ...(cookie ? { cookie } : {}) }, payload: new URLSearchParams({ key: member.key, csrf }).toString() });
      assert.equal(res.statusCode, 403, `${cookie} ${csrf}: ${res.body}`);
      assert.equal(String(res.headers['set-cookie']).includes('airlock_session='), false);
    }
    const agent = await createPrincipalWithKey(stack, ADMIN_KEY, 'agent');
    assert.equal((await signIn(agent.key)).statusCode, 403);
    const denied = (await auditDrafts(redis)).filter((d) => d.action === 'console.signin' && d.outcome === 'denied' && d.agentId === agent.id);
    assert.equal(denied.length, 1);
  });

  test('fail closed: while the audit log cannot be written, nobody signs in (503, no cookie, no session)', async () => {
    const member = await createPrincipalWithKey(stack, ADMIN_KEY, 'user', { roles: ['member'] });
    const before = await redis.keys('airlock:console:session:*');
    // The transport streams broken for real (XADD then fails with WRONGTYPE), as audit-fail-closed.test.ts does.
    for (let s = 0; s < AUDIT_SHARDS; s++) {
      await redis.del(auditStreamKey(s));
      await redis.set(auditStreamKey(s), 'not a stream');
    }
    try {
      const res = await signIn(member.key);
      assert.equal(res.statusCode, 503, res.body);
      assert.equal(String(res.headers['set-cookie']).includes('airlock_session='), false);
      assert.deepEqual((await redis.keys('airlock:console:session:*')).toSorted(), before.toSorted());
    } finally {
      for (let s = 0; s < AUDIT_SHARDS; s++) if ((await redis.type(auditStreamKey(s))) !== 'stream') await redis.del(auditStreamKey(s));
    }
    assert.equal((await signIn(member.key)).statusCode, 303, 'and once it can, they do');
  });
});
