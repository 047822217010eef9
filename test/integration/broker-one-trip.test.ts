/**
 * The one-trip path of the broker (harness/broker/broker-call.ts oneTripCall): a task's next call
 * is decided on the values read for its earlier call (owner, definition, sealed credential) and
 * its claim script first checks that the token is still the attempt's live one and that each of
 * those values is unchanged. What must hold: it does take one trip (no read of the task before
 * the claim), and nothing changed between two calls is ever missed — a finished task, an old
 * attempt's or another task's token, a disabled owner, a changed definition, a rotated or deleted
 * credential — each is seen by the very next call, which runs nothing it should not.
 *
 * Real parts: the harness broker on its own loopback listener, real Redis (MONITOR to see the
 * commands), real Cedar, vault and audit transport, and the loopback target fixture.
 */
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { callRecordsKey } from '../../harness/broker/call-records.ts';
import { identityKeys } from '../../harness/identity/identity-store.ts';
import { issueBrokerToken } from '../../protocol/broker-token.ts';
import { redisKeys } from '../../protocol/redis-keys.ts';
import {
  activatePolicies,
  adminHeaders,
  auditDrafts,
  callBroker,
  permitInvoke,
  putCapability,
  putCredential,
  resetPolicies,
  runningTask,
} from '../helpers/capabilities.ts';
import { REDIS_URL, startStack, type Stack } from '../helpers/stack.ts';
import { startTargetFixture, type TargetFixture } from '../helpers/target-fixture.ts';

const ADMIN_KEY = `admin-${randomUUID()}`;
const SECRETS = {
  tickets: `tk_${randomBytes(18).toString('base64url')}`,
  payments: `pk_${randomBytes(18).toString('hex')}`,
  basic: `svc:${randomBytes(12).toString('hex')}`,
};
/** Names of this run's own: the test changes their definitions and credentials. */
const run = randomUUID().slice(0, 8);
const TICKETS = `tickets.r${run}`;
const ECHO = `echo.r${run}`;
const CREDENTIAL = `tickets-r${run}`;
const ECHO_CREDENTIAL = `echo-r${run}`;

let stack: Stack;
let target: TargetFixture;
let redis: Redis;

const obj = (properties: Record<string, unknown>, required: string[] = []) => ({ type: 'object', properties, required, additionalProperties: false });
const ticketsDefinition = (input = obj({ title: { type: 'string' } }, ['title'])) => ({
  description: 'Opens a ticket',
  input,
  risk: 'write',
  implementation: { type: 'http', method: 'POST', url: `${target.base}/tickets`, body: { title: '{input.title}' }, credential: CREDENTIAL },
});
const echoDefinition = () => ({
  description: 'Echoes what it got',
  input: obj({ n: { type: 'integer' } }),
  risk: 'read',
  implementation: { type: 'http', method: 'POST', url: `${target.base}/echo`, body: 'input', credential: ECHO_CREDENTIAL },
});

before(async () => {
  redis = new Redis(REDIS_URL);
  target = await startTargetFixture(SECRETS);
  stack = await startStack({
    runner: false,
    broker: true,
    harnessEnv: {
      AIRLOCK_ADMIN_API_KEY: ADMIN_KEY,
      AIRLOCK_ADMIN_TENANT: 'acme',
      AIRLOCK_VAULT_KEY: randomBytes(32).toString('base64'),
      CAPABILITY_PRIVATE_TARGETS: `127.0.0.1:${target.port}`,
    },
  });
  await putCredential(stack, ADMIN_KEY, CREDENTIAL, { type: 'bearer', value: SECRETS.tickets });
  await putCredential(stack, ADMIN_KEY, ECHO_CREDENTIAL, { type: 'header', header: 'X-Echo-Key', value: 'first-value' });
  await putCapability(stack, ADMIN_KEY, TICKETS, ticketsDefinition());
  await putCapability(stack, ADMIN_KEY, ECHO, echoDefinition());
  await activatePolicies(stack, ADMIN_KEY, permitInvoke('one-trip', [TICKETS, ECHO]));
  // The broker's policy store reads a tenant's policies through a 1 s cache.
  await new Promise((r) => setTimeout(r, 1100));
});

after(async () => {
  // The agents made here leave the shared tenant (other tests list its agents a page at a time).
  for (const id of agentsMade) {
    await redis.del(identityKeys.principal('acme', 'agent', id));
    await redis.zrem(identityKeys.principals('acme', 'agent'), id);
  }
  await resetPolicies(stack, ADMIN_KEY);
  await stack.close();
  await target.close();
  redis.disconnect();
});

/** A running task of `agentId` (a principal with a stored record), with its attempt's broker token. */
const runningTaskOf = (agentId: string) => runningTask(stack, [TICKETS, ECHO], { agentId });

