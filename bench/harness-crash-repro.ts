/**
 * The harness crash repro (harness/README.md, "Why the harness runs with
 * --no-turbo-inline-js-wasm-calls"):
 * the bench stack, then rounds of CONC concurrent `1+1` POST-with-wait tasks until ROUNDS are
 * done or the harness dies. Exits 1 if it died.
 *   node --no-node-snapshot --import tsx bench/harness-crash-repro.ts
 *   CONC=128 ROUNDS=250 VARY_TIMEOUT=1 BENCH_HARNESS_NODE_ARGS="--turbofan" …   (flags are added after ours)
 */
import { runTask } from './e2e.ts';
import { claimRedisDb, releaseRedisDb, startStack } from './stack.ts';

const CONC = Number(process.env['CONC'] ?? 128);
const ROUNDS = Number(process.env['ROUNDS'] ?? 250);
/**
 * VARY_TIMEOUT=1: each task asks for another timeout (the policy decision's context), so Cedar is
 * asked on every create instead of answering from the authorizer's remembered answers (1 024 of
 * them): the crash needs calls into cedar-wasm, which remembered answers make rare.
 */
const VARY_TIMEOUT = process.env['VARY_TIMEOUT'] === '1';

const redis = await claimRedisDb();
const stack = await startStack(redis, 2);
let done = 0;
let failed = 0;
let died = false;
try {
  for (let round = 0; round < ROUNDS && !died; round++) {
    const samples = await Promise.all(
      Array.from({ length: CONC }, (_, i) => runTask(stack, 60_000, VARY_TIMEOUT ? { timeoutMs: 10_000 + ((round * CONC + i) % 20_000) } : {})),
    );
    done += samples.length;
    failed += samples.filter((s) => !s.ok).length;
    died = !stack.harness.isAlive();
    if (round % 10 === 0 || died) process.stdout.write(`round ${round}: ${done} tasks, ${failed} failed\n`);
  }
  process.stdout.write(died ? `HARNESS DIED after ${done} tasks:\n${stack.harness.tail()}\n` : `${done} tasks, ${failed} failed, harness alive\n`);
} finally {
  await stack.stop();
  await releaseRedisDb(redis, [stack.queueName]);
}
process.exit(died ? 1 : 0);
