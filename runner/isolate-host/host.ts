/**
 * Isolate host: a child process of the runner that runs one task at a time in a fresh V8 isolate.
 *
 * Why a separate process: a V8 out-of-memory or one huge allocation can abort the process that
 * hosts an isolate. Here that kills only this host; the runner sees the exit, reports the task
 * and starts a new host. The runner also enforces wall time and RSS from outside (host-pool.ts),
 * because limits inside the isolate are not airtight (isolated-vm README, SECURITY).
 *
 * Between tasks the host creates the next isolate and context ahead of demand, so a task only
 * pays for compiling and running its code. An isolate or context is never reused.
 */
import ivm from 'isolated-vm';
import type { ErrorCode } from '../../protocol/errors.ts';
import type { ExecuteResult, Limits, OutputStream } from '../../protocol/task.ts';
import { completeUtf8Length } from '../../protocol/utf8.ts';
import { BOOTSTRAP_SOURCE } from './bootstrap.ts';
import { FsBridge } from './fs-bridge.ts';
import { MAX_REQUEST_BODY_CHARS, ParentMessageSchema, type HostMessage, type RunMessage } from './messages.ts';
import { encodeReply, RequestChannel } from './request-channel.ts';

/**
 * Memory limit of the isolate prepared ahead of demand; other sizes are created on demand. The
 * pool passes it as the first argument (runner config ISOLATE_PREWARM_MEMORY_MB): the host's
 * environment is fixed and carries nothing of the runner's.
 */
const PREWARM_MEMORY_MB = Number(process.argv[2] ?? 64);
/** Least time between two looks at the isolate's CPU time (see `checkCpu`). */
const CPU_POLL_MS = 10;
/** Output is forwarded in batches of at most this age or size. */
const OUTPUT_FLUSH_MS = 10;
const OUTPUT_FLUSH_BYTES = 64 * 1024;
/** Name of the task's code in stack traces. */
const TASK_FILENAME = 'task.js';

type StopReason = 'timeout' | 'cpu' | 'output';

/** Per-run state the output callback writes into. */
interface RunState {
  limits: Limits | null;
  /** Where the isolate's requests go: `fs` (the task's grants) here, other channels to the runner. */
  channel: RequestChannel;
  /** Requests forwarded to the runner, awaiting its `reply`, by id. */
  forwarded: Map<number, (reply: string) => void>;
  bytes: { stdout: number; stderr: number };
  text: { stdout: string; stderr: string };
  truncated: { stdout: boolean; stderr: boolean };
  pending: { stream: OutputStream; data: string }[];
  pendingBytes: number;
  flushTimer: NodeJS.Timeout | null;
  stop: (reason: StopReason) => void;
  /** Re-arms the wall timer: `null` stops it (a call waits for approval), else ms left from now. */
  deadline: (remainingMs: number | null) => void;
  /** When the wall timer fires (`performance.now()`); null while it stands still or no run is on. */
  wallEndsAt: number | null;
  /**
   * True while the code runs on this thread (`deliverAnswer`): no timer of this thread can fire
   * until it awaits or ends, so output is sent as it is written, not batched.
   */
  onHostThread: boolean;
}

interface Warm {
  isolate: ivm.Isolate;
  memoryMb: number;
  run: ivm.Reference<(source: string, capabilities: string[]) => string | Promise<string>>;
  state: RunState;
}

function send(message: HostMessage): void {
  process.send?.(message);
}

function newState(): RunState {
  return {
    limits: null,
    channel: new RequestChannel({ local: {} }),
    forwarded: new Map(),
    bytes: { stdout: 0, stderr: 0 },
    text: { stdout: '', stderr: '' },
    truncated: { stdout: false, stderr: false },
    pending: [],
    pendingBytes: 0,
    flushTimer: null,
    stop: () => {},
    deadline: () => {},
    wallEndsAt: null,
    onHostThread: false,
  };
}

function flush(state: RunState): void {
  if (state.flushTimer) clearTimeout(state.flushTimer);
  state.flushTimer = null;
  // Merge consecutive chunks of the same stream into one message.
  let merged: { stream: OutputStream; data: string } | null = null;
  for (const chunk of state.pending) {
    if (merged && merged.stream === chunk.stream) {
      merged.data += chunk.data;
      continue;
    }
    if (merged) send({ version: 'v1', type: 'output', ...merged });
    merged = { ...chunk };
  }
  if (merged) send({ version: 'v1', type: 'output', ...merged });
  state.pending = [];
  state.pendingBytes = 0;
}

