/**
 * The compose stack's Redis ACL users and the audit streams (STANDARDS AUD-2), on a private
 * redis-server loaded with the ACL file deploy/setup.sh renders from
 * deploy/redis/users.acl.template: the harness and runner users append (XADD, also from inside
 * the task store's real scripts) and can do nothing else to an audit key; the sealer user reads
 * and trims them (a real sealer seals what they wrote) and cannot forge an entry. A user without
 * the XADD selector cannot create or move a task at all (fail closed).
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile } from 'node:fs/promises';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { AuditProducer, isAuditUnavailable } from '../../protocol/audit/producer.ts';
import { auditShard, auditStreamKey, redisKeys } from '../../protocol/redis-keys.ts';
import { TaskStore, type TaskRecord } from '../../protocol/task-store.ts';
import { auditFixture, inProcessSealer, sealedEntries } from '../helpers/audit.ts';
import { ROOT } from '../helpers/audit.ts';

let server: ChildProcess;
let port: number;
let passwords: Record<string, string>;
const clients: Redis[] = [];

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const p = (s.address() as { port: number }).port;
  await new Promise((resolve) => s.close(resolve));
  return p;
}

function as(user: string, password = passwords[`${user.toUpperCase()}_REDIS_PASSWORD`] as string): Redis {
  const r = new Redis({ port, host: '127.0.0.1', username: user, password, maxRetriesPerRequest: 1 });
  r.on('error', () => {});
  clients.push(r);
  return r;
}

before(async () => {
  const secrets = await mkdtemp(path.join(tmpdir(), 'airlock-acl-'));
  const setup = spawnSync('bash', ['deploy/setup.sh', '--secrets-dir', secrets], { cwd: ROOT, encoding: 'utf8' });
  assert.equal(setup.status, 0, setup.stderr);
  passwords = Object.fromEntries(
    (await readFile(path.join(secrets, 'passwords.env'), 'utf8'))
      .split('\n')
      .filter((l) => /^[A-Z_]+=/.test(l))
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );
  port = await freePort();
  server = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--aclfile', path.join(secrets, 'users.acl')], {
    stdio: 'ignore',
  });
  for (let i = 0; ; i++) {
    const up = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1', () => (s.destroy(), resolve(true)));
      s.on('error', () => resolve(false));
    });
    if (up) break;
    if (i > 200) throw new Error('redis-server did not start');
    await new Promise((r) => setTimeout(r, 50));
  }
});
after(async () => {
  for (const c of clients) c.disconnect();
  server.kill('SIGKILL');
});

function record(id: string): TaskRecord {
  return {
    id,
    tenantId: 'acme',
    agentId: 'alice',
    status: 'queued',
    runtime: 'javascript',
    createdAt: new Date().toISOString(),
    limits: { timeoutMs: 1000, cpuMs: 1000, memoryMb: 64, outputBytes: 1024 },
    metadata: { promptSnippet: 'acl' },
    attempts: 0,
  };
}

const NOPERM = /NOPERM|can't access|no permissions/;

describe('audit streams under the stack\'s ACL users', () => {
  test('harness and runner: the task scripts append their entries; XRANGE, XTRIM, XDEL, DEL, EXPIRE of an audit key are refused', async () => {
    const harness = as('harness');
    const runner = as('runner');
    const id = randomUUID();
    const stream = auditStreamKey(auditShard(id));
    const harnessStore = new TaskStore({ redis: harness, retentionMs: 60_000, audit: new AuditProducer({ redis: harness }) });
    const runnerStore = new TaskStore({ redis: runner, retentionMs: 60_000, audit: new AuditProducer({ redis: runner }) });
    await harnessStore.create(record(id));
    assert.equal((await runnerStore.start(id, { tenantId: 'acme', agentId: 'alice' }, { runnerId: 'r1', attempt: 1 })).outcome, 'started');
    assert.equal(await runnerStore.transition(id, 'succeeded', ['running'], { finishedAt: new Date().toISOString() }), true);
    const admin = as('admin');
    const actions = (await admin.xrange(stream, '-', '+'))
      .map(([, f]) => f[f.indexOf('e') + 1])
      .filter((e): e is string => e !== undefined && e.includes(id))
      .map((e) => (JSON.parse(e) as { action: string }).action);
    assert.deepEqual(actions, ['task.created', 'task.started', 'task.succeeded']);
    for (const client of [harness, runner]) {
      assert.ok(await client.xadd(stream, '*', 'p', 'p_0000000000000000', 'n', '1', 'h', '1'));
      for (const attempt of [
        () => client.xrange(stream, '-', '+'),
        () => client.xtrim(stream, 'MAXLEN', 0),
        () => client.xdel(stream, '0-1'),
        () => client.del(stream),
        () => client.pexpire(stream, 1),
        () => client.eval(`return redis.call('XRANGE', ARGV[1], '-', '+')`, 0, stream),
        () => client.eval(`return redis.call('DEL', ARGV[1])`, 0, stream),
      ]) {
        await assert.rejects(attempt(), NOPERM);
      }
    }
    assert.ok((await admin.xlen(stream)) >= 5, 'nothing was removed');
  });

  test('runner: a task that made capability calls and fails joins the rollback inbox in its transition; the runner cannot write call records', async () => {
    const harness = as('harness');
    const runner = as('runner');
    const queue = `acl-${randomUUID()}`;
    const harnessStore = new TaskStore({ redis: harness, retentionMs: 60_000, audit: new AuditProducer({ redis: harness }), rollbackQueue: queue });
    const runnerStore = new TaskStore({ redis: runner, retentionMs: 60_000, audit: new AuditProducer({ redis: runner }), rollbackQueue: queue });
    const [withCalls, without] = [randomUUID(), randomUUID()];
    for (const id of [withCalls, without]) {
      await harnessStore.create(record(id));
      assert.equal((await runnerStore.start(id, { tenantId: 'acme', agentId: 'alice' }, { runnerId: 'r1', attempt: 1 })).outcome, 'started');
    }
    // The broker (harness user) records a call of one of them.
    await harness.hset(redisKeys.calls(withCalls), '0', JSON.stringify({ key: 'k', state: 'settled' }));
    for (const id of [withCalls, without]) {
      assert.equal(await runnerStore.transition(id, 'failed', ['running'], { finishedAt: new Date().toISOString() }, { code: 'runtime_error', message: 'boom' }), true);
    }
    const admin = as('admin');
    assert.equal(await admin.sismember(redisKeys.rollbackInbox(withCalls, queue), withCalls), 1);
    assert.equal(await admin.sismember(redisKeys.rollbackInbox(without, queue), without), 0, 'no calls, nothing to roll back');
    // A runner may read whether call records exist, never forge or remove one.
    await assert.rejects(runner.hset(redisKeys.calls(withCalls), '1', '{}'), NOPERM);
    await assert.rejects(runner.del(redisKeys.calls(withCalls)), NOPERM);
    await assert.rejects(runner.eval(`return redis.call('HSET', ARGV[1], '1', '{}')`, 0, redisKeys.calls(withCalls)), NOPERM);
  });

  test('sealer: reads and trims (a real sealer seals what they wrote); cannot XADD, DEL or read other keys', async () => {
    const sealerRedis = as('sealer');
    const id = randomUUID();
    const stream = auditStreamKey(auditShard(id));
    const harness = as('harness');
    const producer = new AuditProducer({ redis: harness });
    await producer.append({ tenant: 'acme', taskId: id, action: 'task.created', outcome: 'success' });
    const fx = await auditFixture();
    const sealer = inProcessSealer(sealerRedis, fx);
    await sealer.tick();
    await sealer.commit();
    assert.ok(sealedEntries(fx.logDir('acme')).some((e) => e.taskId === id), 'sealed by the sealer user');
    await sealer.close();
    await assert.rejects(sealerRedis.xadd(stream, '*', 'p', 'p_0000000000000000', 'n', '1', 'e', '{}'), NOPERM);
    await assert.rejects(sealerRedis.del(stream), NOPERM);
    await assert.rejects(sealerRedis.hgetall(redisKeys.task(id)), NOPERM);
    await assert.rejects(sealerRedis.get('airlock:identity:x'), NOPERM);
  });

  test('a harness user without the XADD selector cannot create a task: nothing is written', async () => {
    const admin = as('admin');
    const rules = (await admin.call('ACL', 'GETUSER', 'harness')) as unknown[];
    assert.ok(JSON.stringify(rules).includes('airlock:audit:*'), 'the harness user has the audit selector');
    // The same root permissions, no selector.
    const password = randomUUID();
    await admin.call(
      'ACL', 'SETUSER', 'noaudit', 'on', `>${password}`, 'resetkeys', '~airlock:task:*', '~airlock:events:*', 'resetchannels', '&airlock:*',
      '-@all', '+@read', '+@write', '+@scripting', '+@connection', '+info',
    );
    const noaudit = as('noaudit', password);
    const store = new TaskStore({ redis: noaudit, retentionMs: 60_000, audit: new AuditProducer({ redis: noaudit }) });
    const id = randomUUID();
    await assert.rejects(store.create(record(id)), (err: unknown) => isAuditUnavailable(err));
    assert.equal(await admin.exists(redisKeys.task(id), redisKeys.events(id)), 0);
  });
});
