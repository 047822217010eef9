import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InFlight } from '../../harness/broker/in-flight.ts';

test('drain waits for the work tracked, failed or not, and forgets what settled', async () => {
  const inFlight = new InFlight();
  const done: string[] = [];
  let finish!: () => void;
  inFlight.track(new Promise<void>((r) => (finish = r)).then(() => done.push('slow')));
  inFlight.track(Promise.reject(new Error('settle failed')).catch(() => done.push('failed')));
  assert.equal(inFlight.size, 2);
  const drained = inFlight.drain().then(() => done.push('drained'));
  await new Promise((r) => setTimeout(r, 20));
  assert.deepEqual(done, ['failed'], 'drain is still waiting for the slow one');
  finish();
  await drained;
  assert.deepEqual(done, ['failed', 'slow', 'drained']);
  assert.equal(inFlight.size, 0);
});

test('drain gives up after its timeout', async () => {
  const inFlight = new InFlight();
  inFlight.track(new Promise(() => {}));
  const t0 = performance.now();
  await inFlight.drain(50);
  assert.ok(performance.now() - t0 >= 45);
  assert.equal(inFlight.size, 1);
});

test('drain with nothing in flight resolves at once', async () => {
  await new InFlight().drain(10_000);
});