/**
 * Handles one console write from the isolate: counts bytes, truncates, batches (sends at once
 * while the code runs on this thread, where the flush timer cannot fire). Returns false
 * once the stream is past its limit: the console write then throws in the isolate (bootstrap.ts),
 * so code flooding its output ends at once even while it runs on this thread (`deliverAnswer`),
 * where the stop below cannot run before the code awaits.
 */
function onOutput(state: RunState, streamId: unknown, text: unknown): boolean {
  const limits = state.limits;
  if (!limits || typeof text !== 'string') return true;
  const stream: OutputStream = streamId === 2 ? 'stderr' : 'stdout';
  if (state.truncated[stream]) return false;
  const room = limits.outputBytes - state.bytes[stream];
  let data = text;
  const size = Buffer.byteLength(text);
  if (size > room) {
    data = truncateUtf8(text, room);
    state.truncated[stream] = true;
    // Stop after this callback returns: disposing an isolate from inside its own call is unsafe.
    setImmediate(() => state.stop('output'));
  }
  const dataBytes = Buffer.byteLength(data);
  state.bytes[stream] += dataBytes;
  state.text[stream] += data;
  if (data.length > 0) {
    state.pending.push({ stream, data });
    state.pendingBytes += dataBytes;
    if (state.onHostThread || state.pendingBytes >= OUTPUT_FLUSH_BYTES) flush(state);
    else state.flushTimer ??= setTimeout(() => flush(state), OUTPUT_FLUSH_MS);
  }
  return !state.truncated[stream];
}

/** The longest prefix of `text` that fits `maxBytes` of UTF-8 without splitting a character. */
function truncateUtf8(text: string, maxBytes: number): string {
  if (maxBytes <= 0) return '';
  const buf = Buffer.from(text);
  return buf.subarray(0, completeUtf8Length(buf, Math.min(maxBytes, buf.length))).toString('utf8');
}

async function prepare(memoryMb: number): Promise<Warm> {
  const isolate = new ivm.Isolate({
    memoryLimit: memoryMb,
    // V8 is in an unknown state: this process must die so the runner replaces it.
    // Not `process.exit`: the isolate thread sleeps forever holding the isolate (isolated-vm
    // OOMErrorCallback), and exit's cleanup waits on it, so the host hung until the runner's
    // wall-time kill and the task was reported as `timeout` instead of `memory_limit`. SIGKILL
    // ends it at once; the runner classifies the death by this stderr line (host-pool.ts).
    // (stderr is a pipe: the write is synchronous on Linux, so it lands before the kill.)
    onCatastrophicError: (message: string) => {
      process.stderr.write(`isolate catastrophic error: ${message}\n`);
      process.kill(process.pid, 'SIGKILL');
    },
  });
  const context = await isolate.createContext();
  const state = newState();
  const callback = new ivm.Callback((stream: unknown, text: unknown) => onOutput(state, stream, text));
  // Requests of the client globals (`fs`, …); the answer goes back through `deliver`. A sync
  // callback, so a request is on its way before the code goes on: code running on this thread
  // (`deliverAnswer`) cannot let an async one run until it awaits or ends, so a call it started
  // and did not await waited for that (an `ignored` callback is queued to this thread). From the
  // isolate's own thread it costs one wait for this thread per request; the answer still comes
  // later, through `deliver`.
  let deliver: ivm.Reference<(id: number, reply: string) => void> | null = null;
  const requestCallback = new ivm.Callback(
    (id: unknown, channel: unknown, op: unknown, body: unknown) => {
      // Once the isolate is gone the run is over: nothing may touch its grants any more (and
      // `execute` has stopped waiting for requests). The code waits here for each request, so a
      // request made before its result settled gets here before `execute` disposes the isolate;
      // only requests of a run that was stopped (timeout, cpu, output), or made after the result,
      // are dropped.
      if (isolate.isDisposed) return;
      void state.channel.handle(channel, op, body).then((reply) => {
        if (deliver) deliverAnswer(isolate, state, deliver, Number(id), reply);
      });
    },
  );
  const pair = (await context.evalClosure(BOOTSTRAP_SOURCE, [callback, requestCallback], {
    result: { reference: true },
    // DKR-9: a timeout on every run. The bootstrap is ours, but it must never hang a host.
    timeout: 5000,
  })) as ivm.Reference<unknown[]>;
  const run = (await pair.get(0, { reference: true })) as Warm['run'];
  deliver = (await pair.get(1, { reference: true })) as ivm.Reference<(id: number, reply: string) => void>;
  // The context object itself is not needed: the bootstrap's `run` keeps it alive.
  return { isolate, memoryMb, run, state };
}

