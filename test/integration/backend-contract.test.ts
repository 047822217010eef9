/**
 * The RunnerBackend contract (runner/backends/types.ts), one shared suite run against both real
 * backends: IsolateBackend with a real IsolateHostPool (2 child processes running isolated-vm)
 * and DockerBackend (python) on the real Docker engine with the real sandbox image. Nothing is
 * mocked. Only the programs and the expected code-error code differ: a thrown error is
 * `runtime_error` in an isolate but `nonzero_exit` for a container program (which just exits 1) —
 * a documented difference (docs/errors.md).
 *
 * The Docker half needs an engine: with CI=true its absence fails; locally too, unless
 * AIRLOCK_SKIP_DOCKER=1 (the skip prints its reason).
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { ErrorCode } from '../../protocol/errors.ts';
import type { Limits, Runtime } from '../../protocol/task.ts';
import { DockerBackend } from '../../runner/backends/docker.ts';
import { IsolateBackend } from '../../runner/backends/isolate.ts';
import type { RunnerBackend } from '../../runner/backends/types.ts';
import { IsolateHostPool } from '../../runner/isolate-host/host-pool.ts';
import { docker, dockerGate, job, recordingSink, removeContainersOf } from '../helpers/docker.ts';
import { session } from '../helpers/session.ts';

interface ContractPrograms {
  runtime: Runtime;
  /** Prints "hi" on stdout; in isolates also evaluates to 42. */
  success: { code: string; value: unknown };
  /** Prints "oops" on stderr. */
  stderr: string;
  /** Never ends on its own. */
  forever: string;
  /** Prints "up" (flushed), then never ends. */
  announcedForever: string;
  /** Writes to stdout without end. */
  flood: string;
  /** Uses far more than `memoryMb`. */
  memoryHog: { code: string; memoryMb: number };
  /** Fails with an error. */
  codeError: { code: string; expected: ErrorCode };
  /** Prints "fresh" unless something from an earlier run is still there, then marks the sandbox. */
  freshness: string;
}

const never = new AbortController().signal;

function runBackendContract(
  name: string,
  skip: string | false,
  newBackend: () => Promise<RunnerBackend>,
  p: ContractPrograms,
) {
  describe(`RunnerBackend contract: ${name}`, { skip }, () => {
    let backend: RunnerBackend;
    const run = (code: string, limits: Partial<Limits> = {}, signal = never) =>
      backend.execute(job(p.runtime, code, { limits }), session(signal, recordingSink()));

    before(async () => {
      backend = await newBackend();
    });
    after(async () => {
      await backend?.dispose();
    });

    test('success: value and stdout', async () => {
      const sink = recordingSink();
      const r = await backend.execute(job(p.runtime, p.success.code), session(never, sink));
      assert.equal(r.status, 'succeeded', JSON.stringify(r.error));
      assert.equal(r.error, undefined);
      assert.deepEqual(r.result.value, p.success.value);
      assert.equal(r.result.stdout, 'hi\n');
      assert.equal(sink.out.stdout, 'hi\n', 'streamed to the sink');
      assert.ok(r.usage.wallMs >= 0 && r.usage.cpuMs >= 0);
    });
    test('stderr', async () => {
      const r = await run(p.stderr);
      assert.equal(r.status, 'succeeded');
      assert.equal(r.result.stderr, 'oops\n');
    });
    test('timeout', async () => {
      const t0 = performance.now();
      const r = await run(p.forever, { timeoutMs: 500 });
      assert.equal(r.status, 'timed_out');
      assert.equal(r.error?.code, 'timeout');
      assert.ok(performance.now() - t0 < 5000);
    });
    test('cancel resolves `cancelled` promptly', async () => {
      const ac = new AbortController();
      // Aborted once the program runs (its first output), not after a guessed delay.
      let t0 = 0;
      const sink = recordingSink(() => {
        t0 = performance.now();
        ac.abort();
      });
      const r = await backend.execute(job(p.runtime, p.announcedForever, { limits: { timeoutMs: 20_000 } }), session(ac.signal, sink));
      const ms = performance.now() - t0;
      assert.equal(sink.out.stdout, 'up\n', 'aborted after the program started');
      assert.equal(r.status, 'cancelled');
      assert.equal(r.error?.code, 'cancelled');
      console.log(`  ${name}: cancel resolved ${ms.toFixed(0)} ms after abort`);
      assert.ok(ms < 1000, `cancel took ${ms} ms`);
    });
    test('already aborted: cancelled without running', async () => {
      const ac = new AbortController();
      ac.abort();
      const r = await run(p.success.code, {}, ac.signal);
      assert.equal(r.status, 'cancelled');
    });
    test('output_limit: truncated to exactly the limit', async () => {
      const r = await run(p.flood, { outputBytes: 10_000 });
      assert.equal(r.status, 'failed');
      assert.equal(r.error?.code, 'output_limit');
      assert.equal(r.result.stdoutTruncated, true);
      assert.equal(Buffer.byteLength(r.result.stdout), 10_000);
    });
    test('memory_limit', async () => {
      const r = await run(p.memoryHog.code, { memoryMb: p.memoryHog.memoryMb });
      assert.equal(r.status, 'failed');
      assert.equal(r.error?.code, 'memory_limit', r.error?.message);
    });
    test(`code error → ${p.codeError.expected}`, async () => {
      const r = await run(p.codeError.code);
      assert.equal(r.status, 'failed');
      assert.equal(r.error?.code, p.codeError.expected);
      assert.match(`${r.error?.message}\n${r.result.stderr}`, /boom/);
    });
    test('nothing is reused between runs', async () => {
      for (let i = 0; i < 3; i++)
        assert.equal((await run(p.freshness)).result.stdout, 'fresh\n', `run ${i}`);
    });
    test('dispose is idempotent; afterwards execute throws (an infrastructure fault)', async () => {
      const other = await newBackend();
      await other.dispose();
      await other.dispose();
      await assert.rejects(other.execute(job(p.runtime, p.success.code), session(never, recordingSink())));
    });
  });
}

