/**
 * No grant change on the host without an audit entry: a succeeded task's rw grant changes are
 * announced (`task.grants.applying`, written by the runner's task store) after they were diffed
 * and before the first is written; when that entry cannot be written nothing is applied. Real
 * isolated-vm host processes, real temp directories, real Redis (the stream is broken for real:
 * the key holds a string, so XADD fails).
 */
import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { mkdtemp, readFile, readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { AuditProducer, isAuditUnavailable } from '../../protocol/audit/producer.ts';
import { auditShard, auditStreamKey, redisKeys } from '../../protocol/redis-keys.ts';
import type { FileChange, ResolvedMount } from '../../protocol/task.ts';
import { TaskStore } from '../../protocol/task-store.ts';
import { IsolateBackend } from '../../runner/backends/isolate.ts';
import { IsolateHostPool } from '../../runner/isolate-host/host-pool.ts';
import { createRunSession } from '../../runner/run-session.ts';
import { REDIS_URL } from '../helpers/stack.ts';

let base: string;
let backend: IsolateBackend;
let redis: Redis;
let store: TaskStore;

before(async () => {
  base = await mkdtemp(path.join(tmpdir(), 'airlock-grant-plan-'));
  const pool = new IsolateHostPool({ size: 1 });
  await pool.ready();
  backend = new IsolateBackend({ pool, stagingRoot: path.join(base, 'staging') });
  redis = new Redis(REDIS_URL);
  store = new TaskStore({ redis, retentionMs: 60_000, audit: new AuditProducer({ redis }) });
});
after(async () => {
  await backend.dispose();
  redis.disconnect();
});

async function grantDir(): Promise<string> {
  const dir = await mkdtemp(path.join(base, 'grant-'));
  await writeFile(path.join(dir, 'notes.txt'), 'old');
  return dir;
}

async function manifest(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const name of await readdir(dir)) out[name] = createHash('sha256').update(await readFile(path.join(dir, name))).digest('hex');
  return out;
}

const CODE = 'await fs.write("/mnt/g/notes.txt", "new"); await fs.write("/mnt/g/added.txt", "added"); 1';

function runWith(dir: string, taskId: string, beforeGrantApply: (planned: readonly FileChange[]) => Promise<void>) {
  const mount: ResolvedMount = { grant: 'g', hostPath: dir, path: '/mnt/g', mode: 'rw', maxBytes: 1 << 20 };
  return backend.execute(
    {
      version: 'v1', taskId, tenantId: 'acme', agentId: 'alice', runtime: 'javascript', code: CODE,
      limits: { timeoutMs: 5000, cpuMs: 5000, memoryMb: 64, outputBytes: 1 << 20 }, mounts: [mount],
    },
    createRunSession({ signal: new AbortController().signal, timeoutMs: 5000, output: () => {}, beforeGrantApply }),
  );
}

describe('the runner announces grant changes before it applies them', () => {
  test('the hook sees every planned change while the host directory is still untouched', async () => {
    const dir = await grantDir();
    const untouched = await manifest(dir);
    let planned: readonly FileChange[] = [];
    let seenOnDisk: Record<string, string> = {};
    const result = await runWith(dir, randomUUID(), async (p) => {
      planned = p;
      seenOnDisk = await manifest(dir);
    });
    assert.equal(result.status, 'succeeded', JSON.stringify(result.error));
    assert.deepEqual(seenOnDisk, untouched, 'nothing was written before the announcement');
    assert.deepEqual(planned.map((c) => [c.path, c.change]).sort(), [['added.txt', 'created'], ['notes.txt', 'modified']].sort());
    assert.deepEqual(result.result.changes, planned, 'what was announced is what was applied');
    assert.equal(await readFile(path.join(dir, 'notes.txt'), 'utf8'), 'new');
  });

  test('a hook that rejects (the audit cannot be written) applies nothing', async () => {
    const dir = await grantDir();
    const untouched = await manifest(dir);
    await assert.rejects(runWith(dir, randomUUID(), () => Promise.reject(new Error('audit down'))), /audit down/);
    assert.deepEqual(await manifest(dir), untouched);
  });
});

describe('TaskStore.recordGrantPlan', () => {
  async function runningTask(): Promise<string> {
    const id = randomUUID();
    await store.create({
      id, tenantId: 'acme', agentId: 'alice', status: 'queued', runtime: 'javascript', createdAt: new Date().toISOString(),
      limits: { timeoutMs: 1000, cpuMs: 1000, memoryMb: 64, outputBytes: 1024 }, metadata: { promptSnippet: 'grant plan' }, attempts: 0,
    });
    return id;
  }
  const planned: FileChange[] = [{ grant: 'g', path: 'notes.txt', change: 'modified', sha256: 'a'.repeat(64), size: 3 }];

  test('appends task.grants.applying with the changes, in the task tenant log', async () => {
    const id = await runningTask();
    await store.recordGrantPlan(id, planned);
    const rows = await redis.xrange(auditStreamKey(auditShard(id)), '-', '+');
    const row = rows.map(([, f]) => f).find((f) => f.join(' ').includes('task.grants.applying') && f.join(' ').includes(id));
    assert.ok(row, 'the entry is on the task shard');
    const fields = new Map<string, string>();
    for (let i = 0; i + 1 < row.length; i += 2) fields.set(row[i] as string, row[i + 1] as string);
    assert.equal(fields.get('mt'), 'acme', 'the tenant comes from the task record');
    const draft = JSON.parse(fields.get('e') as string) as { details: Record<string, unknown> };
    assert.deepEqual(draft.details['grantChanges'], [{ grant: 'g', path: 'notes.txt', change: 'modified', sha256: 'a'.repeat(64) }]);
    assert.equal(draft.details['grantChangeCount'], 1);
  });

  test('rejects (audit unavailable) when the stream cannot be written', async () => {
    const id = await runningTask();
    const key = auditStreamKey(auditShard(id));
    const saved = await redis.xrange(key, '-', '+');
    await redis.del(key);
    await redis.set(key, 'not a stream');
    try {
      await assert.rejects(store.recordGrantPlan(id, planned), (err: unknown) => isAuditUnavailable(err));
    } finally {
      await redis.del(key);
      for (const [, f] of saved) await redis.xadd(key, '*', ...f);
    }
    assert.equal(await redis.exists(redisKeys.task(id)), 1);
  });
});
