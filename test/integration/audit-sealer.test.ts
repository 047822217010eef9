/**
 * The audit sealer in-process (sealer/sealer.ts driven tick by tick, so "between two reads" is
 * exact), on real Redis streams and real files in a temp AUDIT_DIR: order, seq and chain; gaps
 * after `XADD … MAXLEN 0`; void markers and task-record copies written by a real Lua script
 * (AUDIT_LUA); invalid and secret-bearing entries; restart from the committed state.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { appendFileSync, readFileSync, truncateSync, statSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { LuaScript } from '../../protocol/lua-script.ts';
import { LAYOUT, segmentName } from '../../protocol/audit/layout.ts';
import { parseVerifierKey } from '../../protocol/audit/note.ts';
import { AUDIT_LUA, AuditProducer } from '../../protocol/audit/producer.ts';
import { checkpointNotes, logLines } from '../../protocol/audit/log-dir.ts';
import { verifyLog } from '../../protocol/audit/verify-log.ts';
import { auditShard, auditStreamKey } from '../../protocol/redis-keys.ts';
import type { Sealer } from '../../sealer/sealer.ts';
import { auditFixture, inProcessSealer, sealedEntries, type AuditFixture } from '../helpers/audit.ts';
import { REDIS_URL } from '../helpers/stack.ts';

let redis: Redis;
before(async () => {
  redis = new Redis(REDIS_URL);
});
after(() => redis.disconnect());

const tenant = () => `t-${randomUUID().slice(0, 12)}`;

/** Ticks until `done()` (bounded by a number of rounds, not time). */
async function tickUntil(s: Sealer, done: () => boolean, rounds = 50): Promise<void> {
  for (let i = 0; i < rounds && !done(); i++) await s.tick();
  assert.ok(done(), 'sealer did not catch up');
}

function verify(fx: AuditFixture, t: string | undefined) {
  const dir = fx.logDir(t);
  const lines = [...logLines(dir)].map((l) => l.text);
  return verifyLog(lines, checkpointNotes(dir), { verifiers: [parseVerifierKey(fx.verifierKey(t))], origin: parseVerifierKey(fx.verifierKey(t)).name });
}