/**
 * Hands the answer to a request to the code that awaits it. Delivering runs that code (the
 * isolate drains its microtasks) until it awaits again or ends, for as long as the run's own
 * limits allow; never with a timeout of its own (one once cut that code off after 1 s, silently,
 * and the task then hung until its wall time: isolate-caps.test.ts).
 *
 * While the wall clock runs and is the nearer limit (always for tasks of the API, whose CPU
 * limit is their wall time), the code runs here, on this thread, until it awaits again, with the
 * wall time left as isolated-vm's timeout: the isolate's own thread never wakes for a call. Each
 * call then costs two thread hand-offs fewer — on a machine where a wake-up is dear, 0.16 ms at
 * p50 of a brokered call (bench/ab.ts), and the host's CPU 0.46 → 0.38 ms per call. The timeout
 * is the very limit the wall timer enforces (which cannot fire while this thread runs the code),
 * and the CPU time of code on one thread grows no faster than the wall clock, so the CPU limit
 * holds too. While the clock stands still (a call waits for a human's approval) or the CPU limit
 * is the nearer one, the answer goes as before: fire and forget to the isolate's thread, watched
 * from here by both timers.
 */
function deliverAnswer(isolate: ivm.Isolate, state: RunState, deliver: ivm.Reference<(id: number, reply: string) => void>, id: number, reply: string): void {
  if (isolate.isDisposed) return;
  const args: [number, string] = [id, reply];
  const wallLeftMs = state.wallEndsAt === null ? null : state.wallEndsAt - performance.now();
  try {
    if (wallLeftMs === null || wallLeftMs > (state.limits?.cpuMs ?? 0) - Number(isolate.cpuTime) / 1e6) {
      deliver.applyIgnored(undefined, args, { arguments: { copy: true } });
      return;
    }
    if (wallLeftMs < 1) return state.stop('timeout');
    state.onHostThread = true;
    deliver.applySync(undefined, args, { arguments: { copy: true }, timeout: Math.ceil(wallLeftMs) });
  } catch (err) {
    // Disposed meanwhile (the run was stopped, or its memory limit hit: the run's result says
    // which): nobody is left to answer. Else isolated-vm stopped the code at the wall time.
    if (isolate.isDisposed) return;
    if (/timed out/i.test(String((err as Error)?.message))) return state.stop('timeout');
    process.stderr.write(`isolate host: an answer could not be delivered: ${String(err)}\n`);
  } finally {
    state.onHostThread = false;
  }
}

/** Ids of forwarded requests: never reused in this process, so a late reply cannot be mistaken. */
let nextForwardId = 1;
/** Sends a request of the running task to the runner; resolves with the runner's `reply`. */
function forward(state: RunState, channel: string, op: string, body: string): Promise<string> {
  if (body.length > MAX_REQUEST_BODY_CHARS || op.length > 256) {
    return Promise.resolve(
      encodeReply({ ok: false, code: 'too_large', message: `a request body is limited to ${MAX_REQUEST_BODY_CHARS} characters` }),
    );
  }
  const id = nextForwardId++;
  return new Promise((resolve) => {
    state.forwarded.set(id, resolve);
    send({ version: 'v1', type: 'request', id, channel, op, body });
  });
}

const emptyResult = (state: RunState) => ({
  value: null,
  stdout: state.text.stdout,
  stderr: state.text.stderr,
  stdoutTruncated: state.truncated.stdout,
  stderrTruncated: state.truncated.stderr,
});

