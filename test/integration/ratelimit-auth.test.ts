/**
 * Failed-authentication throttling per client IP, through the real app (`inject`, whose
 * `remoteAddress` sets the client IP) on real Redis. After RATE_LIMIT_AUTH_FAILURES_PER_MIN
 * 401s from one IP, that IP gets 429 before its credential is even looked at — also with a
 * valid key — while other IPs and the agent's own budgets are unaffected. No runner.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { partitionKey } from '../../harness/ratelimit/headers.ts';
import { startStack, type Stack } from '../helpers/stack.ts';
import { assertThrottled, limits, policies, rateLimitAgents, type RunAgent } from '../helpers/ratelimit.ts';

let stack: Stack;
let agent: RunAgent;

before(async () => {
  const run = await rateLimitAgents({ a: 1 });
  agent = run.agents['a'] as RunAgent;
  stack = await startStack({
    runner: false,
    harnessEnv: { AIRLOCK_AGENTS_FILE: run.file, RATE_LIMIT_AUTH_FAILURES_PER_MIN: '3', RATE_LIMIT_READS_PER_MIN: '50' },
  });
});
after(async () => {
  await stack.close();
});

const get = (remoteAddress: string, headers: Record<string, string>) =>
  stack.app.inject({ method: 'GET', url: '/v1/tasks', headers, remoteAddress });
const WRONG = { authorization: 'Bearer wrong-key-0123456789abcdef' };

describe('failed-auth throttling', () => {
  test('after 3 failures an IP gets 429, even with a valid key; other IPs are unaffected', async () => {
    const ip = '203.0.113.7';
    assert.equal((await get(ip, agent.headers())).statusCode, 200, 'successes do not count');
    const failures = [WRONG, {}, { authorization: 'Basic Zm9vOmJhcg==' }];
    for (const headers of failures) {
      const res = await get(ip, headers);
      assert.equal(res.statusCode, 401);
      assert.equal(res.headers['ratelimit'], undefined, 'no principal, no budget to report');
    }
    const blocked = await get(ip, agent.headers());
    assert.deepEqual(assertThrottled(blocked, ['auth-failures']), ['auth-failures']);
    const policy = policies(blocked).get('auth-failures');
    assert.equal(policy?.q, 3);
    assert.equal(policy?.w, 60);
    assert.equal(policy?.pk.length, 12);
    assert.ok(!Buffer.from(policy?.pk ?? []).toString('latin1').includes(ip));
    assertThrottled(await get(ip, WRONG), ['auth-failures']);

    const other = await get('198.51.100.9', agent.headers());
    assert.equal(other.statusCode, 200);
    // The blocked requests never reached authentication, so the agent's budget was not drawn.
    assert.equal(limits(other).get('agent-reads')?.r, 48);
  });

  test('only 401s count: the throttled IP’s 429s do not add to its failures', async () => {
    const ip = '203.0.113.8';
    for (let i = 0; i < 3; i++) assert.equal((await get(ip, WRONG)).statusCode, 401);
    for (let i = 0; i < 3; i++) assertThrottled(await get(ip, WRONG), ['auth-failures']);
    const pk = partitionKey(stack.deps.config.RATE_LIMIT_PK_SALT, 'ip', ip).toString('hex');
    assert.equal(await stack.deps.redis.get(`airlock:ratelimit:auth-failures:${pk}`), '3');
  });
});

describe('failed-auth throttling across harnesses', () => {
  test('a harness checks the shared counter for IPs it answered 401: one more 401 there, then 429', async () => {
    // A second harness on the same Redis (its own process state, like a replica behind a load
    // balancer); the IP's failures all went through the first one.
    const { buildApp } = await import('../../harness/app.ts');
    const replica = await buildApp(stack.deps);
    try {
      const ip = '203.0.113.9';
      for (let i = 0; i < 3; i++) assert.equal((await get(ip, WRONG)).statusCode, 401);
      assertThrottled(await get(ip, agent.headers()), ['auth-failures']);
      const viaReplica = (headers: Record<string, string>) =>
        replica.inject({ method: 'GET', url: '/v1/tasks', headers, remoteAddress: ip });
      // The replica has not seen this IP fail: its first failure there is still a 401 ...
      assert.equal((await viaReplica(WRONG)).statusCode, 401);
      // ... and from then on the replica throttles it too, valid key or not.
      assertThrottled(await viaReplica(agent.headers()), ['auth-failures']);
      assertThrottled(await viaReplica(WRONG), ['auth-failures']);
    } finally {
      await replica.close();
    }
  });
});

describe('client IP behind a reverse proxy (TRUST_PROXY)', () => {
  let proxied: Stack;
  const PROXY = '10.9.8.7';
  before(async () => {
    const run = await rateLimitAgents({ p: 1 });
    proxied = await startStack({
      runner: false,
      harnessEnv: { AIRLOCK_AGENTS_FILE: run.file, RATE_LIMIT_AUTH_FAILURES_PER_MIN: '2', TRUST_PROXY: `${PROXY}/32` },
    });
  });
  after(async () => {
    await proxied.close();
  });
  const via = (remoteAddress: string, forwardedFor: string) =>
    proxied.app.inject({
      method: 'GET',
      url: '/v1/tasks',
      headers: { ...WRONG, 'x-forwarded-for': forwardedFor },
      remoteAddress,
    });

  test('through the trusted proxy, each forwarded client has its own failure budget', async () => {
    for (let i = 0; i < 2; i++) assert.equal((await via(PROXY, '198.51.100.20')).statusCode, 401);
    assertThrottled(await via(PROXY, '198.51.100.20'), ['auth-failures']);
    // Another client behind the same proxy is not throttled for the first one's failures.
    assert.equal((await via(PROXY, '198.51.100.21')).statusCode, 401);
  });

  test('a forged X-Forwarded-For from an untrusted peer is ignored: the peer stays throttled', async () => {
    const attacker = '203.0.113.50';
    for (let i = 0; i < 2; i++) assert.equal((await via(attacker, `198.51.100.${100 + i}`)).statusCode, 401);
    // Rotating the forged header does not give the attacker a fresh budget.
    assertThrottled(await via(attacker, '198.51.100.199'), ['auth-failures']);
  });
});