describe('audit sealer (in-process)', () => {
  test('entries are sealed in order with seq 1..n, a valid chain, a signed checkpoint; sealed ids are trimmed', async () => {
    const fx = await auditFixture();
    const s = inProcessSealer(redis, fx);
    const producer = new AuditProducer({ redis });
    const t = tenant();
    for (let i = 0; i < 25; i++) await producer.append({ tenant: t, action: 'test.step', outcome: 'success', details: { i } });
    await tickUntil(s, () => s.logSize(`tenants/${t}`) === 25);
    await s.commit();
    assert.equal(s.checkpoint() >= 1, true);
    const entries = sealedEntries(fx.logDir(t));
    assert.deepEqual(entries.map((e) => e.seq), Array.from({ length: 25 }, (_, i) => i + 1));
    assert.deepEqual(entries.map((e) => e.details?.['i']), Array.from({ length: 25 }, (_, i) => i));
    assert.ok(entries.every((e, i) => e.producer?.id === producer.id && e.producer.counter === i + 1));
    assert.equal(entries[0]?.prevHash, '0'.repeat(64));
    const v = verify(fx, t);
    assert.deepEqual(v, { ok: true, entries: 25, checkpoints: 1 });
    // Trimmed: nothing of ours is left in the stream.
    const rows = await redis.xrange(auditStreamKey(auditShard(t)), '-', '+');
    assert.equal(rows.filter(([, f]) => f.includes(producer.id)).length, 0);
    await s.close();
  });

  test('XADD MAXLEN 0 between two reads: the sealer records an audit_gap naming the producer and the missing counters', async () => {
    const fx = await auditFixture();
    const s = inProcessSealer(redis, fx);
    const producer = new AuditProducer({ redis });
    const t = tenant();
    const key = auditStreamKey(auditShard(t));
    await producer.append({ tenant: t, action: 'test.step', outcome: 'success', details: { i: 1 } });
    await producer.append({ tenant: t, action: 'test.step', outcome: 'success', details: { i: 2 } });
    await tickUntil(s, () => s.logSize(`tenants/${t}`) === 2);
    await producer.append({ tenant: t, action: 'test.step', outcome: 'success', details: { i: 3 } });
    await producer.append({ tenant: t, action: 'test.step', outcome: 'success', details: { i: 4 } });
    // A holder of XADD empties the stream (STANDARDS AUD-3).
    await redis.xadd(key, 'MAXLEN', '0', '*', 'x', 'y');
    assert.equal(await redis.xlen(key), 0);
    await producer.append({ tenant: t, action: 'test.step', outcome: 'success', details: { i: 5 } });
    await tickUntil(s, () => s.logSize(`tenants/${t}`) === 3);
    await s.commit();
    const gaps = sealedEntries(fx.logDir()).filter((e) => e.action === 'audit_gap' && e.details?.['producer'] === producer.id);
    assert.equal(gaps.length, 1);
    assert.deepEqual(gaps[0]?.details, { producer: producer.id, shard: auditShard(t), from: 3, to: 4, missing: 2 });
    assert.deepEqual(sealedEntries(fx.logDir(t)).map((e) => e.details?.['i']), [1, 2, 5]);
    await s.close();
  });

  test('entries removed from the end of a stream are noticed through the producer heartbeat', async () => {
    const fx = await auditFixture();
    const s = inProcessSealer(redis, fx);
    const producer = new AuditProducer({ redis });
    const t = tenant();
    const key = auditStreamKey(auditShard(t));
    await producer.append({ tenant: t, action: 'test.step', outcome: 'success', details: { i: 1 } });
    await tickUntil(s, () => s.logSize(`tenants/${t}`) === 1);
    await producer.append({ tenant: t, action: 'test.step', outcome: 'success', details: { i: 2 } });
    await producer.append({ tenant: t, action: 'test.step', outcome: 'success', details: { i: 3 } });
    await redis.xadd(key, 'MAXLEN', '0', '*', 'x', 'y');
    // The producer writes nothing more to this shard; its heartbeat still says how far it got.
    await producer.heartbeat();
    await tickUntil(s, () => sealedEntries(fx.logDir()).length > 0 || s.logSize('system') > 0);
    await s.commit();
    const gaps = sealedEntries(fx.logDir()).filter((e) => e.action === 'audit_gap' && e.details?.['producer'] === producer.id);
    assert.deepEqual(gaps.map((g) => [g.details?.['from'], g.details?.['to']]), [[2, 3]]);
    // A heartbeat with nothing new since is not a gap.
    await producer.heartbeat();
    await producer.append({ tenant: t, action: 'test.step', outcome: 'success', details: { i: 4 } });
    await producer.heartbeat();
    await tickUntil(s, () => s.logSize(`tenants/${t}`) === 2);
    await s.commit();
    assert.equal(sealedEntries(fx.logDir()).filter((e) => e.action === 'audit_gap' && e.details?.['producer'] === producer.id).length, 1);
    await s.close();
  });

  test('a Lua script appends atomically with its change (copying the task record) or consumes its counter with a void marker', async () => {
    const fx = await auditFixture();
    const s = inProcessSealer(redis, fx);
    const producer = new AuditProducer({ redis });
    const t = tenant();
    const taskId = randomUUID();
    const record = `test:audit-record:{${taskId}}`;
    await redis.hset(record, 'tenantId', t, 'agentId', 'agent-from-record', 'metadata', JSON.stringify({ promptSnippet: 'summarise the report', userId: 'usr-1' }));
    // The shape of a phase-2 transition script: check, change, audit — or refuse and void.
    const script = new LuaScript(`${AUDIT_LUA}
if ARGV[1] ~= 'go' then audit_void(KEYS[2], 2) return 0 end
redis.call('HSET', KEYS[1], 'status', 'done')
audit_append(KEYS[2], 2, KEYS[1])
return 1`);
    const refused = producer.stamp({ tenant: t, taskId, action: 'task.finished', outcome: 'success' });
    assert.equal(await script.run(redis, [record, refused.key], ['no', ...refused.fields]), 0);
    // The draft claims another tenant, agent and prompt: the record's values win.
    const done = producer.stamp({ tenant: 'someone-else', agentId: 'forged', promptSnippet: 'forged', taskId, action: 'task.finished', outcome: 'success' });
    assert.equal(await script.run(redis, [record, done.key], ['go', ...done.fields]), 1);
    await tickUntil(s, () => s.logSize(`tenants/${t}`) === 1);
    await s.commit();
    const [entry] = sealedEntries(fx.logDir(t));
    assert.equal(entry?.tenant, t);
    assert.equal(entry?.agentId, 'agent-from-record');
    assert.equal(entry?.promptSnippet, 'summarise the report');
    assert.equal(entry?.userId, 'usr-1');
    assert.deepEqual(entry?.producer, { id: producer.id, counter: 2 });
    // Counter 1 was voided, not lost: no gap for this producer.
    assert.equal(sealedEntries(fx.logDir()).filter((e) => e.details?.['producer'] === producer.id).length, 0);
    assert.equal(sealedEntries(fx.logDir('someone-else')).length, 0);
    await redis.del(record);
    await s.close();
  });

  test('an invalid or secret-bearing entry is sealed as audit_invalid (with a hash), never as itself', async () => {
    const fx = await auditFixture();
    const s = inProcessSealer(redis, fx);
    const t = tenant();
    const key = auditStreamKey(auditShard(t));
    const secret = `ak_${'a'.repeat(24)}_${'S'.repeat(43)}`;
    const pid = `p_${randomUUID().replace(/-/g, '').slice(0, 16)}`;
    await redis.xadd(key, '*', 'p', pid, 'n', '1', 'e', '{not json');
    const leaky = { time: new Date().toISOString(), tenant: t, action: 'test.leak', outcome: 'success', details: { note: secret } };
    await redis.xadd(key, '*', 'p', pid, 'n', '2', 'e', JSON.stringify(leaky));
    await redis.xadd(key, '*', 'e', JSON.stringify({ ...leaky, details: {} }));
    await tickUntil(s, () => s.logSize('system') >= 3);
    await s.commit();
    const invalid = sealedEntries(fx.logDir()).filter((e) => e.action === 'audit_invalid' && (e.details?.['producer'] === pid || e.details?.['shard'] === auditShard(t)));
    const reasons = invalid.map((e) => e.details?.['reason']);
    assert.ok(reasons.includes('entry is not JSON'));
    assert.ok(reasons.includes('entry may carry a secret'));
    assert.ok(reasons.includes('missing or malformed producer stamp (p, n)'));
    assert.ok(invalid.every((e) => typeof e.details?.['sha256'] === 'string'));
    assert.equal(sealedEntries(fx.logDir(t)).length, 0);
    assert.equal(readFileSync(path.join(fx.logDir(), segmentName(1)), 'utf8').includes(secret), false);
    await s.close();
  });

  test('a restart resumes from the committed state: uncommitted bytes are cut and resealed once; a shortened log is refused', async () => {
    const fx = await auditFixture();
    const producer = new AuditProducer({ redis });
    const t = tenant();
    const logId = `tenants/${t}`;
    const s1 = inProcessSealer(redis, fx, { trim: false });
    for (let i = 1; i <= 5; i++) await producer.append({ tenant: t, action: 'test.step', outcome: 'success', details: { i } });
    await tickUntil(s1, () => s1.logSize(logId) === 5);
    await s1.commit();
    for (let i = 6; i <= 8; i++) await producer.append({ tenant: t, action: 'test.step', outcome: 'success', details: { i } });
    await tickUntil(s1, () => s1.logSize(logId) === 8);
    // The crash: entries 6..8 were read but never committed; bytes written after the last
    // commit (what a sync before the state write leaves behind) are on disk too.
    const seg = path.join(fx.logDir(t), segmentName(1));
    const committedBytes = statSync(seg).size;
    appendFileSync(seg, `${readFileSync(seg, 'utf8').split('\n')[0]}\n`);
    appendFileSync(path.join(fx.logDir(t), LAYOUT.leaves), Buffer.alloc(32, 7));
    const s2 = inProcessSealer(redis, fx, { trim: false });
    await tickUntil(s2, () => s2.logSize(logId) === 8);
    await s2.commit();
    s2.checkpoint();
    assert.deepEqual(sealedEntries(fx.logDir(t)).map((e) => [e.seq, e.details?.['i']]), Array.from({ length: 8 }, (_, k) => [k + 1, k + 1]));
    assert.equal(verify(fx, t).ok, true);
    await s2.close();
    // A log shorter than what was committed is not "recovered": the sealer refuses to start.
    truncateSync(seg, committedBytes - 10);
    assert.throws(() => inProcessSealer(redis, fx), /tampered or lost/);
  });
});
