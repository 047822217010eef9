/**
 * One task on one container: attach, send the request line, stream output under exact byte caps
 * (as bytes: never decoded here, so output that is not UTF-8 is kept whole; cut only between
 * UTF-8 characters, and never split across two sink calls), and stop the container itself (engine API kill, never a client process) on timeout, cancel,
 * output flood, protocol violation or a failed guard. Classification of what happened is not done
 * here (container-outcome.ts); this module only collects facts.
 */
import type { Duplex } from 'node:stream';
import type Docker from 'dockerode';
import type { OutputStream } from '../../protocol/task.ts';
import { completeUtf8Length } from '../../protocol/utf8.ts';
import { ATTACH_OPTIONS } from './container-pool.ts';
import { buildCallResult, FrameReader, type ExitFrame, type FilesFrame } from './supervisor-protocol.ts';
import type { RunSession } from './types.ts';

/** Why the runner stopped the container before the supervisor said `done`. */
export type KillReason = 'timeout' | 'cancelled' | 'output_limit' | 'disk_limit' | 'protocol';

export interface SessionOptions {
  container: Docker.Container;
  /** The request line, newline included. */
  request: string;
  /** Cold path: the container is created, not started; start it after attaching. */
  startAfterAttach: boolean;
  /** Warm path: the stream the pool attached already (else the session attaches). */
  attached?: Duplex;
  timeoutMs: number;
  /**
   * Bytes kept per stream; one more byte and the run ends with `output_limit`. A cut never
   * splits a UTF-8 character: the kept bytes may then stop up to 3 bytes short of the limit.
   */
  outputBytes: number;
  maxFrameBytes: number;
  /** Output goes here; its signal cancels the run; its deadline starts with the request. */
  session: RunSession;
  /** Polled while the run lasts; a message stops the run with `disk_limit`. */
  guard?: { intervalMs: number; check: () => Promise<string | null> };
  /** Read just before a kill (the cgroup disappears with the container). */
  usageBeforeKill?: () => Promise<{ cpuMs?: number; peakMemoryBytes?: number }>;
}

export interface StreamResult {
  /** The bytes kept, exactly as the program wrote them. */
  bytes: Buffer;
  truncated: boolean;
}

/** Facts about one run. */
export interface SessionOutcome {
  killed: { reason: KillReason; detail: string } | null;
  /** The supervisor completed the protocol. */
  done: boolean;
  /** Frames received at all: 0 with no kill means the container never took the task. */
  frames: number;
  exit?: ExitFrame;
  files?: FilesFrame;
  /** A supervisor `error` frame (bad_request, spawn_failed). */
  error?: { code: string; message: string };
  stdout: StreamResult;
  stderr: StreamResult;
  /** Runner clock: request sent → exit frame (or kill, or end of stream). */
  wallMs: number;
  usageAtKill?: { cpuMs?: number; peakMemoryBytes?: number };
  /** Tail of the supervisor's own stderr (crash tracebacks), for the runner's log. */
  diagnostics: string;
}

const DIAGNOSTICS_TAIL = 4096;

