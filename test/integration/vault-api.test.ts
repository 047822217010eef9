/**
 * The credentials vault through the real Fastify app (inject) on real Redis: values are sealed
 * at rest (AES-256-GCM, the key id stored with each), never returned by any route, bound to
 * their tenant and name, readable after a key rotation, and refused to non-admins.
 */
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { CredentialStore } from '../../harness/vault/credential-store.ts';
import { VaultOpenError } from '../../harness/vault/vault-cipher.ts';
import { loadVaultKeyring, vaultKeyId } from '../../harness/vault/vault-keys.ts';
import { REDIS_URL, startStack, type Stack } from '../helpers/stack.ts';

const ADMIN_KEY = `admin-${randomUUID()}`;
const OLD_KEY = randomBytes(32).toString('base64');
const NEW_KEY = randomBytes(32).toString('base64url');
let stack: Stack;
let redis: Redis;
const tenant = 'acme';

before(async () => {
  redis = new Redis(REDIS_URL);
  stack = await startStack({
    runner: false,
    harnessEnv: { AIRLOCK_ADMIN_API_KEY: ADMIN_KEY, AIRLOCK_ADMIN_TENANT: tenant, AIRLOCK_VAULT_KEY: OLD_KEY },
  });
});
after(async () => {
  await stack.close();
  redis.disconnect();
});

const admin = () => ({ authorization: `Bearer ${ADMIN_KEY}` });
const put = (name: string, body: Record<string, unknown>, headers: Record<string, string> = admin()) =>
  stack.app.inject({ method: 'PUT', url: `/v1/admin/credentials/${name}`, headers, payload: body });

describe('credentials vault API', () => {
  test('store, describe, list, replace, delete: the value never comes back, and is not in Redis in clear', async () => {
    const name = `tickets-${randomUUID().slice(0, 8)}`;
    const secret = `sk_live_${randomBytes(16).toString('hex')}`;
    const created = await put(name, { type: 'bearer', value: secret });
    assert.equal(created.statusCode, 201, created.body);
    assert.deepEqual(Object.keys(created.json()).sort(), ['createdAt', 'keyId', 'name', 'type', 'updatedAt']);
    assert.equal(created.json().keyId, vaultKeyId(Buffer.from(OLD_KEY, 'base64')));
    const replaced = await put(name, { type: 'header', header: 'X-Api-Key', value: secret });
    assert.equal(replaced.statusCode, 200);
    assert.equal(replaced.json().header, 'X-Api-Key');
    const got = await stack.app.inject({ method: 'GET', url: `/v1/admin/credentials/${name}`, headers: admin() });
    const list = await stack.app.inject({ method: 'GET', url: '/v1/admin/credentials', headers: admin() });
    for (const res of [created, replaced, got, list]) assert.ok(!res.body.includes(secret), 'no answer carries the value');
    assert.ok(list.json().items.some((c: { name: string }) => c.name === name));
    // At rest: the hash holds ciphertext only (nor its base64).
    const raw = (await redis.hget(`airlock:vault:{${tenant}}`, name)) ?? '';
    assert.ok(raw.length > 0);
    assert.ok(!raw.includes(secret) && !raw.includes(Buffer.from(secret).toString('base64')));
    const del = await stack.app.inject({ method: 'DELETE', url: `/v1/admin/credentials/${name}`, headers: admin() });
    assert.equal(del.statusCode, 204);
    assert.equal((await stack.app.inject({ method: 'GET', url: `/v1/admin/credentials/${name}`, headers: admin() })).statusCode, 404);
  });

  test('bad bodies are 400s naming the field; agents get 403', async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ type: 'header', value: 'x' }, '/body/header'],
      [{ type: 'query', value: 'x' }, '/body/param'],
      [{ type: 'basic', value: 'no-colon' }, '/body/value'],
      [{ type: 'bearer', value: 'a\r\nX-Evil: 1' }, '/body/value'],
      [{ type: 'bearer', value: '' }, '/body/value'],
      [{ type: 'header', header: 'Host', value: 'x' }, '/body/header'],
      [{ type: 'bearer', value: 'x', extra: 1 }, ''],
    ];
    for (const [body, pointer] of cases) {
      const res = await put('bad', body);
      assert.equal(res.statusCode, 400, `${JSON.stringify(body)}: ${res.body}`);
      if (pointer) assert.match(res.body, new RegExp(pointer.replace(/\//g, '\\/')), JSON.stringify(body));
    }
    const res = await put('x', { type: 'bearer', value: 'v' }, stack.headers('alice', null));
    assert.equal(res.statusCode, 403);
  });
});

describe('sealing', () => {
  test('a value opens after a rotation (new key first, old still listed) and is re-sealed with the new key', async () => {
    const oldRing = loadVaultKeyring(OLD_KEY);
    const rotated = loadVaultKeyring(`${NEW_KEY},${OLD_KEY}`);
    const before = new CredentialStore(redis, oldRing);
    const after = new CredentialStore(redis, rotated);
    const name = `rot-${randomUUID().slice(0, 8)}`;
    await before.put(tenant, name, { type: 'bearer' }, 'value-1');
    assert.equal((await after.reveal(tenant, name))?.value, 'value-1');
    const { view } = await after.put(tenant, name, { type: 'bearer' }, 'value-2');
    assert.equal(view.keyId, rotated.current.id);
    // Once the old key is dropped, values it sealed cannot be opened (and say why).
    await before.put(tenant, `${name}-old`, { type: 'bearer' }, 'value-3');
    const newOnly = new CredentialStore(redis, loadVaultKeyring(NEW_KEY));
    assert.equal((await newOnly.reveal(tenant, name))?.value, 'value-2');
    await assert.rejects(newOnly.reveal(tenant, `${name}-old`), (e: unknown) => e instanceof VaultOpenError && /no longer lists/.test(e.message));
  });

  test('a sealed value moved to another name or tenant, or altered, does not open', async () => {
    const store = new CredentialStore(redis, loadVaultKeyring(OLD_KEY));
    const name = `bind-${randomUUID().slice(0, 8)}`;
    await store.put(tenant, name, { type: 'bearer' }, 'secret-value');
    const raw = (await redis.hget(`airlock:vault:{${tenant}}`, name)) as string;
    await redis.hset(`airlock:vault:{${tenant}}`, `${name}-copy`, raw);
    await redis.hset('airlock:vault:{globex}', name, raw);
    await assert.rejects(store.reveal(tenant, `${name}-copy`), VaultOpenError);
    await assert.rejects(store.reveal('globex', name), VaultOpenError);
    const altered = JSON.parse(raw) as { sealed: { ct: string } };
    const ct = Buffer.from(altered.sealed.ct, 'base64');
    ct[0] = (ct[0] as number) ^ 1;
    altered.sealed.ct = ct.toString('base64');
    await redis.hset(`airlock:vault:{${tenant}}`, name, JSON.stringify(altered));
    await assert.rejects(store.reveal(tenant, name), VaultOpenError);
    await redis.hdel(`airlock:vault:{${tenant}}`, `${name}-copy`);
    await redis.hdel('airlock:vault:{globex}', name);
  });

  test('bad keys are refused at start', () => {
    assert.throws(() => loadVaultKeyring(randomBytes(16).toString('base64')), /32 bytes/);
    assert.throws(() => loadVaultKeyring('not base64!'), /not base64/);
    assert.throws(() => loadVaultKeyring(`${OLD_KEY},${OLD_KEY}`), /twice/);
    assert.equal(loadVaultKeyring(undefined).ephemeral, true);
  });
});