/** Agents this file made in tenant `acme` (removed at the end). */
const agentsMade: string[] = [];

async function newAgentTask(): Promise<{ agentId: string; task: { id: string; token: string; attempt: number } }> {
  const agent = await stack.deps.identity.createPrincipal('acme', 'agent', { name: `one-trip ${run}` });
  agentsMade.push(agent.id);
  return { agentId: agent.id, task: await runningTaskOf(agent.id) };
}

const tickets = (task: { id: string; token: string; attempt: number }, seq: number, title = `t-${seq}`, token = task.token) =>
  callBroker(stack, token, { taskId: task.id, attempt: task.attempt, seq, name: TICKETS, input: { title } });

/** The Redis commands (name and arguments) sent by clients while `fn` runs, that name `needle` (not those a script runs). */
async function commandsDuring(needle: string, fn: () => Promise<void>): Promise<string[][]> {
  const monitor = await redis.monitor();
  const seen: string[][] = [];
  monitor.on('monitor', (_time: string, args: string[], source: string) => {
    if (source !== 'lua' && args.some((a) => String(a).includes(needle))) seen.push(args.map(String));
  });
  // MONITOR sees commands from the moment it answered: a PING through it marks that moment.
  await redis.ping();
  try {
    await fn();
    // The settle is written right after the answer: let it arrive too.
    await new Promise((r) => setTimeout(r, 300));
  } finally {
    monitor.disconnect();
  }
  return seen;
}

const ticketsMade = () => target.seen.filter((r) => r.url === '/tickets' && r.method === 'POST').length;

