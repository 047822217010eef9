/**
 * Run sessions for tests that drive a backend directly (the job processor makes them in the
 * runner): output goes to `sink`, `signal` cancels, calls go to `call` (default: refused, as for
 * a task that declared no capabilities). Nothing is faked beyond being assembled here.
 */
import type { OutputStream } from '../../protocol/task.ts';
import type { CallResult, RunSession } from '../../runner/backends/types.ts';
import { createRunSession } from '../../runner/run-session.ts';

/** Where a test wants output. */
export interface OutputSink {
  output(stream: OutputStream, data: string | Uint8Array): void;
}

export function session(
  signal: AbortSignal,
  sink: OutputSink,
  call?: (name: string, input: unknown) => Promise<CallResult>,
  timeoutMs = 60_000,
): RunSession {
  return createRunSession({ signal, timeoutMs, output: (s, d) => sink.output(s, d), ...(call ? { call } : {}) });
}
