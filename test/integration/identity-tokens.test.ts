/**
 * Task tokens (POST /v1/tokens) through the real Fastify app (inject) on real Redis. The harness
 * signs with a key the test gives it (AIRLOCK_TOKEN_SIGNING_KEY), so the test can also forge
 * tokens with the real key and prove that each claim check holds on its own: a forged token
 * with all claims right is accepted (the control), and each single defect is a 401.
 * No runner: task creation is checked up to queuing.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync, randomUUID, type KeyObject } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { SignJWT, decodeJwt, decodeProtectedHeader } from 'jose';
import {
  bearer,
  createPrincipalWithKey,
  createTenant,
  mintToken,
  requestToken,
  type TenantFixture,
} from '../helpers/identity.ts';
import { identityKeys } from '../../harness/identity/identity-store.ts';
import { startStack, type Stack } from '../helpers/stack.ts';

const BOOTSTRAP_KEY = `bootstrap-${randomUUID()}`;
const ISSUER = 'urn:airlock:test-issuer';
const AUDIENCE = 'urn:airlock:test-api';
const signing = generateKeyPairSync('ed25519');
let stack: Stack;
let a: TenantFixture;
let b: TenantFixture;

before(async () => {
  stack = await startStack({
    runner: false,
    harnessEnv: {
      AIRLOCK_ADMIN_API_KEY: BOOTSTRAP_KEY,
      AIRLOCK_TOKEN_SIGNING_KEY: signing.privateKey
        .export({ type: 'pkcs8', format: 'pem' })
        .toString(),
      AIRLOCK_TOKEN_ISSUER: ISSUER,
      AIRLOCK_TOKEN_AUDIENCE: AUDIENCE,
      TOKEN_DEFAULT_TTL_SECONDS: '900',
      TOKEN_MAX_TTL_SECONDS: '1800',
    },
  });
  a = await createTenant(stack, BOOTSTRAP_KEY);
  b = await createTenant(stack, BOOTSTRAP_KEY);
});
after(async () => {
  await stack.close();
});

const get = (url: string, key?: string) =>
  stack.app.inject({ method: 'GET', url, headers: key === undefined ? {} : bearer(key) });
const submit = (key: string, body: Record<string, unknown> = {}) =>
  stack.app.inject({
    method: 'POST',
    url: '/v1/tasks',
    headers: { ...bearer(key), 'idempotency-key': `"${randomUUID()}"` },
    payload: { runtime: 'javascript', code: '1', ...body },
  });

interface Forge {
  header?: Record<string, unknown>;
  claims?: Record<string, unknown>;
  key?: KeyObject;
}

describe('minting', () => {
  test('an agent key gets a task token with the pinned header and claims; it authenticates', async () => {
    const agent = await createPrincipalWithKey(stack, a.adminKey, 'agent');
    const res = await requestToken(stack, agent.key, { scope: 'tasks:read tasks:create' });
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.headers['cache-control'], 'no-store');
    const body = res.json();
    assert.equal(body.tokenType, 'task+jwt');
    assert.equal(body.scope, 'tasks:read tasks:create');
    assert.deepEqual(decodeProtectedHeader(body.token), { alg: 'EdDSA', typ: 'task+jwt' });
    const claims = decodeJwt(body.token);
    assert.equal(claims.iss, ISSUER);
    assert.equal(claims.aud, AUDIENCE);
    assert.equal(claims.sub, `agent:${agent.id}`);
    assert.equal(claims.jti, body.jti);
    assert.equal(claims['tid'], a.tenantId);
    assert.equal(claims['akid'], agent.keyId);
    assert.equal(claims.exp! - claims.iat!, 900);

    assert.equal((await get('/v1/tasks', body.token)).statusCode, 200);
    const created = await submit(body.token);
    assert.equal(created.statusCode, 201, created.body);
    // The task belongs to the agent, whichever credential it used.
    assert.equal((await get(`/v1/tasks/${created.json().id}`, agent.key)).statusCode, 200);
  });

  test('lifetime: asked for within the cap; beyond TOKEN_MAX_TTL_SECONDS is 400', async () => {
    const agent = await createPrincipalWithKey(stack, a.adminKey, 'agent');
    const short = await requestToken(stack, agent.key, { expiresInSeconds: 60 });
    const claims = decodeJwt(short.json().token);
    assert.equal(claims.exp! - claims.iat!, 60);
    const long = await requestToken(stack, agent.key, { expiresInSeconds: 1801 });
    assert.equal(long.statusCode, 400);
  });

  test('a token cannot mint tokens (no self-extension)', async () => {
    const agent = await createPrincipalWithKey(stack, a.adminKey, 'agent');
    const token = await mintToken(stack, agent.key);
    const res = await requestToken(stack, token);
    assert.equal(res.statusCode, 403);
  });

  test('config agents (agents file) can mint tokens too', async () => {
    const key = stack.headers('alice', null).authorization!.slice('Bearer '.length);
    const token = await mintToken(stack, key, { scope: 'tasks:read' });
    assert.equal(decodeJwt(token).sub, 'agent:alice');
    assert.equal((await get('/v1/tasks', token)).statusCode, 200);
  });
});

describe('scopes', () => {
  test('scope narrowing never widens: a scope the key lacks is 400 invalid_scope', async () => {
    const agent = await createPrincipalWithKey(stack, a.adminKey, 'agent', {
      scopes: ['tasks:read', 'tasks:create', 'runtime:javascript', 'grant:data'],
    });
    for (const scope of [
      'tasks:cancel',
      'tasks:read runtime:python',
      'tasks:read grant:other',
      'admin',
      'tasks:*',
      'tasks:read  tasks:create',
      'grant:data',
    ]) {
      const res = await requestToken(stack, agent.key, { scope });
      assert.equal(res.statusCode, 400, scope);
      assert.equal(res.json().code, 'invalid_scope', scope);
    }
    // Without `scope`, the token gets the agent's scopes, restriction included.
    const all = await requestToken(stack, agent.key);
    assert.equal(all.json().scope, 'tasks:read tasks:create runtime:javascript grant:data');
    // Asking only for an action keeps the runtime and grant restrictions.
    const read = await requestToken(stack, agent.key, { scope: 'tasks:create' });
    assert.equal(read.json().scope, 'tasks:create runtime:javascript grant:data');
  });

  test('routes enforce scopes: no tasks:create → 403 on POST /v1/tasks; wrong runtime or grant → 403', async () => {
    const agent = await createPrincipalWithKey(stack, a.adminKey, 'agent');
    const readOnly = await mintToken(stack, agent.key, { scope: 'tasks:read' });
    const before = await stack.deps.queue.count();
    const denied = await submit(readOnly);
    assert.equal(denied.statusCode, 403);
    assert.equal(denied.json().code, 'insufficient_scope');
    // Checked before the body: an invalid body still gets 403.
    assert.equal((await submit(readOnly, { bogus: 1 })).statusCode, 403);
    assert.equal((await get('/v1/tasks', readOnly)).statusCode, 200);

    const pythonOnly = await mintToken(stack, agent.key, { scope: 'tasks:create runtime:python' });
    const wrongRuntime = await submit(pythonOnly, { runtime: 'javascript' });
    assert.equal(wrongRuntime.statusCode, 403);
    assert.equal(wrongRuntime.json().code, 'insufficient_scope');
    assert.equal((await get('/v1/tasks', pythonOnly)).statusCode, 403);
    const grantOnly = await mintToken(stack, agent.key, { scope: 'tasks:create grant:data' });
    const wrongGrant = await submit(grantOnly, {
      runtime: 'python',
      mounts: [{ grant: 'other', path: '/mnt/x', mode: 'ro' }],
    });
    assert.equal(wrongGrant.statusCode, 403);
    assert.equal(await stack.deps.queue.count(), before);

    const createOnly = await mintToken(stack, agent.key, { scope: 'tasks:create' });
    const ok = await submit(createOnly);
    assert.equal(ok.statusCode, 201);
    const cancel = await stack.app.inject({
      method: 'DELETE',
      url: `/v1/tasks/${ok.json().id}`,
      headers: bearer(createOnly),
    });
    assert.equal(cancel.statusCode, 403);
    // Routes not listed for scoped credentials (admin, unknown future routes) are refused.
    assert.equal((await get('/v1/admin/grants', createOnly)).statusCode, 403);
  });
});

describe('verification (RFC 8725)', () => {
  let agent: { id: string; key: string; keyId: string };
  const now = () => Math.floor(Date.now() / 1000);
  const forge = async ({ header = {}, claims = {}, key = signing.privateKey }: Forge = {}) =>
    new SignJWT({
      iss: ISSUER,
      aud: AUDIENCE,
      sub: `agent:${agent.id}`,
      jti: randomUUID(),
      iat: now(),
      exp: now() + 300,
      tid: a.tenantId,
      scope: 'tasks:read',
      akid: agent.keyId,
      ...claims,
    })
      .setProtectedHeader({ alg: 'EdDSA', typ: 'task+jwt', ...header } as { alg: string })
      .sign(key);
  const expect401 = async (token: string, what: string) => {
    const res = await get('/v1/tasks', token);
    assert.equal(res.statusCode, 401, what);
    assert.equal(res.json().code, 'unauthorized', what);
    assert.equal(res.headers['www-authenticate'], 'Bearer');
  };

  before(async () => {
    agent = await createPrincipalWithKey(stack, a.adminKey, 'agent');
  });

  test('control: a token forged with the real key and right claims is accepted', async () => {
    assert.equal((await get('/v1/tasks', await forge())).statusCode, 200);
  });

  test('alg none, another algorithm, another key, tampered signature or payload → 401', async () => {
    const good = await forge();
    const [h, p, s] = good.split('.') as [string, string, string];
    const enc = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
    await expect401(`${enc({ alg: 'none', typ: 'task+jwt' })}.${p}.`, 'alg none');
    await expect401(
      `${enc({ alg: 'none', typ: 'task+jwt' })}.${p}.${s}`,
      'alg none with a signature',
    );
    // HS256 keyed with the public key (algorithm confusion).
    const hmacKey = new Uint8Array(signing.publicKey.export({ type: 'spki', format: 'der' }));
    const hs = await new SignJWT(decodeJwt(good))
      .setProtectedHeader({ alg: 'HS256', typ: 'task+jwt' })
      .sign(hmacKey);
    await expect401(hs, 'HS256 with the public key');
    await expect401(
      await forge({ key: generateKeyPairSync('ed25519').privateKey }),
      'signed by another key',
    );
    const flipped = s[5] === 'A' ? 'B' : 'A';
    await expect401(`${h}.${p}.${s.slice(0, 5)}${flipped}${s.slice(6)}`, 'tampered signature');
    const widened = enc({ ...decodeJwt(good), scope: 'tasks:read tasks:create tasks:cancel' });
    await expect401(`${h}.${widened}.${s}`, 'tampered payload');
    await expect401(`${h}.${p}`, 'two segments');
  });

  test('wrong typ, aud, iss, expired, missing claims, foreign tenant → 401', async () => {
    await expect401(await forge({ header: { typ: 'JWT' } }), 'typ JWT');
    await expect401(await forge({ header: { typ: undefined } }), 'no typ');
    await expect401(await forge({ header: { typ: 'user+jwt' } }), 'typ user+jwt');
    await expect401(await forge({ claims: { aud: 'urn:someone-else' } }), 'wrong aud');
    await expect401(await forge({ claims: { aud: [] } }), 'empty aud');
    await expect401(await forge({ claims: { iss: 'urn:evil' } }), 'wrong iss');
    await expect401(
      await forge({ claims: { sub: `user:${agent.id}` } }),
      'user subject without act',
    );
    await expect401(await forge({ claims: { scope: undefined } }), 'no scope');
    await expect401(await forge({ claims: { exp: now() - 60, iat: now() - 120 } }), 'expired');
    await expect401(
      await forge({ claims: { iat: now() - 7200 } }),
      'issued too long ago (maxTokenAge)',
    );
    await expect401(await forge({ claims: { akid: undefined } }), 'no akid');
    await expect401(await forge({ claims: { tid: undefined } }), 'no tid');
    await expect401(await forge({ claims: { jti: undefined } }), 'no jti');
    // Same agent id claimed in another tenant: that tenant has no such agent.
    await expect401(await forge({ claims: { tid: b.tenantId } }), 'foreign tenant');
  });

  test('a token in the query string (or body) is never read', async () => {
    const token = await mintToken(stack, agent.key);
    for (const q of ['access_token', 'token', 'authorization']) {
      const res = await get(`/v1/tasks?${q}=${token}`);
      assert.equal(res.statusCode, 401, q);
    }
  });
});

describe('revocation', () => {
  test('a revoked jti is refused on the next request; others may not revoke it', async () => {
    const agent = await createPrincipalWithKey(stack, a.adminKey, 'agent');
    const other = await createPrincipalWithKey(stack, a.adminKey, 'agent');
    const minted = (await requestToken(stack, agent.key)).json();
    const revoke = (key: string) =>
      stack.app.inject({ method: 'DELETE', url: `/v1/tokens/${minted.jti}`, headers: bearer(key) });
    assert.equal((await revoke(other.key)).statusCode, 404);
    assert.equal((await get('/v1/tasks', minted.token)).statusCode, 200);
    assert.equal((await revoke(agent.key)).statusCode, 204);
    assert.equal((await get('/v1/tasks', minted.token)).statusCode, 401);
    // An admin of the tenant may revoke any of its tokens.
    const second = (await requestToken(stack, agent.key)).json();
    assert.equal(
      (
        await stack.app.inject({
          method: 'DELETE',
          url: `/v1/tokens/${second.jti}`,
          headers: bearer(a.adminKey),
        })
      ).statusCode,
      204,
    );
    assert.equal((await get('/v1/tasks', second.token)).statusCode, 401);
  });

  test('a revocation lives exactly until the token would have expired (never shorter, not forever)', async () => {
    const agent = await createPrincipalWithKey(stack, a.adminKey, 'agent');
    for (const ttlSeconds of [60, 1800]) {
      const minted = (await requestToken(stack, agent.key, { expiresInSeconds: ttlSeconds })).json();
      const { exp } = decodeJwt(minted.token);
      assert.ok(exp);
      const revoke = await stack.app.inject({ method: 'DELETE', url: `/v1/tokens/${minted.jti}`, headers: bearer(agent.key) });
      assert.equal(revoke.statusCode, 204);
      assert.equal((await get('/v1/tasks', minted.token)).statusCode, 401);
      // The revocation's expiry in Redis (EXPIRETIME, seconds since the epoch) is the token's `exp`:
      // a shorter one would let the revoked token back in before it expires.
      assert.equal(await stack.deps.redis.expiretime(identityKeys.revokedToken(minted.jti)), exp);
    }
  });

  test('revoking the key or disabling the agent kills its tokens on the next request', async () => {
    const viaKey = await createPrincipalWithKey(stack, a.adminKey, 'agent');
    const t1 = await mintToken(stack, viaKey.key);
    await stack.app.inject({
      method: 'DELETE',
      url: `/v1/admin/keys/${viaKey.keyId}`,
      headers: bearer(a.adminKey),
    });
    assert.equal((await get('/v1/tasks', t1)).statusCode, 401);

    const viaAgent = await createPrincipalWithKey(stack, a.adminKey, 'agent');
    const t2 = await mintToken(stack, viaAgent.key);
    assert.equal((await get('/v1/tasks', t2)).statusCode, 200);
    await stack.app.inject({
      method: 'POST',
      url: `/v1/admin/agents/${viaAgent.id}/disable`,
      headers: bearer(a.adminKey),
    });
    assert.equal((await get('/v1/tasks', t2)).statusCode, 401);
  });
});

describe('delegation (RFC 8693 act)', () => {
  test('a task token acting for a user gets the intersection, records both, and never widens', async () => {
    const agent = await createPrincipalWithKey(stack, a.adminKey, 'agent', {
      scopes: ['tasks:create', 'tasks:read', 'runtime:javascript', 'runtime:python'],
    });
    const user = await createPrincipalWithKey(stack, a.adminKey, 'user', {
      scopes: ['tasks:read', 'tasks:cancel', 'runtime:python', 'runtime:bash'],
    });
    const userRes = await requestToken(stack, user.key, { mayAct: agent.id });
    assert.equal(userRes.statusCode, 200, userRes.body);
    assert.equal(userRes.json().tokenType, 'user+jwt');
    const userToken = userRes.json().token as string;
    assert.equal(decodeProtectedHeader(userToken).typ, 'user+jwt');

    const res = await requestToken(stack, agent.key, { subjectToken: userToken });
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.json().scope, 'tasks:read runtime:python');
    assert.equal(res.json().actingFor, user.id);
    const claims = decodeJwt(res.json().token);
    assert.equal(claims.sub, `user:${user.id}`);
    assert.deepEqual(claims['act'], { sub: `agent:${agent.id}` });

    const token = res.json().token as string;
    assert.equal((await get('/v1/tasks', token)).statusCode, 200);
    assert.equal((await submit(token, { runtime: 'python' })).statusCode, 403);

    // Asking for what only one side has is refused, in every dimension.
    for (const scope of [
      'tasks:create',
      'tasks:cancel',
      'tasks:read runtime:javascript',
      'tasks:read runtime:bash',
    ]) {
      const wider = await requestToken(stack, agent.key, { subjectToken: userToken, scope });
      assert.equal(wider.statusCode, 400, scope);
      assert.equal(wider.json().code, 'invalid_scope', scope);
    }

    // Disabling the user kills the delegated token on the next request.
    await stack.app.inject({
      method: 'POST',
      url: `/v1/admin/users/${user.id}/disable`,
      headers: bearer(a.adminKey),
    });
    assert.equal((await get('/v1/tasks', token)).statusCode, 401);
  });

  test('user and task tokens are mutually exclusive; may_act and tenant are enforced', async () => {
    const agent = await createPrincipalWithKey(stack, a.adminKey, 'agent');
    const otherAgent = await createPrincipalWithKey(stack, a.adminKey, 'agent');
    const user = await createPrincipalWithKey(stack, a.adminKey, 'user');
    const userToken = await mintToken(stack, user.key, { mayAct: agent.id });
    const taskToken = await mintToken(stack, agent.key);

    // A user token is not a Bearer credential.
    assert.equal((await get('/v1/tasks', userToken)).statusCode, 401);
    // A task token is not a subject token.
    const asSubject = await requestToken(stack, agent.key, { subjectToken: taskToken });
    assert.equal(asSubject.statusCode, 400);
    assert.equal(asSubject.json().code, 'invalid_grant');
    // Only the agent named in may_act may use the user token.
    const notNamed = await requestToken(stack, otherAgent.key, { subjectToken: userToken });
    assert.equal(notNamed.json().code, 'invalid_grant');
    // Another tenant's agent cannot use it either, and a user cannot name an agent of another tenant.
    const agentB = await createPrincipalWithKey(stack, b.adminKey, 'agent');
    assert.equal(
      (await requestToken(stack, agentB.key, { subjectToken: userToken })).json().code,
      'invalid_grant',
    );
    assert.equal((await requestToken(stack, user.key, { mayAct: agentB.id })).statusCode, 404);
    // Mixed-up fields.
    assert.equal((await requestToken(stack, user.key, {})).statusCode, 400);
    assert.equal((await requestToken(stack, agent.key, { mayAct: agent.id })).statusCode, 400);
    // A revoked user token no longer works as a subject token.
    const minted = (await requestToken(stack, user.key, { mayAct: agent.id })).json();
    await stack.app.inject({
      method: 'DELETE',
      url: `/v1/tokens/${minted.jti}`,
      headers: bearer(user.key),
    });
    assert.equal(
      (await requestToken(stack, agent.key, { subjectToken: minted.token })).json().code,
      'invalid_grant',
    );
  });
});
