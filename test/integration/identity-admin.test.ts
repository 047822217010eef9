/**
 * Identity admin API through the real Fastify app (inject) on real Redis: tenants, agents,
 * users, API keys. Nothing is mocked; Redis is inspected directly to prove only hashes are
 * stored. No runner: nothing here runs a task.
 */
import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { identityKeys } from '../../harness/identity/identity-store.ts';
import {
  bearer,
  createPrincipalWithKey,
  createTenant,
  mintToken,
  type TenantFixture,
} from '../helpers/identity.ts';
import { startStack, type Stack } from '../helpers/stack.ts';

const BOOTSTRAP_KEY = `bootstrap-${randomUUID()}`;
let stack: Stack;
let a: TenantFixture;
let b: TenantFixture;

before(async () => {
  stack = await startStack({ runner: false, harnessEnv: { AIRLOCK_ADMIN_API_KEY: BOOTSTRAP_KEY } });
  a = await createTenant(stack, BOOTSTRAP_KEY);
  b = await createTenant(stack, BOOTSTRAP_KEY);
});
after(async () => {
  await stack.close();
});

const inject = (
  method: 'GET' | 'POST' | 'DELETE',
  url: string,
  key: string,
  payload?: unknown,
  extra = {},
) =>
  stack.app.inject({
    method,
    url,
    headers: { ...bearer(key), ...extra },
    ...(payload === undefined ? {} : { payload: payload as Record<string, unknown> }),
  });

/** All string values under a Redis key pattern (strings and hashes), for leak checks. */
async function redisValues(pattern: string): Promise<string[]> {
  const out: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await stack.deps.redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = next;
    for (const k of keys) {
      const type = await stack.deps.redis.type(k);
      if (type === 'string') out.push(k, (await stack.deps.redis.get(k)) ?? '');
      else if (type === 'hash') out.push(k, ...Object.values(await stack.deps.redis.hgetall(k)));
      else if (type === 'set') out.push(k, ...(await stack.deps.redis.smembers(k)));
      else out.push(k);
    }
  } while (cursor !== '0');
  return out;
}

describe('tenants and bootstrap', () => {
  test('the bootstrap admin creates a tenant whose admin key then works; a second create is 409', async () => {
    const res = await inject('GET', '/v1/admin/users', a.adminKey);
    assert.equal(res.statusCode, 200);
    assert.deepEqual(
      res.json().items.map((u: { id: string; roles: string[] }) => [u.id, u.roles]),
      [[a.adminId, ['admin']]],
    );
    const again = await inject('POST', '/v1/admin/tenants', BOOTSTRAP_KEY, {
      id: a.tenantId,
      name: 'x',
      admin: { name: 'y' },
    });
    assert.equal(again.statusCode, 409);
    assert.equal(again.json().code, 'already_exists');
  });

  test('a tenant admin cannot create tenants (403)', async () => {
    const res = await inject('POST', '/v1/admin/tenants', a.adminKey, {
      id: `t-${randomUUID().slice(0, 8)}`,
      name: 'x',
      admin: { name: 'y' },
    });
    assert.equal(res.statusCode, 403);
    assert.equal(res.json().code, 'forbidden');
  });

  test('unknown fields (mass assignment) are refused and change nothing', async () => {
    const before = (await inject('GET', '/v1/admin/agents?limit=100', a.adminKey)).json().items
      .length;
    for (const payload of [
      { name: 'x', tenantId: b.tenantId },
      { name: 'x', disabled: false },
      { name: 'x', roles: ['admin'] },
      { name: 'x', id: 'agt_00000000000000000000' },
    ]) {
      const res = await inject('POST', '/v1/admin/agents', a.adminKey, payload);
      assert.equal(res.statusCode, 400, JSON.stringify(payload));
      assert.equal(res.json().code, 'invalid_request');
    }
    const bad = await inject('POST', '/v1/admin/users', a.adminKey, { name: 'x', roles: ['root'] });
    assert.equal(bad.statusCode, 400);
    const badScope = await inject('POST', '/v1/admin/agents', a.adminKey, {
      name: 'x',
      scopes: ['tasks:delete'],
    });
    assert.equal(badScope.statusCode, 400);
    assert.equal(badScope.json().code, 'invalid_scope');
    assert.equal(
      (await inject('GET', '/v1/admin/agents?limit=100', a.adminKey)).json().items.length,
      before,
    );
  });
});

