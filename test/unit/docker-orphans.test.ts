/** When a runner counts as gone (its containers are then other runners' to remove). Pure. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { runnerGone } from '../../runner/backends/docker-orphans.ts';

describe('runnerGone', () => {
  const now = 1_000_000;
  test('a heartbeat decides: fresh → alive, older than goneAfterMs → gone', () => {
    assert.equal(runnerGone(now - 1000, undefined, now, 30_000), false);
    assert.equal(runnerGone(now - 30_000, undefined, now, 30_000), false);
    assert.equal(runnerGone(now - 30_001, undefined, now, 30_000), true);
    // Seen missing before does not matter once it beats again.
    assert.equal(runnerGone(now - 1000, now - 60_000, now, 30_000), false);
  });
  test('no heartbeat at all: gone only once it has been missing for goneAfterMs', () => {
    assert.equal(runnerGone(undefined, undefined, now, 30_000), false, 'never seen missing before');
    assert.equal(runnerGone(undefined, now, now, 30_000), false, 'just noticed');
    assert.equal(runnerGone(undefined, now - 30_001, now, 30_000), true);
  });
});
