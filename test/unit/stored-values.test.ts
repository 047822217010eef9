/**
 * The broker's memory of stored values (harness/broker/stored-values.ts): what a task's next call
 * is decided on before its claim script checks it. It must stay bounded however large the values
 * (a definition's schemas can take 64 KiB each) and drop the least recently used first; "nothing
 * stored there" is remembered too (it is a value the claim checks), distinct from "not held".
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checked, StoredValuesMemory } from '../../harness/broker/stored-values.ts';

const at = (n: number) => ({ key: `k${n}`, field: `f${n}` });

test('bounded by the characters held, least recently used dropped first', () => {
  const memory = new StoredValuesMemory(64 * 100);
  for (let i = 0; i < 100; i++) memory.remember(at(i), 'x'.repeat(90));
  assert.ok(memory.chars <= 64 * 100, `holds ${memory.chars}`);
  assert.equal(memory.get(at(99)), 'x'.repeat(90), 'the newest is held');
  assert.equal(memory.get(at(0)), undefined, 'the oldest was dropped');
  // A value used lately survives the next ones.
  const kept = [...Array(100).keys()].find((i) => memory.get(at(i)) !== undefined) as number;
  assert.equal(memory.get(at(kept)), 'x'.repeat(90));
  for (let i = 100; i < 120; i++) memory.remember(at(i), 'y'.repeat(90));
  assert.equal(memory.get(at(kept)), 'x'.repeat(90), 'used, so not the first dropped');
});

test('a value too large to keep is not held (and replaces nothing stale)', () => {
  const memory = new StoredValuesMemory(6400);
  memory.remember(at(1), 'small');
  memory.remember(at(1), 'z'.repeat(200));
  assert.equal(memory.get(at(1)), undefined, 'neither the large value nor the stale one');
  assert.equal(memory.chars, 0);
});

test('"nothing stored" is remembered as null, and checked as "-"', () => {
  const memory = new StoredValuesMemory();
  assert.equal(memory.get(at(1)), undefined);
  memory.remember(at(1), null);
  assert.equal(memory.get(at(1)), null);
  assert.equal(checked(at(1), null).sha1, '-');
  // What Lua's redis.sha1hex gives for the same bytes.
  assert.equal(checked(at(1), 'abc').sha1, 'a9993e364706816aba3e25717850c26c9cd0d89d');
  // A string key and a hash field with the same name are different places.
  memory.remember({ key: 'k1\u0000f1', field: null }, 'other');
  assert.equal(memory.get(at(1)), null);
});

test('a value is parsed once while it is held; a new value is parsed anew', () => {
  const memory = new StoredValuesMemory();
  let parses = 0;
  const parse = (raw: string) => {
    parses++;
    return JSON.parse(raw) as { v: number };
  };
  memory.remember(at(1), '{"v":1}');
  assert.equal(memory.parsed(at(1), '{"v":1}', parse).v, 1);
  assert.equal(memory.parsed(at(1), '{"v":1}', parse).v, 1);
  assert.equal(parses, 1);
  memory.remember(at(1), '{"v":2}');
  assert.equal(memory.parsed(at(1), '{"v":2}', parse).v, 2, 'not the parse of the value held before');
  // A raw value other than the one held is parsed, never answered from the held one.
  assert.equal(memory.parsed(at(1), '{"v":3}', parse).v, 3);
  assert.equal(parses, 3);
});
