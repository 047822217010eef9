/**
 * Pure parts of harness/ratelimit: request classes, quota resolution, header serialization
 * (checked by parsing back with an RFC 9651 parser) and Retry-After. No Redis, no app.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseList } from 'structured-headers';
import {
  partitionKey,
  rateLimitHeader,
  rateLimitPolicyHeader,
  retryAfterSeconds,
  type PolicyState,
} from '../../harness/ratelimit/headers.ts';
import { QuotaOverrideSchema, classify, resolveQuotas } from '../../harness/ratelimit/policies.ts';

const DEFAULTS = { readsPerMin: 100, writesPerMin: 60, taskCreatesPerMin: 10, concurrentTasks: 4 };

describe('classify', () => {
  test('GET/HEAD read, POST /v1/tasks creates a task, everything else writes', () => {
    assert.equal(classify('GET', '/v1/tasks'), 'read');
    assert.equal(classify('HEAD', '/v1/tasks/:id'), 'read');
    assert.equal(classify('POST', '/v1/tasks'), 'task-create');
    assert.equal(classify('POST', '/v1/tokens'), 'write');
    assert.equal(classify('DELETE', '/v1/tasks/:id'), 'write');
    assert.equal(classify('PUT', '/v1/admin/limits'), 'write');
  });
});

describe('resolveQuotas', () => {
  test('the most specific override wins field by field', () => {
    assert.deepEqual(resolveQuotas(DEFAULTS, { readsPerMin: 5, writesPerMin: 7 }, null, { readsPerMin: 2 }), {
      ...DEFAULTS,
      readsPerMin: 2,
      writesPerMin: 7,
    });
    assert.deepEqual(resolveQuotas(DEFAULTS), DEFAULTS);
  });

  test('overrides reject unknown fields, negatives and fractions', () => {
    for (const bad of [{ reads: 1 }, { readsPerMin: -1 }, { readsPerMin: 0.5 }, { concurrentTasks: 1e9 }]) {
      assert.equal(QuotaOverrideSchema.safeParse(bad).success, false, JSON.stringify(bad));
    }
    assert.equal(QuotaOverrideSchema.safeParse({ readsPerMin: 0 }).success, true);
  });
});

describe('headers', () => {
  const pk = partitionKey('salt', 'agent', 'tenant-a', 'agent-1');
  const states: PolicyState[] = [
    { name: 'agent-reads', quota: 100, windowSeconds: 60, partitionKey: pk, remaining: 99, resetSeconds: 37 },
    { name: 'agent-concurrent-tasks', quota: 4, unit: 'concurrent-requests', partitionKey: pk, remaining: -1 },
  ];

  test('RateLimit-Policy serializes as an sf-list with q, qu, w, pk', () => {
    const header = rateLimitPolicyHeader(states);
    const [reads, conc] = parseList(header) as [[string, Map<string, unknown>], [string, Map<string, unknown>]];
    assert.equal(reads[0], 'agent-reads');
    assert.deepEqual([...reads[1].keys()], ['q', 'w', 'pk']);
    assert.equal(reads[1].get('q'), 100);
    assert.equal(reads[1].get('w'), 60);
    assert.deepEqual(Buffer.from(reads[1].get('pk') as ArrayBuffer), pk);
    assert.equal(conc[1].get('qu'), 'concurrent-requests');
    assert.equal(conc[1].has('w'), false);
  });

  test('RateLimit serializes r (never negative), t when there is a window, pk', () => {
    const [reads, conc] = parseList(rateLimitHeader(states)) as [[string, Map<string, unknown>], [string, Map<string, unknown>]];
    assert.deepEqual([...reads[1].keys()], ['r', 't', 'pk']);
    assert.equal(reads[1].get('r'), 99);
    assert.equal(reads[1].get('t'), 37);
    assert.equal(conc[1].get('r'), 0);
    assert.equal(conc[1].has('t'), false);
  });

  test('partition keys are 12-byte hashes that depend on every part and the salt', () => {
    assert.equal(pk.length, 12);
    assert.ok(!pk.toString('latin1').includes('tenant-a'));
    assert.notDeepEqual(partitionKey('salt', 'agent', 'tenant-a', 'agent-2'), pk);
    assert.notDeepEqual(partitionKey('other', 'agent', 'tenant-a', 'agent-1'), pk);
    // Parts are delimited: ("ab","c") and ("a","bc") are different partitions.
    assert.notDeepEqual(partitionKey('', 'ab', 'c'), partitionKey('', 'a', 'bc'));
  });

  test('Retry-After is never before the end of the longest violated window, jitter at most a tenth', () => {
    for (let i = 0; i < 200; i++) {
      const s = retryAfterSeconds([
        { ...states[0]!, resetSeconds: 12 },
        { ...states[0]!, resetSeconds: 40 },
      ]);
      assert.ok(s >= 40 && s <= 44, String(s));
    }
    assert.ok(retryAfterSeconds([states[1]!]) >= 1);
  });
});
