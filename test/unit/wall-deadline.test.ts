/**
 * The runner's wall clock (runner/run-session.ts WallDeadline) on real timers: it stands still
 * while held (a call waiting for approval), holds nest, a release can date the end of the hold
 * back, and `whenElapsed` fires only once the time not held is used up. Nothing is faked.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { WallDeadline } from '../../runner/run-session.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('remainingMs is frozen while held and runs again after the release', async () => {
  const d = new WallDeadline(1000);
  assert.equal(d.remainingMs(), 1000, 'not started: the whole time');
  d.start();
  await sleep(50);
  const release = d.hold();
  assert.equal(d.held, true);
  const frozen = d.remainingMs();
  // (A 50 ms timer may fire a fraction of a millisecond early on the performance clock.)
  assert.ok(frozen <= 960, `it ran while not held: ${frozen}`);
  await sleep(150);
  assert.equal(d.remainingMs(), frozen, 'frozen while held');
  release();
  const releasedAt = performance.now();
  assert.equal(d.held, false);
  await sleep(50);
  const after = d.remainingMs();
  const expected = frozen - (performance.now() - releasedAt);
  assert.ok(Math.abs(after - expected) < 2, `runs again from where it stood: ${after} vs ${expected}`);
});

test('holds nest; a release may date the end back; releasing twice is a no-op', async () => {
  const d = new WallDeadline(1000);
  d.start();
  const a = d.hold();
  const b = d.hold();
  const frozen = d.remainingMs();
  a();
  a();
  assert.equal(d.held, true, 'b still holds');
  await sleep(100);
  const releasedAt = performance.now();
  b(releasedAt - 80);
  // The last 80 ms of the hold counted; the rest of it did not.
  const left = d.remainingMs();
  const expected = frozen - 80 - (performance.now() - releasedAt);
  assert.ok(Math.abs(left - expected) < 2, `${left} vs ${expected}`);
});

async function until(done: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !done(); i++) await sleep(10);
}

test('whenElapsed fires after the time not held, never while held, and re-arms on changes', async () => {
  const d = new WallDeadline(150);
  d.start();
  const startedAt = performance.now();
  let firedAt = 0;
  d.whenElapsed(150, () => (firedAt = performance.now()));
  await sleep(50);
  const release = d.hold();
  const heldAt = performance.now();
  await sleep(300);
  assert.equal(firedAt, 0, 'did not fire while held (the time is long past on the wall)');
  release();
  const releasedAt = performance.now();
  const leftAtRelease = d.remainingMs();
  // 150 less the time run before the hold, as measured here: the 50 ms sleep itself may end a
  // fraction of a millisecond early on the performance clock (CI saw 100.07 ms left).
  const expectedLeft = 150 - (heldAt - startedAt);
  assert.ok(leftAtRelease > 0 && Math.abs(leftAtRelease - expectedLeft) < 2, `${leftAtRelease} left, expected about ${expectedLeft}`);
  // (A 300 ms timer may fire a fraction of a millisecond early on the performance clock: CI saw it.)
  assert.ok(releasedAt - heldAt >= 299, `held ${releasedAt - heldAt} ms`);
  await until(() => firedAt > 0);
  assert.ok(firedAt > 0, 'fired after the release');
  assert.ok(firedAt >= releasedAt + leftAtRelease - 1, 'not before the time left at the release was used up');
  assert.equal(d.remainingMs(), 0);
});

test('whenElapsed fires once, at the time asked; a cancelled one never', async () => {
  const d = new WallDeadline(50);
  const t0 = performance.now();
  d.start();
  let fired = 0;
  let firedAt = 0;
  d.whenElapsed(150, () => {
    fired++;
    firedAt = performance.now();
  });
  let cancelled = 0;
  const cancel = d.whenElapsed(50, () => cancelled++);
  cancel();
  await until(() => fired > 0);
  assert.equal(fired, 1);
  assert.ok(firedAt - t0 >= 149, `not before 150 ms of running (${(firedAt - t0).toFixed(0)} ms)`);
  d.hold()();
  await sleep(100);
  assert.equal(fired, 1, 'fires once');
  assert.equal(cancelled, 0, 'the cancelled one never');
});

test('a hold made before the clock starts: the clock starts held, and nothing runs backwards', async () => {
  const d = new WallDeadline(1000);
  const release = d.hold();
  await sleep(30);
  d.start();
  await sleep(30);
  assert.equal(d.remainingMs(), 1000, 'started while held: nothing counted yet');
  release();
  const releasedAt = performance.now();
  await sleep(20);
  const expected = 1000 - (performance.now() - releasedAt);
  assert.ok(Math.abs(d.remainingMs() - expected) < 2, `${d.remainingMs()} vs ${expected}`);
});