/** Runs the task; resolves when the supervisor is done, the stream ends, or the runner killed it. */
export async function runSession(o: SessionOptions): Promise<SessionOutcome> {
  const socket = o.attached ?? ((await o.container.attach(ATTACH_OPTIONS)) as Duplex);
  // A cold container cancelled before its start is never started (and then never closes the stream).
  let started = !o.startAfterAttach;
  try {
    if (!started && !o.session.signal.aborted) {
      await o.container.start();
      started = true;
    }
  } catch (err) {
    socket.destroy();
    throw err;
  }
  return new Promise<SessionOutcome>((resolve) => {
    const reader = new FrameReader(o.maxFrameBytes);
    // Per stream: bytes handed to the sink, and a trailing UTF-8 sequence that is not complete
    // yet (≤ 3 bytes), held back so no character is split between two sink calls (live events)
    // and a cut at the limit can drop it whole.
    const sent: Record<OutputStream, Buffer[]> = { stdout: [], stderr: [] };
    const sentBytes = { stdout: 0, stderr: 0 };
    const held: Record<OutputStream, Buffer> = { stdout: Buffer.alloc(0), stderr: Buffer.alloc(0) };
    const truncated = { stdout: false, stderr: false };
    const outcome: Omit<SessionOutcome, 'stdout' | 'stderr' | 'wallMs'> = {
      killed: null,
      done: false,
      frames: 0,
      diagnostics: '',
    };
    let finished = false;
    let t0 = performance.now();
    let endedAt: number | null = null;
    const timers: { wall?: () => void; guard?: NodeJS.Timeout } = {};

    const finish = () => {
      if (finished) return;
      finished = true;
      timers.wall?.();
      clearInterval(timers.guard);
      o.session.signal.removeEventListener('abort', onAbort);
      socket.destroy();
      // An incomplete sequence at the very end stays: the output is then not UTF-8 (and is
      // handed to the client as base64), never silently changed.
      for (const s of ['stdout', 'stderr'] as const) send(s, held[s]);
      resolve({
        ...outcome,
        stdout: { bytes: Buffer.concat(sent.stdout), truncated: truncated.stdout },
        stderr: { bytes: Buffer.concat(sent.stderr), truncated: truncated.stderr },
        wallMs: Math.round((endedAt ?? performance.now()) - t0),
      });
    };

    // The engine closes the attach stream when the container has exited.
    let markClosed: () => void = () => {};
    const closed = new Promise<void>((r) => (markClosed = r));

    // The kill goes to the engine: it SIGKILLs every process in the container, whatever the
    // code did to its own process tree. The result waits until the engine reports the container
    // gone (stream closed; at most 1 s), so a cancelled or timed-out task is never still running.
    const kill = (reason: KillReason, detail: string) => {
      if (finished || outcome.killed) return;
      outcome.killed = { reason, detail };
      endedAt = performance.now();
      void (async () => {
        try {
          if (o.usageBeforeKill) outcome.usageAtKill = await withTimeout(o.usageBeforeKill(), 50);
        } catch {
          // best effort
        }
        await o.container.kill({ signal: 'SIGKILL' }).catch(() => undefined); // 404/409: gone already
        if (started) await Promise.race([closed, new Promise((r) => setTimeout(r, 1000).unref())]);
        finish();
      })();
    };
    const onAbort = () => kill('cancelled', 'Cancelled');

    const send = (stream: OutputStream, bytes: Buffer) => {
      if (bytes.length === 0) return;
      sent[stream].push(bytes);
      sentBytes[stream] += bytes.length;
      o.session.output(stream, bytes);
    };
    const emit = (stream: OutputStream, data: Buffer) => {
      if (truncated[stream]) return;
      const pending = held[stream].length > 0 ? Buffer.concat([held[stream], data]) : data;
      held[stream] = Buffer.alloc(0);
      const room = o.outputBytes - sentBytes[stream];
      if (pending.length > room) {
        send(stream, pending.subarray(0, completeUtf8Length(pending, room)));
        truncated[stream] = true;
        kill('output_limit', `${stream} exceeded ${o.outputBytes} bytes`);
        return;
      }
      const whole = completeUtf8Length(pending);
      send(stream, pending.subarray(0, whole));
      held[stream] = pending.subarray(whole);
    };

    socket.on('data', (chunk: Buffer) => {
      if (finished || outcome.killed) return;
      const { frames, diagnostics, violation } = reader.push(chunk);
      for (const d of diagnostics) {
        outcome.diagnostics = (outcome.diagnostics + d.toString('utf8')).slice(-DIAGNOSTICS_TAIL);
      }
      for (const f of frames) {
        if (outcome.killed) break;
        outcome.frames++;
        if (f.t === 'out') emit(f.s, Buffer.from(f.d, 'base64'));
        else if (f.t === 'exit') {
          outcome.exit = f;
          endedAt = performance.now();
        } else if (f.t === 'files') outcome.files = f;
        else if (f.t === 'error') outcome.error = { code: f.code, message: f.message };
        else if (f.t === 'call') {
          // Numbered by the session in the order the frames come (the order the program made
          // them); the answer goes back on the supervisor's stdin while the run lasts.
          void o.session.call(f.name, f.input).then((result) => {
            if (!finished && !outcome.killed && !socket.destroyed) socket.write(buildCallResult(f.id, result));
          });
        }
        else if (f.t === 'done') {
          outcome.done = true;
          endedAt ??= performance.now();
          return finish();
        }
      }
      if (violation) kill('protocol', `sandbox supervisor broke the protocol: ${violation}`);
    });
    const onEnd = () => {
      markClosed();
      if (!outcome.killed) finish(); // while killing, the kill path finishes
    };
    socket.on('error', onEnd);
    socket.on('close', onEnd);
    socket.on('end', onEnd);

    // A pooled stream whose container died while it waited is already gone: no event will come.
    if (socket.destroyed) return onEnd();
    if (o.session.signal.aborted) return onAbort();
    o.session.signal.addEventListener('abort', onAbort, { once: true });
    t0 = performance.now();
    o.session.deadline.start();
    socket.write(o.request);
    // The runner owns the clock: it stands still while a capability call waits for a human's
    // approval (the container sits in a blocked read meanwhile), see RunDeadline.
    timers.wall = o.session.deadline.whenElapsed(o.timeoutMs, () => kill('timeout', `Wall time exceeded ${o.timeoutMs} ms`));
    if (o.guard) {
      const { check, intervalMs } = o.guard;
      timers.guard = setInterval(() => {
        void check().then(
          (problem) => problem && kill('disk_limit', problem),
          () => undefined,
        );
      }, intervalMs);
    }
  });
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  let t: NodeJS.Timeout | undefined;
  const late = new Promise<undefined>((r) => (t = setTimeout(() => r(undefined), ms)));
  return Promise.race([p, late]).finally(() => clearTimeout(t));
}
