/**
 * Pure parts of the sealer: its config rules, the gap tracker (out-of-order arrivals within the
 * grace time are not gaps; late ones fill holes), stream id order, and the secret guard of the
 * entry builder. No services.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { AuditEntryError, buildAuditDraft } from '../../protocol/audit/entry.ts';
import { loadConfig } from '../../sealer/config.ts';
import { GapTracker } from '../../sealer/gap-tracker.ts';
import { compareStreamIds, nextStreamId } from '../../sealer/transport.ts';

describe('sealer config', () => {
  test('a signing key (value or file) is required, and the intervals are capped by the guarantees', () => {
    assert.throws(() => loadConfig({}), /AUDIT_SIGNING_KEY: set AUDIT_SIGNING_KEY/);
    assert.equal(loadConfig({ AUDIT_SIGNING_KEY_FILE: '/tmp/k' }).AUDIT_CHECKPOINT_MS, 10_000);
    assert.throws(() => loadConfig({ AUDIT_SIGNING_KEY_FILE: '/tmp/k', AUDIT_CHECKPOINT_MS: '10001' }), /AUDIT_CHECKPOINT_MS/);
    assert.throws(() => loadConfig({ AUDIT_SIGNING_KEY_FILE: '/tmp/k', AUDIT_FSYNC_MS: '1001' }), /AUDIT_FSYNC_MS/);
    assert.equal(loadConfig({ AUDIT_SIGNING_KEY_FILE: '/tmp/k', AUDIT_TRIM: 'false' }).AUDIT_TRIM, false);
  });
});

describe('gap tracker', () => {
  test('a hole is a gap only after the grace time, and a late arrival fills it', () => {
    const t = new GapTracker(1000);
    t.observe('p_a', 3, 1, 0);
    t.observe('p_a', 3, 4, 10); // 2 and 3 missing
    assert.deepEqual(t.takeDue(500), []);
    t.observe('p_a', 3, 2, 600); // arrives late
    assert.deepEqual(t.takeDue(1010), [{ producer: 'p_a', shard: 3, from: 3, to: 3 }]);
    assert.deepEqual(t.takeDue(5000), [], 'reported once');
  });

  test('a first counter above 1 is a gap (the producer started before entries were removed); shards are separate', () => {
    const t = new GapTracker(0, {});
    t.observe('p_b', 0, 5, 0);
    t.observe('p_b', 1, 1, 0);
    assert.deepEqual(t.takeDue(0), [{ producer: 'p_b', shard: 0, from: 1, to: 4 }]);
    const saved = t.toJson(0, 1000);
    const again = new GapTracker(0, saved);
    again.observe('p_b', 0, 7, 1);
    assert.deepEqual(again.takeDue(1), [{ producer: 'p_b', shard: 0, from: 6, to: 6 }]);
  });
});

describe('stream ids', () => {
  test('ordered numerically, and the next id is the smallest greater one', () => {
    assert.ok(compareStreamIds('9-5', '10-0') < 0);
    assert.ok(compareStreamIds('10-10', '10-9') > 0);
    assert.equal(nextStreamId('1700000000000-18446744073709551615'), '1700000000000-18446744073709551616');
    assert.equal(nextStreamId('5-0'), '5-1');
  });
});

describe('entry builder secret guard', () => {
  const base = { tenant: 'acme', action: 'token.minted', outcome: 'success' } as const;
  test('refuses secret-named fields and secret-shaped values anywhere; accepts ids', () => {
    for (const details of [
      { token: 'x' },
      { nested: { apiKey: 'x' } },
      { list: [{ password: 'x' }] },
      { note: `ak_${'0'.repeat(24)}_${'x'.repeat(43)}` },
      { note: 'eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJhIn0.sig' },
      { header: 'Bearer abcdefghijklmnop' },
      { pem: '-----BEGIN PRIVATE KEY-----\nMC4C' },
    ]) {
      assert.throws(() => buildAuditDraft({ ...base, details: details as unknown as Record<string, string> }), AuditEntryError, JSON.stringify(details));
    }
    const ok = buildAuditDraft({ ...base, jti: 'b1f0', keyId: 'a'.repeat(24), details: { tokenType: 'task+jwt', codeSha256: 'f'.repeat(64) } });
    assert.equal(ok.jti, 'b1f0');
    assert.throws(() => buildAuditDraft({ ...base, details: { big: 'x'.repeat(20_000) } }), /larger than/);
    assert.throws(() => buildAuditDraft({ ...base, action: 'Not An Action' }), /invalid audit entry/);
  });
});
