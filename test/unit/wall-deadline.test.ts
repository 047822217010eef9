/**
 * The runner's wall clock (runner/run-session.ts WallDeadline) on real timers: it stands still
 * while held (a call waiting for approval), holds nest, a release can date the end of the hold
 * back, and `whenElapsed` fires only once the time not held is used up. Nothing is faked.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { WallDeadline } from '../../runner/run-session.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * `value` lies in [low, high] (give or take float rounding). The tests bracket each reading with
 * performance.now() before and after the call they time, so a pause between two statements (GC,
 * the other test lane on a 2-core machine) widens the bracket instead of failing the test.
 */
function within(value: number, low: number, high: number, what: string): void {
  assert.ok(value >= low - 1e-6 && value <= high + 1e-6, `${what}: ${value} not in [${low}, ${high}]`);
}

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
  const releasing = performance.now();
  release();
  const released = performance.now();
  assert.equal(d.held, false);
  await sleep(50);
  const reading = performance.now();
  const after = d.remainingMs();
  const read = performance.now();
  within(after, frozen - (read - releasing), frozen - (reading - released), 'runs again from where it stood');
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
  const reading = performance.now();
  const left = d.remainingMs();
  const read = performance.now();
  within(left, frozen - 80 - (read - releasedAt), frozen - 80 - (reading - releasedAt), 'the last 80 ms of the hold counted');
});

async function until(done: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !done(); i++) await sleep(10);
}

test('whenElapsed fires after the time not held, never while held, and re-arms on changes', async () => {
  const d = new WallDeadline(150);
  const starting = performance.now();
  d.start();
  const started = performance.now();
  let firedAt = 0;
  d.whenElapsed(150, () => (firedAt = performance.now()));
  await sleep(50);
  const holding = performance.now();
  const release = d.hold();
  const held = performance.now();
  await sleep(300);
  assert.equal(firedAt, 0, 'did not fire while held (the time is long past on the wall)');
  const releasing = performance.now();
  release();
  const leftAtRelease = d.remainingMs();
  const read = performance.now();
  // 150 less the time run before the hold, less the time run since the release (the 50 ms sleep
  // itself may end a fraction of a millisecond early on the performance clock: CI saw 100.07 ms).
  within(leftAtRelease, 150 - (held - starting) - (read - releasing), 150 - (holding - started), 'left at the release');
  // (A 300 ms timer may fire a fraction of a millisecond early on the performance clock: CI saw it.)
  assert.ok(releasing - held >= 299, `held ${releasing - held} ms`);
  await until(() => firedAt > 0);
  assert.ok(firedAt > 0, 'fired after the release');
  // Never early: the time left, read after the release, was used up when it fired. (A timer that
  // fires a fraction of a millisecond early is re-armed, not taken for the deadline: CI saw
  // 0.38 ms left after the firing when it was.)
  assert.ok(firedAt >= releasing + leftAtRelease, `fired at ${firedAt}, before ${releasing} + ${leftAtRelease}`);
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
  assert.ok(firedAt - t0 >= 150, `not before 150 ms of running (${(firedAt - t0).toFixed(3)} ms)`);
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
  const releasing = performance.now();
  release();
  const released = performance.now();
  await sleep(20);
  const reading = performance.now();
  const left = d.remainingMs();
  const read = performance.now();
  within(left, 1000 - (read - releasing), 1000 - (reading - released), 'runs from the release');
});