describe('agents, users and keys', () => {
  test('an admin creates, reads, lists (paged) and disables agents and users', async () => {
    const created = await inject('POST', '/v1/admin/agents', a.adminKey, {
      name: 'builder',
      scopes: ['tasks:read'],
    });
    assert.equal(created.statusCode, 201);
    const agent = created.json();
    assert.match(agent.id, /^agt_[0-9a-f]{20}$/);
    assert.deepEqual(agent.scopes, ['tasks:read']);
    assert.equal(agent.disabled, false);
    assert.equal(created.headers['location'], `/v1/admin/agents/${agent.id}`);
    assert.equal(
      (await inject('GET', `/v1/admin/agents/${agent.id}`, a.adminKey)).json().name,
      'builder',
    );

    const user = await inject('POST', '/v1/admin/users', a.adminKey, {
      name: 'Uma',
      roles: ['approver', 'member'],
    });
    assert.equal(user.statusCode, 201);
    assert.deepEqual(user.json().roles, ['approver', 'member']);

    // Paging: two more agents, then walk pages of 1.
    await inject('POST', '/v1/admin/agents', a.adminKey, { name: 'two' });
    await inject('POST', '/v1/admin/agents', a.adminKey, { name: 'three' });
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page = await inject(
        'GET',
        `/v1/admin/agents?limit=1${cursor ? `&cursor=${cursor}` : ''}`,
        a.adminKey,
      );
      assert.equal(page.statusCode, 200);
      assert.ok(page.json().items.length <= 1);
      seen.push(...page.json().items.map((x: { id: string }) => x.id));
      cursor = page.json().nextCursor;
    } while (cursor);
    assert.ok(seen.includes(agent.id));
    assert.equal(new Set(seen).size, seen.length);

    const disabled = await inject('POST', `/v1/admin/agents/${agent.id}/disable`, a.adminKey);
    assert.equal(disabled.statusCode, 200);
    assert.equal(disabled.json().agent.disabled, true);
    assert.equal(disabled.json().cancelledTasks, 0);
    const disabledUser = await inject(
      'POST',
      `/v1/admin/users/${user.json().id}/disable`,
      a.adminKey,
    );
    assert.equal(disabledUser.json().disabled, true);
    // A disabled agent gets no new keys.
    assert.equal(
      (await inject('POST', `/v1/admin/agents/${agent.id}/keys`, a.adminKey, {})).statusCode,
      403,
    );
  });

  test('a key is shown once; Redis holds only its SHA-256, also after an idempotent replay', async () => {
    const agent = (await inject('POST', '/v1/admin/agents', a.adminKey, { name: 'k' })).json();
    const idem = { 'idempotency-key': `"${randomUUID()}"` };
    const issued = await inject(
      'POST',
      `/v1/admin/agents/${agent.id}/keys`,
      a.adminKey,
      { name: 'ci' },
      idem,
    );
    assert.equal(issued.statusCode, 201);
    const { key, secret } = issued.json();
    assert.match(secret, new RegExp(`^ak_${key.id}_[A-Za-z0-9_-]{43}$`));
    assert.equal(key.prefix, `ak_${key.id}_`);

    const replay = await inject(
      'POST',
      `/v1/admin/agents/${agent.id}/keys`,
      a.adminKey,
      { name: 'ci' },
      idem,
    );
    assert.equal(replay.statusCode, 201);
    assert.equal(replay.headers['idempotent-replayed'], 'true');
    assert.deepEqual(replay.json(), { key, secret: null });

    const listed = await inject('GET', `/v1/admin/agents/${agent.id}/keys`, a.adminKey);
    assert.deepEqual(listed.json().items, [key]);
    assert.ok(!listed.body.includes(secret.slice(30)));
    assert.ok(!('sha256' in listed.json().items[0]));

    const stored = JSON.parse((await stack.deps.redis.get(identityKeys.apiKey(key.id))) ?? '{}');
    assert.equal(stored.sha256, createHash('sha256').update(secret).digest('hex'));
    const secretPart = secret.slice(`ak_${key.id}_`.length);
    const everything = [
      ...(await redisValues('airlock:identity:*')),
      ...(await redisValues('airlock:idem:*')),
    ];
    assert.ok(everything.length > 0);
    assert.ok(
      !everything.some((v) => v.includes(secretPart)),
      'the secret is stored somewhere in Redis',
    );

    // The key works, until it is revoked: then the very next request is 401.
    assert.equal((await inject('GET', '/v1/tasks', secret)).statusCode, 200);
    const revoked = await inject('DELETE', `/v1/admin/keys/${key.id}`, a.adminKey);
    assert.equal(revoked.statusCode, 200);
    assert.ok(revoked.json().revokedAt);
    const after = await inject('GET', '/v1/tasks', secret);
    assert.equal(after.statusCode, 401);
    assert.equal(after.json().code, 'unauthorized');
  });

  test('a key with a right secret prefix but a wrong secret, or a made-up key id, is 401', async () => {
    const { key } = await createPrincipalWithKey(stack, a.adminKey, 'agent');
    const wrong = key.slice(0, -4) + (key.endsWith('AAAA') ? 'BBBB' : 'AAAA');
    assert.equal((await inject('GET', '/v1/tasks', wrong)).statusCode, 401);
    assert.equal(
      (await inject('GET', '/v1/tasks', `ak_${'0'.repeat(24)}_${'A'.repeat(43)}`)).statusCode,
      401,
    );
  });

  test('disabling an agent or user refuses its keys on the next request', async () => {
    for (const kind of ['agent', 'user'] as const) {
      const { id, key } = await createPrincipalWithKey(stack, a.adminKey, kind);
      assert.equal((await inject('GET', '/v1/tasks', key)).statusCode, 200);
      assert.equal(
        (await inject('POST', `/v1/admin/${kind}s/${id}/disable`, a.adminKey)).statusCode,
        200,
      );
      assert.equal((await inject('GET', '/v1/tasks', key)).statusCode, 401, kind);
    }
  });

  test('a key can only narrow its owner: asking for more is 400 invalid_scope', async () => {
    const agent = (
      await inject('POST', '/v1/admin/agents', a.adminKey, {
        name: 'n',
        scopes: ['tasks:read', 'runtime:python'],
      })
    ).json();
    const wider = await inject('POST', `/v1/admin/agents/${agent.id}/keys`, a.adminKey, {
      scopes: ['tasks:create'],
    });
    assert.equal(wider.statusCode, 400);
    assert.equal(wider.json().code, 'invalid_scope');
    const otherRuntime = await inject('POST', `/v1/admin/agents/${agent.id}/keys`, a.adminKey, {
      scopes: ['tasks:read', 'runtime:bash'],
    });
    assert.equal(otherRuntime.statusCode, 400);
    const narrower = await inject('POST', `/v1/admin/agents/${agent.id}/keys`, a.adminKey, {
      scopes: ['tasks:read'],
    });
    assert.equal(narrower.statusCode, 201);
    // The owner's runtime restriction is inherited, never dropped.
    assert.deepEqual(narrower.json().key.scopes, ['tasks:read', 'runtime:python']);
  });

  test('idempotent writes: a replay returns the same agent; the same key with another body is 422', async () => {
    const idem = { 'idempotency-key': `"${randomUUID()}"` };
    const first = await inject('POST', '/v1/admin/agents', a.adminKey, { name: 'idem' }, idem);
    const second = await inject('POST', '/v1/admin/agents', a.adminKey, { name: 'idem' }, idem);
    assert.equal(first.statusCode, 201);
    assert.equal(second.json().id, first.json().id);
    assert.equal(second.headers['idempotent-replayed'], 'true');
    const other = await inject('POST', '/v1/admin/agents', a.adminKey, { name: 'other' }, idem);
    assert.equal(other.statusCode, 422);
  });
});

