/**
 * The call records of two tasks never share a key, also when their ids fall in the same audit
 * shard (task keys carry the shard's hash tag: a key made of the tag alone was shared by every
 * task of the shard, and one task's settled call was replayed to another).
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import { callRecordsKey } from '../../harness/broker/call-records.ts';
import { auditShard, redisKeys } from '../../protocol/redis-keys.ts';

test('tasks of one shard have their own call records, in their task slot', () => {
  const a = randomUUID();
  let b = randomUUID();
  while (auditShard(b) !== auditShard(a)) b = randomUUID();
  assert.notEqual(callRecordsKey(a), callRecordsKey(b));
  const tag = (key: string) => /\{[^}]*\}/.exec(key)?.[0];
  assert.equal(tag(callRecordsKey(a)), tag(redisKeys.task(a)), 'same cluster slot as the task record');
  assert.ok(callRecordsKey(a).endsWith(a));
});