describe('one trip', () => {
  test('a task’s next call reads nothing before its claim: the claim script checks the token and the values', async () => {
    const { task } = await newAgentTask();
    assert.equal((await tickets(task, 0)).body.ok, true, 'the first call (decided on fresh reads)');
    let second: Awaited<ReturnType<typeof tickets>> | undefined;
    const commands = await commandsDuring(task.id, async () => {
      second = await tickets(task, 1);
    });
    assert.equal(second?.status, 200);
    assert.equal(second?.body.ok, true, JSON.stringify(second?.body));
    const names = commands.map((c) => (c[0] as string).toLowerCase());
    // The token's read (HMGET of the task record) and the record's read (HGET) are not made:
    // one script claims (its keys: the records, the task, then the owner, definition, vault).
    assert.deepEqual(names.filter((n) => n === 'hmget' || n === 'hget'), [], JSON.stringify(commands));
    const scripts = commands.filter((c) => /^evalsha$/i.test(c[0] as string));
    assert.equal(scripts.length, 2, `the claim and the settle: ${JSON.stringify(commands)}`);
    const claimKeys = scripts[0]!.slice(3, 3 + Number(scripts[0]![2]));
    assert.deepEqual(claimKeys.slice(0, 2), [callRecordsKey(task.id), redisKeys.task(task.id)]);
    assert.equal(claimKeys.length, 5, 'owner, definition and credential checked');
    assert.equal(ticketsMade() >= 2, true);
  });

  test('a finished task, an old attempt’s token, another task’s token: refused by the next call, nothing run', async () => {
    const { agentId, task } = await newAgentTask();
    const other = await runningTaskOf(agentId);
    assert.equal((await tickets(task, 0)).body.ok, true);
    assert.equal((await tickets(other, 0)).body.ok, true);
    const before = ticketsMade();

    assert.equal((await tickets(task, 1, 'x', other.token)).status, 401, 'another task’s token');
    // The retried attempt: a new token; the old one dies with its attempt.
    await redis.hset(redisKeys.task(task.id), 'attempts', '2');
    const token2 = await issueBrokerToken(redis, task.id, 2);
    assert.ok(token2);
    assert.equal((await tickets(task, 1)).status, 401, 'the old attempt’s token, as attempt 1');
    assert.equal((await tickets({ ...task, attempt: 2 }, 1)).status, 401, 'the old attempt’s token, as attempt 2');
    const retried = await tickets({ ...task, attempt: 2, token: token2 }, 1);
    assert.equal(retried.body.ok, true, 'the new attempt’s token works');
    await stack.deps.store.transition(task.id, 'succeeded', ['running'], { finishedAt: new Date().toISOString() });
    assert.equal((await tickets({ ...task, attempt: 2, token: token2 }, 2)).status, 401, 'the task finished');

    assert.equal(ticketsMade(), before + 1, 'only the new attempt’s call reached the target');
    const drafts = await auditDrafts(redis, task.id);
    const refused = drafts.filter((e) => e.action === 'capability.refused').map((e) => (e.details as { reason: string }).reason);
    assert.deepEqual(refused, ['wrong_token', 'wrong_attempt', 'wrong_token', 'not_live']);
    const started = drafts.filter((e) => e.action === 'capability.call.started').map((e) => (e.details as { seq: number }).seq);
    assert.deepEqual(started, [0, 1], 'a start is recorded only for the calls that ran');
    const records = await redis.hgetall(callRecordsKey(task.id));
    assert.deepEqual(Object.keys(records).sort(), ['0', '1']);
    assert.equal(JSON.parse(records['1']!).attempt, 2);
  });

  test('an owner disabled between two calls: the next call is denied and runs nothing', async () => {
    const { agentId, task } = await newAgentTask();
    assert.equal((await tickets(task, 0)).body.ok, true);
    const before = ticketsMade();
    assert.ok(await stack.deps.identity.disablePrincipal('acme', 'agent', agentId));
    const denied = await tickets(task, 1);
    assert.equal(denied.body.ok, false);
    assert.equal(!denied.body.ok && denied.body.error.code, 'capability_denied');
    assert.match(!denied.body.ok ? denied.body.error.message : '', /disabled/);
    assert.equal(ticketsMade(), before);
    assert.equal(await redis.hget(callRecordsKey(task.id), '1'), null, 'nothing claimed');
  });

  test('a definition changed between two calls: the next call is decided on the new one', async () => {
    const { task } = await newAgentTask();
    assert.equal((await tickets(task, 0, 'a long title')).body.ok, true);
    const before = ticketsMade();
    try {
      await putCapability(stack, ADMIN_KEY, TICKETS, ticketsDefinition(obj({ title: { type: 'string', maxLength: 3 } }, ['title'])));
      const refused = await tickets(task, 1, 'a long title');
      assert.equal(!refused.body.ok && refused.body.error.code, 'capability_invalid_input', JSON.stringify(refused.body));
      assert.equal(ticketsMade(), before, 'the old definition would have let it through');
      assert.equal((await tickets(task, 2, 'abc')).body.ok, true);
    } finally {
      await putCapability(stack, ADMIN_KEY, TICKETS, ticketsDefinition());
    }
  });

  test('a task’s first call reads the credential its definition named before with its other reads: fresh, never remembered', async () => {
    const echoOf = async (seq: number) => {
      const task = (await newAgentTask()).task;
      return callBroker(stack, task.token, { taskId: task.id, attempt: 1, seq: 0, name: ECHO, input: { n: 1000 + seq } });
    };
    const sentKey = (n: number) => target.seen.filter((r) => r.url === '/echo' && JSON.parse(r.body || '{}').n === n).map((r) => r.headers['x-echo-key']);
    try {
      assert.equal((await echoOf(0)).body.ok, true);
      await putCredential(stack, ADMIN_KEY, ECHO_CREDENTIAL, { type: 'header', header: 'X-Echo-Key', value: 'rotated-value' });
      assert.equal((await echoOf(1)).body.ok, true);
      assert.deepEqual(sentKey(1001), ['rotated-value']);
    } finally {
      await putCredential(stack, ADMIN_KEY, ECHO_CREDENTIAL, { type: 'header', header: 'X-Echo-Key', value: 'first-value' });
    }
  });

  test('a credential rotated or deleted between two calls: the next call sends the new value, or fails', async () => {
    const task = (await newAgentTask()).task;
    const echo = (seq: number) => callBroker(stack, task.token, { taskId: task.id, attempt: 1, seq, name: ECHO, input: { n: seq } });
    const sentKey = (n: number) => target.seen.filter((r) => r.url === '/echo' && JSON.parse(r.body || '{}').n === n && r.headers['x-echo-key'] !== undefined);
    try {
      assert.equal((await echo(0)).body.ok, true);
      await putCredential(stack, ADMIN_KEY, ECHO_CREDENTIAL, { type: 'header', header: 'X-Echo-Key', value: 'second-value' });
      assert.equal((await echo(1)).body.ok, true);
      assert.deepEqual(sentKey(1).map((r) => r.headers['x-echo-key']), ['second-value'], 'the rotated value, not the one read before');
      const deleted = await stack.app.inject({ method: 'DELETE', url: `/v1/admin/credentials/${ECHO_CREDENTIAL}`, headers: adminHeaders(ADMIN_KEY) });
      assert.equal(deleted.statusCode, 204, deleted.body);
      const failed = await echo(2);
      assert.equal(!failed.body.ok && failed.body.error.code, 'capability_failed', JSON.stringify(failed.body));
      assert.deepEqual(sentKey(2), [], 'not sent with the deleted credential');
    } finally {
      await putCredential(stack, ADMIN_KEY, ECHO_CREDENTIAL, { type: 'header', header: 'X-Echo-Key', value: 'first-value' });
    }
  });
});