async function execute(warm: Warm, message: RunMessage): Promise<ExecuteResult> {
  const { isolate, state } = warm;
  const { limits } = message;
  state.limits = limits;
  state.channel = new RequestChannel({
    local: { fs: new FsBridge(message.mounts).handle },
    remote: { channels: message.channels, forward: (channel, op, body) => forward(state, channel, op, body) },
  });
  let stopReason: StopReason | null = null;
  state.stop = (reason) => {
    if (stopReason || isolate.isDisposed) return;
    stopReason = reason;
    isolate.dispose();
  };
  const started = performance.now();
  // The runner owns the clock: it says when it stops (a call waits for a human's approval) and
  // how much is left when it runs again (host-pool.ts; the time waited does not count).
  let wallTimer = setTimeout(() => state.stop('timeout'), limits.timeoutMs);
  state.wallEndsAt = started + limits.timeoutMs;
  state.deadline = (remainingMs) => {
    clearTimeout(wallTimer);
    state.wallEndsAt = remainingMs === null ? null : performance.now() + remainingMs;
    if (remainingMs !== null && stopReason === null) wallTimer = setTimeout(() => state.stop('timeout'), remainingMs);
  };
  // The isolate runs on one thread: its CPU time grows at most as fast as the wall clock, so the
  // next look is due when the CPU time left could be used up at the earliest — never sooner than
  // CPU_POLL_MS. A task that waits (an awaited call, e.g. for a human's approval) uses none, and
  // the host then wakes only rarely: no CPU spent polling an idle isolate.
  let cpuTimer: NodeJS.Timeout | undefined;
  const checkCpu = () => {
    if (isolate.isDisposed) return;
    const usedMs = Number(isolate.cpuTime) / 1e6;
    if (usedMs > limits.cpuMs) return state.stop('cpu');
    cpuTimer = setTimeout(checkCpu, Math.max(CPU_POLL_MS, limits.cpuMs - usedMs));
  };
  cpuTimer = setTimeout(checkCpu, Math.max(CPU_POLL_MS, limits.cpuMs));
  let outcome: { ok: true; envelope: string } | { ok: false; error: unknown };
  try {
    const source = `${message.source}\n//# sourceURL=${TASK_FILENAME}`;
    const envelope = await warm.run.apply(undefined, [source, message.capabilities], {
      arguments: { copy: true },
      result: { promise: true, copy: true },
      timeout: limits.timeoutMs,
    });
    outcome = { ok: true, envelope: String(envelope) };
  } catch (error) {
    outcome = { ok: false, error };
  } finally {
    clearTimeout(wallTimer);
    clearTimeout(cpuTimer);
    state.deadline = () => {};
    state.wallEndsAt = null;
  }
  const cpuMs = isolate.isDisposed ? null : Number(isolate.cpuTime) / 1e6;
  const usage = {
    wallMs: Math.round(performance.now() - started),
    cpuMs: Math.round(cpuMs ?? Math.min(performance.now() - started, limits.cpuMs)),
  };
  if (!isolate.isDisposed) isolate.dispose();
  // Every `fs` call the code started, awaited or not, finishes before the result goes out:
  // the runner then reads the staged copies as final and deletes them, so a write still running
  // would be lost, misreported, or left behind in a deleted copy. No new call can start now
  // (the isolate is disposed). Handlers never reject. No timer of our own: the runner
  // kills this host at `timeoutMs` + `killGraceMs` (host-pool.ts), so a stuck call ends the
  // task as a timeout, with no writer left behind; a result sent early would recreate the race.
  // Requests forwarded to the runner are the runner's to finish: their answers are dropped.
  await state.channel.settled();
  state.forwarded.clear();
  flush(state);
  const result = emptyResult(state);

  const fail = (status: ExecuteResult['status'], code: ErrorCode, msg: string): ExecuteResult => ({
    status,
    result,
    error: { code, message: msg },
    usage,
  });
  // The stop for output is deferred (setImmediate), so code that ends right after writing past
  // the limit used to finish first and `succeed` with truncated output; code that swallows the
  // write's error while it runs on this thread (`deliverAnswer`) runs on until its wall time.
  // Past the limit always ends `output_limit`, as documented, whichever came first.
  // (A stop for output is made only once a stream is truncated.)
  if (state.truncated.stdout || state.truncated.stderr) {
    const which = state.truncated.stdout ? 'stdout' : 'stderr';
    return fail('failed', 'output_limit', `${which} exceeded ${limits.outputBytes} bytes`);
  }
  if (stopReason === 'timeout') return fail('timed_out', 'timeout', `Wall time exceeded ${limits.timeoutMs} ms`);
  if (stopReason === 'cpu') return fail('timed_out', 'timeout', `CPU time exceeded ${limits.cpuMs} ms`);
  if (!outcome.ok) {
    const text = outcome.error instanceof Error ? outcome.error.message : String(outcome.error);
    if (/memory limit/i.test(text)) {
      return fail('failed', 'memory_limit', `Memory limit of ${limits.memoryMb} MiB exceeded`);
    }
    if (/timed out/i.test(text)) {
      return fail('timed_out', 'timeout', `Wall time exceeded ${limits.timeoutMs} ms`);
    }
    if (warm.isolate.isDisposed && /disposed|abandoned/i.test(text)) {
      // Disposed by V8 for a reason we did not ask for: the heap limit is the only one. (When
      // the code ran on this thread (`deliverAnswer`), the run's promise says only "Promise was
      // abandoned".)
      return fail('failed', 'memory_limit', `Memory limit of ${limits.memoryMb} MiB exceeded`);
    }
    return fail('failed', 'internal', `Isolate host error: ${text}`);
  }
  // The value and error travel to Redis and the agent like output, so they get the same cap.
  if (Buffer.byteLength(outcome.envelope) > limits.outputBytes + 1) {
    const what = outcome.envelope.startsWith('1') ? 'result value' : 'thrown error';
    return fail('failed', 'output_limit', `The ${what} exceeded ${limits.outputBytes} bytes as JSON`);
  }
  const envelope = parseEnvelope(outcome.envelope);
  // The bootstrap always builds a well-formed envelope; if one is not (a bug, or a way found to
  // forge it), report it here rather than throw, which would kill this host (exit 71).
  if (!envelope) return fail('failed', 'internal', 'Isolate host error: malformed result envelope');
  if (envelope.ok) return { status: 'succeeded', result: { ...result, value: envelope.value }, usage };
  return fail('failed', 'runtime_error', describeThrow(envelope.thrown));
}