describe('authorization', () => {
  test('every non-admin principal gets 403 on every admin route', async () => {
    const agent = await createPrincipalWithKey(stack, a.adminKey, 'agent');
    const member = await createPrincipalWithKey(stack, a.adminKey, 'user', {
      roles: ['member', 'approver'],
    });
    // An admin user whose key is scoped without `admin` is not an admin for this key.
    const scopedAdmin = await createPrincipalWithKey(
      stack,
      a.adminKey,
      'user',
      { roles: ['admin'] },
      { scopes: ['tasks:read'] },
    );
    const token = await mintToken(stack, agent.key);
    const callers = {
      'store agent': agent.key,
      'member/approver user': member.key,
      'admin user, key without admin scope': scopedAdmin.key,
      'config agent (agents file)': stack
        .headers('alice', null)
        .authorization!.slice('Bearer '.length),
      'task token': token,
    };
    const someAgent = 'agt_' + '1'.repeat(20);
    const someUser = 'usr_' + '1'.repeat(20);
    const routes: [string, string, unknown?][] = [
      ['POST', '/v1/admin/tenants', { id: 'x', name: 'x', admin: { name: 'x' } }],
      ['POST', '/v1/admin/agents', { name: 'x' }],
      ['GET', '/v1/admin/agents'],
      ['GET', `/v1/admin/agents/${someAgent}`],
      ['POST', `/v1/admin/agents/${someAgent}/disable`],
      ['GET', `/v1/admin/agents/${someAgent}/keys`],
      ['POST', `/v1/admin/agents/${someAgent}/keys`, {}],
      ['POST', '/v1/admin/users', { name: 'x' }],
      ['GET', '/v1/admin/users'],
      ['GET', `/v1/admin/users/${someUser}`],
      ['POST', `/v1/admin/users/${someUser}/disable`],
      ['GET', `/v1/admin/users/${someUser}/keys`],
      ['POST', `/v1/admin/users/${someUser}/keys`, {}],
      ['DELETE', `/v1/admin/keys/${'0'.repeat(24)}`],
      // Invalid bodies too: the 403 comes before validation.
      ['POST', '/v1/admin/agents', { bogus: true }],
    ];
    // Every admin route of this module is covered (API9: the list is checked against the router).
    for (const [method, url] of routes) {
      assert.ok(
        stack.app.hasRoute({
          method: method as 'GET',
          url: url.replace(/agt_1+|usr_1+/, ':id').replace(/0{24}/, ':keyId'),
        }),
        url,
      );
    }
    for (const [who, key] of Object.entries(callers)) {
      for (const [method, url, payload] of routes) {
        const res = await inject(method as 'GET', url, key, payload);
        assert.equal(res.statusCode, 403, `${who}: ${method} ${url} → ${res.statusCode}`);
        assert.match(res.json().code, /^(forbidden|insufficient_scope)$/);
      }
    }
  });

  test("another tenant's agents, users, keys and tokens are 404 (no existence oracle)", async () => {
    const agentB = await createPrincipalWithKey(stack, b.adminKey, 'agent');
    const userB = await createPrincipalWithKey(stack, b.adminKey, 'user');
    const tokenB = await stack.app.inject({
      method: 'POST',
      url: '/v1/tokens',
      headers: bearer(agentB.key),
      payload: {},
    });
    const jtiB = tokenB.json().jti as string;
    const cases: [string, string, unknown?][] = [
      ['GET', `/v1/admin/agents/${agentB.id}`],
      ['GET', `/v1/admin/agents/${agentB.id}/keys`],
      ['POST', `/v1/admin/agents/${agentB.id}/keys`, {}],
      ['POST', `/v1/admin/agents/${agentB.id}/disable`],
      ['GET', `/v1/admin/users/${userB.id}`],
      ['GET', `/v1/admin/users/${userB.id}/keys`],
      ['POST', `/v1/admin/users/${userB.id}/keys`, {}],
      ['POST', `/v1/admin/users/${userB.id}/disable`],
      ['DELETE', `/v1/admin/keys/${agentB.keyId}`],
      ['DELETE', `/v1/tokens/${jtiB}`],
    ];
    for (const [method, url, payload] of cases) {
      const res = await inject(method as 'GET', url, a.adminKey, payload);
      assert.equal(res.statusCode, 404, `${method} ${url}`);
      assert.equal(res.json().code, 'not_found');
    }
    // Tenant A's lists do not show B's objects, and B's principals still work.
    const listed = (await inject('GET', '/v1/admin/agents?limit=100', a.adminKey)).body;
    assert.ok(!listed.includes(agentB.id));
    assert.equal((await inject('GET', '/v1/tasks', agentB.key)).statusCode, 200);
    assert.equal((await inject('GET', '/v1/tasks', tokenB.json().token)).statusCode, 200);
  });
});