runBackendContract(
  'IsolateBackend (IsolateHostPool size 2)',
  false,
  async () => {
    const pool = new IsolateHostPool({ size: 2 });
    await pool.ready();
    return new IsolateBackend({ pool });
  },
  {
    runtime: 'javascript',
    success: { code: 'console.log("hi"); 42', value: 42 },
    stderr: 'console.error("oops")',
    forever: 'while (true) {}',
    announcedForever: 'console.log("up"); while (true) {}',
    flood: 'while (true) console.log("flood".repeat(100));',
    memoryHog: {
      code: 'const a = []; while (true) a.push(new Array(1e5).fill(1.5));',
      memoryMb: 16,
    },
    codeError: { code: 'throw new TypeError("boom")', expected: 'runtime_error' },
    freshness:
      'console.log(globalThis.__mark ?? "fresh"); globalThis.__mark = "used"; Array.prototype.__mark = 1;',
  },
);

const dockerSkip = await dockerGate();
// One runner id per backend: a backend removes every container of its id at creation.
const runnerIds: string[] = [];
after(async () => {
  for (const id of runnerIds) await removeContainersOf(id);
});
runBackendContract(
  'DockerBackend (python)',
  dockerSkip,
  () => {
    const runnerId = `test-contract-${randomUUID()}`;
    runnerIds.push(runnerId);
    return DockerBackend.create({
      docker,
      runnerId,
      installationId: `test-contract-${randomUUID()}`,
      stagingRoot: `/tmp/airlock-test-staging-${runnerId}`,
      poolSize: 1,
    });
  },
  {
    runtime: 'python',
    success: { code: 'print("hi")', value: null },
    stderr: 'import sys\nprint("oops", file=sys.stderr)',
    forever: 'while True:\n    pass',
    announcedForever: 'print("up", flush=True)\nwhile True:\n    pass',
    flood: 'while True:\n    print("flood" * 100)',
    memoryHog: { code: 'b = b"x" * (400 * 1024 * 1024)', memoryMb: 64 },
    codeError: { code: 'raise ValueError("boom")', expected: 'nonzero_exit' },
    freshness:
      'import os\nprint("used" if os.path.exists("/tmp/mark") else "fresh")\nopen("/tmp/mark", "w").write("1")',
  },
);