type Thrown = { name: string; message: string; stack: string };

function parseEnvelope(
  envelope: string,
): { ok: true; value: unknown } | { ok: false; thrown: Thrown } | null {
  try {
    const body: unknown = JSON.parse(envelope.slice(1));
    if (envelope.startsWith('1')) return { ok: true, value: body };
    if (!envelope.startsWith('0') || typeof body !== 'object' || body === null) return null;
    const { name, message, stack } = body as Record<string, unknown>;
    if (typeof name !== 'string' || typeof message !== 'string' || typeof stack !== 'string') return null;
    return { ok: false, thrown: { name, message, stack } };
  } catch {
    return null;
  }
}

/** `Name: message` plus the stack frames of the task's own code (no frames of ours). */
function describeThrow(thrown: Thrown): string {
  const headline = thrown.name ? `${thrown.name}: ${thrown.message}` : thrown.message;
  if (!thrown.stack.startsWith(headline)) return headline;
  const frames = thrown.stack
    .slice(headline.length)
    .split('\n')
    .filter((line) => line.includes(TASK_FILENAME));
  return [headline, ...frames].join('\n');
}

let warm: Warm | null = null;
let busy = false;

async function warmUp(): Promise<void> {
  warm = await prepare(PREWARM_MEMORY_MB);
  send({ version: 'v1', type: 'ready' });
}

/** The run in progress (its requests may get replies). */
let running: RunState | null = null;

process.on('message', (raw: unknown) => {
  const parsed = ParentMessageSchema.safeParse(raw);
  if (parsed.success && parsed.data.type === 'deadline') {
    running?.deadline(parsed.data.remainingMs);
    return;
  }
  if (parsed.success && parsed.data.type === 'reply') {
    // A reply for a run that ended is dropped (its isolate is gone).
    const resolve = running?.forwarded.get(parsed.data.id);
    running?.forwarded.delete(parsed.data.id);
    resolve?.(parsed.data.reply);
    return;
  }
  if (!parsed.success || parsed.data.type !== 'run' || busy) {
    process.stderr.write(`isolate host: refused message (busy=${busy})\n`);
    return;
  }
  const message = parsed.data;
  busy = true;
  void (async () => {
    let current = warm;
    warm = null;
    if (!current || current.memoryMb !== message.limits.memoryMb) {
      if (current) current.isolate.dispose();
      current = await prepare(message.limits.memoryMb);
    }
    running = current.state;
    const result = await execute(current, message);
    running = null;
    send({ version: 'v1', type: 'result', result });
    busy = false;
    await warmUp();
  })().catch((err: unknown) => {
    process.stderr.write(`isolate host failed: ${String(err)}\n`);
    process.exit(71);
  });
});

// The runner going away means nobody will read our results.
process.on('disconnect', () => process.exit(0));

void warmUp().catch((err: unknown) => {
  process.stderr.write(`isolate host could not start: ${String(err)}\n`);
  process.exit(72);
});
