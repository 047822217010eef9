/**
 * The blob store of /out files (protocol/blobs/): the harness serves a file only if the stored
 * bytes are the ones the task's record lists (a writer of the store cannot swap a file, not even
 * for another task's real file), and the sweeper deletes exactly the blobs whose task expired.
 * Real harness, real Redis, a real directory; the runner's part is played through the real
 * TaskStore and FsBlobStore (helpers/owasp-fixtures.ts finishTaskWithFile).
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { copyFile, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { sweepBlobs } from '../../protocol/blobs/blob-sweeper.ts';
import { FsBlobStore } from '../../protocol/blobs/fs-blob-store.ts';
import { TaskStore } from '../../protocol/task-store.ts';
import { redisKeys } from '../../protocol/redis-keys.ts';
import { finishTaskWithFile } from '../helpers/owasp-fixtures.ts';
import { REDIS_URL, startStack, type Stack } from '../helpers/stack.ts';
import { queuedTaskRecord } from '../helpers/task-record.ts';

const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');
const blobPath = (root: string, taskId: string, digest: string) =>
  path.join(root, 'tasks', Buffer.from(taskId).toString('base64url'), digest);

describe('serving /out files', () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack({ runner: false });
  });
  after(async () => {
    await stack.close();
  });

  async function taskWithFile(agent: 'alice' | 'eve', content: string): Promise<string> {
    const res = await stack.app.inject({
      method: 'POST',
      url: '/v1/tasks',
      headers: stack.headers(agent),
      payload: { runtime: 'python', code: 'pass' },
    });
    assert.equal(res.statusCode, 201, res.body);
    const id = res.json().id as string;
    await finishTaskWithFile(stack, id, 'done\n', { path: 'report.txt', content });
    return id;
  }
  const get = (id: string, agent: 'alice' | 'eve' = 'alice') =>
    stack.app.inject({ method: 'GET', url: `/v1/tasks/${id}/files/report.txt`, headers: stack.headers(agent, null) });

  test('the listed bytes are served; other bytes in their place are refused, never served', async () => {
    const id = await taskWithFile('alice', 'the real report');
    const ok = await get(id);
    assert.equal(ok.statusCode, 200);
    assert.equal(ok.body, 'the real report');

    // Same size, other bytes: what a compromised runner (or anything that can write the store) would plant.
    await writeFile(blobPath(stack.blobDir, id, sha256('the real report')), 'the fake report');
    const forged = await get(id);
    assert.equal(forged.statusCode, 500);
    assert.equal(forged.json().code, 'internal');
    assert.ok(!forged.body.includes('fake'), 'the planted bytes are not served');
  });

  test("another task's real file copied into place is refused too", async () => {
    const victim = await taskWithFile('eve', 'eve secret');
    const id = await taskWithFile('alice', 'alice data');
    await copyFile(blobPath(stack.blobDir, victim, sha256('eve secret')), blobPath(stack.blobDir, id, sha256('alice data')));
    const res = await get(id);
    assert.equal(res.statusCode, 500);
    assert.ok(!res.body.includes('eve secret'));
    assert.equal((await get(victim, 'eve')).body, 'eve secret', 'the victim is untouched');
  });

  test('a listed file whose blob is missing is a 404 problem', async () => {
    const id = await taskWithFile('alice', 'gone soon');
    await rm(path.dirname(blobPath(stack.blobDir, id, sha256('gone soon'))), { recursive: true });
    const res = await get(id);
    assert.equal(res.statusCode, 404);
    assert.equal(res.json().code, 'not_found');
  });
});

describe('sweeping blobs of expired tasks', () => {
  const redis = new Redis(REDIS_URL);
  const store = new TaskStore({ redis, retentionMs: 60_000 });
  let root: string;
  let blobs: FsBlobStore;
  before(async () => {
    root = await mkdtemp(path.join(tmpdir(), 'airlock-blobs-'));
    blobs = new FsBlobStore(root);
    await blobs.init();
  });
  after(async () => {
    redis.disconnect();
    await rm(root, { recursive: true, force: true });
  });

  test('blobs go exactly when their task record is gone', async () => {
    const live = queuedTaskRecord();
    await store.create(live);
    const gone = queuedTaskRecord(); // never stored: as if expired
    const a = await blobs.put(live.id, Buffer.from('kept'));
    await blobs.put(gone.id, Buffer.from('garbage'));
    assert.deepEqual(await sweepBlobs({ blobs, redis, minAgeMs: 0 }), [gone.id]);
    assert.equal((await blobs.get(live.id, a.sha256))?.toString(), 'kept');
    assert.equal(await blobs.get(gone.id, sha256('garbage')), null);

    await redis.del(redisKeys.task(live.id)); // the record expires
    assert.deepEqual(await sweepBlobs({ blobs, redis, minAgeMs: 0 }), [live.id]);
    assert.deepEqual(await readdir(path.join(root, 'tasks')), []);
  });

  test('blobs younger than the margin are left alone', async () => {
    const fresh = queuedTaskRecord();
    await blobs.put(fresh.id, Buffer.from('just written'));
    assert.deepEqual(await sweepBlobs({ blobs, redis, minAgeMs: 60_000 }), []);
    assert.equal((await blobs.get(fresh.id, sha256('just written')))?.toString(), 'just written');
    await blobs.deleteTask(fresh.id);
  });

  test('a task id is one path segment inside the store, whatever it contains', async () => {
    const id = '../../../etc/x';
    const { sha256: digest } = await blobs.put(id, Buffer.from('contained'));
    assert.equal((await blobs.get(id, digest))?.toString(), 'contained');
    const ids: string[] = [];
    for await (const t of blobs.tasks()) ids.push(t.taskId);
    assert.deepEqual(ids, [id]);
    assert.equal(await blobs.get(id, '../../../etc/passwd'), null, 'a blob name is a SHA-256 or nothing');
    await blobs.deleteTask(id);
  });
});
