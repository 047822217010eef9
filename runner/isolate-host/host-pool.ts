import { fork, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { ErrorCode } from '../../protocol/errors.ts';
import type { ExecuteResult, Limits, OutputStream } from '../../protocol/task.ts';
import { HostMessageSchema, type RunMessage } from './messages.ts';

export interface IsolateHostPoolOptions {
  /** Number of isolate host processes, i.e. tasks run at once. */
  size: number;
  /** Extra time past `timeoutMs` before the host is killed from outside. @defaultValue 1000 */
  killGraceMs?: number;
  /** RSS allowed to a host on top of the task's memory limit, in MiB. @defaultValue 192 */
  rssHeadroomMb?: number;
  /** How often a busy host's RSS is checked. @defaultValue 25 */
  rssPollMs?: number;
  /** Called with a host's stderr lines (for the runner's log). */
  onHostLog?: (line: string) => void;
}

interface Host {
  child: ChildProcess;
  ready: boolean;
  /** Set while a task runs on this host. */
  onMessage: ((message: unknown) => void) | null;
  onExit: ((code: number | null, signal: NodeJS.Signals | null) => void) | null;
  stderrTail: string;
}

const HOST_ENTRY = fileURLToPath(new URL('./host.ts', import.meta.url));
const PAGE_BYTES = 4096;

/**
 * A small pool of isolate host processes. It runs each task on a ready host, enforces wall time
 * and RSS from outside, kills the host on cancel, and replaces any host that died.
 */
export class IsolateHostPool {
  readonly #options: Required<Omit<IsolateHostPoolOptions, 'onHostLog'>> &
    Pick<IsolateHostPoolOptions, 'onHostLog'>;
  readonly #hosts = new Set<Host>();
  readonly #waiters: ((host: Host) => void)[] = [];
  #disposed = false;

  constructor(options: IsolateHostPoolOptions) {
    this.#options = { killGraceMs: 1000, rssHeadroomMb: 192, rssPollMs: 25, ...options };
    for (let i = 0; i < options.size; i++) this.#spawn();
  }

  /** Resolves once every host has its first isolate ready. */
  async ready(): Promise<void> {
    while (!this.#disposed && [...this.#hosts].some((h) => !h.ready)) {
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  #spawn(): void {
    if (this.#disposed) return;
    const child = fork(HOST_ENTRY, [], {
      execArgv: ['--no-node-snapshot', '--import', 'tsx', '--max-old-space-size=128'],
      // An empty environment (README, Security model): the host runs untrusted code and needs
      // nothing of the runner's (which may hold REDIS_URL with a password); Node adds only the
      // IPC channel's own variables. Tested from /proc/<pid>/environ (isolate-host-env.test.ts).
      env: {},
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
      serialization: 'json',
    });
    const host: Host = { child, ready: false, onMessage: null, onExit: null, stderrTail: '' };
    this.#hosts.add(host);
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      host.stderrTail = (host.stderrTail + chunk).slice(-4096);
      this.#options.onHostLog?.(chunk.trimEnd());
    });
    child.on('message', (raw) => {
      if (host.onMessage) return host.onMessage(raw);
      const parsed = HostMessageSchema.safeParse(raw);
      if (parsed.success && parsed.data.type === 'ready') this.#release(host);
    });
    child.on('exit', () => {
      this.#hosts.delete(host);
      host.ready = false;
      this.#spawn();
    });
    // The task is classified on 'close', not 'exit': 'exit' can come before the last stderr
    // chunk is read, and a crash is classified by that text (e.g. the catastrophic-OOM line
    // written just before the host kills itself), which was then missed and reported `internal`.
    child.on('close', (code, signal) => host.onExit?.(code, signal));
    // Without a listener, an 'error' (e.g. `send` racing a host that just died: the IPC channel
    // is closed) is thrown and takes the whole runner down. The task still ends via 'close'.
    child.on('error', (err) => this.#options.onHostLog?.(`isolate host error: ${err.message}`));
  }

  #release(host: Host): void {
    const waiter = this.#waiters.shift();
    if (waiter) {
      host.ready = false;
      waiter(host);
    } else {
      host.ready = true;
    }
  }

  #acquire(): Promise<Host> {
    for (const host of this.#hosts) {
      if (host.ready && !host.onMessage) {
        host.ready = false;
        return Promise.resolve(host);
      }
    }
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  /**
   * Runs prepared JavaScript on a host. Never throws for faults of the code; throws only when
   * the pool is disposed.
   */
  async run(
    source: string,
    limits: Limits,
    signal: AbortSignal,
    onOutput: (stream: OutputStream, data: string) => void,
    mounts: RunMessage['mounts'] = [],
  ): Promise<ExecuteResult> {
    if (this.#disposed) throw new Error('isolate host pool is disposed');
    const host = await this.#acquire();
    // A crash is classified by the host's stderr: only this task's lines may count.
    host.stderrTail = '';
    const started = performance.now();
    const output = { stdout: '', stderr: '' };
    return new Promise<ExecuteResult>((resolve) => {
      let killedFor: { status: ExecuteResult['status']; code: ErrorCode; message: string } | null =
        null;
      const kill = (status: ExecuteResult['status'], code: ErrorCode, message: string) => {
        if (killedFor) return;
        killedFor = { status, code, message };
        host.child.kill('SIGKILL');
      };
      const onAbort = () => kill('cancelled', 'cancelled', 'Cancelled');
      if (signal.aborted) onAbort();
      signal.addEventListener('abort', onAbort, { once: true });
      const wallTimer = setTimeout(
        () => kill('timed_out', 'timeout', `Wall time exceeded ${limits.timeoutMs} ms`),
        limits.timeoutMs + this.#options.killGraceMs,
      );
      const rssCapBytes = (limits.memoryMb + this.#options.rssHeadroomMb) * 1024 * 1024;
      const rssTimer = setInterval(() => {
        void readRssBytes(host.child.pid).then((rss) => {
          if (rss > rssCapBytes) {
            kill('failed', 'memory_limit', `Memory limit of ${limits.memoryMb} MiB exceeded`);
          }
        });
      }, this.#options.rssPollMs);

      const finish = (result: ExecuteResult) => {
        clearTimeout(wallTimer);
        clearInterval(rssTimer);
        signal.removeEventListener('abort', onAbort);
        host.onMessage = null;
        host.onExit = null;
        resolve(result);
      };
      const partial = () => ({
        value: null,
        stdout: output.stdout,
        stderr: output.stderr,
        stdoutTruncated: false,
        stderrTruncated: false,
      });
      const usage = () => ({ wallMs: Math.round(performance.now() - started), cpuMs: 0 });

      host.onMessage = (raw) => {
        const parsed = HostMessageSchema.safeParse(raw);
        if (!parsed.success) return;
        const message = parsed.data;
        if (message.type === 'output') {
          output[message.stream] += message.data;
          onOutput(message.stream, message.data);
        } else if (message.type === 'result') {
          // The host now prepares its next isolate and says `ready` when done.
          finish(message.result);
        }
      };
      host.onExit = (code, exitSignal) => {
        const cause = killedFor ?? classifyCrash(code, exitSignal, host.stderrTail, limits);
        finish({
          status: cause.status,
          result: partial(),
          error: { code: cause.code, message: cause.message },
          usage: usage(),
        });
      };
      const message: RunMessage = { version: 'v1', type: 'run', source, limits, mounts: [...mounts] };
      host.child.send(message);
    });
  }

  /** Kills every host. Idempotent. */
  async dispose(): Promise<void> {
    if (this.#disposed) return;
    this.#disposed = true;
    const exits = [...this.#hosts].map(
      (host) => new Promise<void>((resolve) => {
        host.child.once('exit', () => resolve());
        host.child.kill('SIGKILL');
      }),
    );
    await Promise.all(exits);
  }
}

/** Why a host died on its own while running a task. */
function classifyCrash(
  code: number | null,
  signal: NodeJS.Signals | null,
  stderr: string,
  limits: Limits,
): { status: ExecuteResult['status']; code: ErrorCode; message: string } {
  // V8 aborts the whole process on some allocation failures (isolated-vm 5 on Node 20); on a
  // catastrophic OOM the host kills itself after writing "Catastrophic out-of-memory error".
  if (/out[ -]of[ -]memory|invalid size error|allocation failed/i.test(stderr) || signal === 'SIGABRT' || code === 134) {
    return { status: 'failed', code: 'memory_limit', message: `Memory limit of ${limits.memoryMb} MiB exceeded` };
  }
  // isolated-vm could not stop the code 5 s after its timeout; the host killed itself.
  if (/Script failed to terminate/.test(stderr)) {
    return { status: 'timed_out', code: 'timeout', message: `Wall time exceeded ${limits.timeoutMs} ms` };
  }
  return {
    status: 'failed',
    code: 'internal',
    message: `Isolate host exited unexpectedly (${signal ?? `code ${code}`})`,
  };
}

async function readRssBytes(pid: number | undefined): Promise<number> {
  if (!pid) return 0;
  try {
    const statm = await readFile(`/proc/${pid}/statm`, 'utf8');
    return Number(statm.split(' ')[1] ?? 0) * PAGE_BYTES;
  } catch {
    return 0;
  }
}
