/**
 * Raw isolated-vm floor, run in its own child process (started with --no-node-snapshot, like an
 * isolate host). Modes (argv[2]):
 *   latency <warmup> <samples>  → sequential create+run+dispose timings, plus the same cycle done
 *                                 the way runner/isolate-host/host.ts does it (bootstrap closure)
 *   throughput <ms>             → after a 'go' message, loops create+run+dispose for <ms>
 * Results go back over IPC.
 */
import ivm from 'isolated-vm';
import { BOOTSTRAP_SOURCE } from '../runner/isolate-host/bootstrap.ts';

interface Phases {
  /** new Isolate + createContext */
  create: number;
  /** compileScript + run */
  run: number;
  dispose: number;
  total: number;
}

async function plainCycle(): Promise<Phases> {
  const t0 = performance.now();
  const isolate = new ivm.Isolate({ memoryLimit: 64 });
  const context = await isolate.createContext();
  const t1 = performance.now();
  const script = await isolate.compileScript('1+1');
  const value: unknown = await script.run(context);
  const t2 = performance.now();
  isolate.dispose();
  const t3 = performance.now();
  if (value !== 2) throw new Error(`isolate returned ${String(value)}`);
  return { create: t1 - t0, run: t2 - t1, dispose: t3 - t2, total: t3 - t0 };
}

const BOOTSTRAP_ARITY = Math.max(0, ...[...BOOTSTRAP_SOURCE.matchAll(/\$(\d+)\b/g)].map((m) => Number(m[1]) + 1));

/** The isolate host's cycle: prepare (isolate + context + bootstrap) then run via the bootstrap. */
async function hostCycle(): Promise<Phases> {
  const t0 = performance.now();
  const isolate = new ivm.Isolate({ memoryLimit: 64 });
  const context = await isolate.createContext();
  // One no-op callback per `$n` the bootstrap takes (it grows: output, fs, ...).
  const callbacks = Array.from({ length: BOOTSTRAP_ARITY }, () => new ivm.Callback(() => {}));
  const closure = (await context.evalClosure(BOOTSTRAP_SOURCE, callbacks, {
    result: { reference: true },
  })) as ivm.Reference<unknown[]> | ivm.Reference<(source: string) => string | Promise<string>>;
  // The bootstrap returns `run`, or (since the fs bridge) `[run, deliver]`.
  const run = (
    closure.typeof === 'function' ? closure : await (closure as ivm.Reference<unknown[]>).get(0, { reference: true })
  ) as ivm.Reference<(source: string) => string | Promise<string>>;
  const t1 = performance.now();
  const envelope = await run.apply(undefined, ['1+1\n//# sourceURL=task.js'], {
    arguments: { copy: true },
    result: { promise: true, copy: true },
    timeout: 30_000,
  });
  const t2 = performance.now();
  isolate.dispose();
  const t3 = performance.now();
  if (!String(envelope).startsWith('1')) throw new Error(`bootstrap run returned ${String(envelope)}`);
  return { create: t1 - t0, run: t2 - t1, dispose: t3 - t2, total: t3 - t0 };
}

function send(message: unknown): Promise<void> {
  return new Promise((resolve, reject) => {
    if (!process.send) return reject(new Error('isolate-child must be forked with an IPC channel'));
    process.send(message, (err: Error | null) => (err ? reject(err) : resolve()));
  });
}

async function latency(warmup: number, samples: number): Promise<void> {
  for (let i = 0; i < warmup; i++) await plainCycle();
  const plain: Phases[] = [];
  for (let i = 0; i < samples; i++) plain.push(await plainCycle());
  // The host's bootstrap changes with the runner; if this replica no longer fits it, say so
  // rather than fail the floors (the IsolateHostPool floor measures the real host anyway).
  let host: Phases[] | null = [];
  let hostError: string | null = null;
  try {
    for (let i = 0; i < warmup; i++) await hostCycle();
    for (let i = 0; i < samples; i++) host.push(await hostCycle());
  } catch (err) {
    host = null;
    hostError = err instanceof Error ? err.message : String(err);
  }
  await send({ type: 'latency', plain, host, hostError });
}

async function throughput(ms: number): Promise<void> {
  // Warm the code paths, then wait for the parent's 'go' so all children start together.
  for (let i = 0; i < 10; i++) await plainCycle();
  await send({ type: 'armed' });
  await new Promise<void>((resolve) => process.once('message', () => resolve()));
  const cpu0 = process.cpuUsage();
  const start = performance.now();
  const deadline = start + ms;
  let count = 0;
  while (performance.now() < deadline) {
    await plainCycle();
    count++;
  }
  const cpu = process.cpuUsage(cpu0);
  await send({ type: 'throughput', count, elapsedMs: performance.now() - start, cpuMs: (cpu.user + cpu.system) / 1000 });
}

const [mode, a, b] = process.argv.slice(2);
try {
  if (mode === 'latency') await latency(Number(a ?? 30), Number(b ?? 300));
  else if (mode === 'throughput') await throughput(Number(a ?? 5000));
  else throw new Error(`unknown mode ${String(mode)}`);
  process.disconnect?.();
} catch (err) {
  process.stderr.write(`isolate-child: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
}
