import { fork, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { ErrorCode } from '../../protocol/errors.ts';
import type { ExecuteResult, Limits } from '../../protocol/task.ts';
import type { RunSession } from '../backends/types.ts';
import { HostMessageSchema, type DeadlineMessage, type ReplyMessage, type RunMessage } from './messages.ts';
import { encodeReply } from './request-channel.ts';

export interface IsolateHostPoolOptions {
  /** Number of isolate host processes, i.e. tasks run at once. */
  size: number;
  /** Extra time past `timeoutMs` before the host is killed from outside. @defaultValue 1000 */
  killGraceMs?: number;
  /** RSS allowed to a host on top of the task's memory limit, in MiB. @defaultValue 192 */
  rssHeadroomMb?: number;
  /** How often a busy host's RSS is checked while it moves. @defaultValue 25 */
  rssPollMs?: number;
  /** Longest time between two checks of a busy host whose RSS stands still. @defaultValue 400 */
  rssIdlePollMs?: number;
  /** Called with a host's stderr lines (for the runner's log). */
  onHostLog?: (line: string) => void;
  /**
   * Memory limit of the isolate each host prepares ahead of demand (tasks with another limit get
   * theirs made on demand). Keep it equal to the harness's TASK_DEFAULT_MEMORY_MB. @defaultValue 64
   */
  prewarmMemoryMb?: number;
  /**
   * Wait before replacing a host that died before it was ever ready (doubled for each such death
   * in a row, up to `maxRespawnDelayMs`); a host that had been ready is replaced at once.
   * @defaultValue 250
   */
  respawnDelayMs?: number;
  /** Longest wait between two starts of hosts that keep dying at start. @defaultValue 30000 */
  maxRespawnDelayMs?: number;
  /** Called when the pool turns unready (hosts die at start) or ready again. */
  onStatus?: (status: PoolStatus) => void;
}

/**
 * Whether the pool can run tasks. Unready while the hosts it starts die before they are ever
 * ready (e.g. isolated-vm cannot load): `reason` says how the last one died.
 */
export interface PoolStatus {
  ready: boolean;
  reason?: string;
}

interface Host {
  child: ChildProcess;
  ready: boolean;
  /** Whether this host has said `ready` at least once (a death before that is a start failure). */
  started: boolean;
  /** Set while a task runs on this host. */
  onMessage: ((message: unknown) => void) | null;
  onExit: ((code: number | null, signal: NodeJS.Signals | null) => void) | null;
  stderrTail: string;
}

/**
 * Serves one request channel of a running task in the runner (e.g. `caps`); resolves with the
 * encoded answer (request-channel.ts `encodeReply`). Should not reject (a rejection is answered
 * as an internal error).
 */
export type PoolChannelHandler = (op: string, body: string) => Promise<string>;

const INTERNAL_REPLY = { ok: false, code: 'internal', message: 'the request failed in the runner' } as const;

const HOST_ENTRY = fileURLToPath(new URL('./host.ts', import.meta.url));
const PAGE_BYTES = 4096;
/** A host whose RSS moved less than this between two checks is standing still. */
const RSS_STEADY_BYTES = 1024 * 1024;

/**
 * A small pool of isolate host processes. It runs each task on a ready host, enforces wall time
 * and RSS from outside, kills the host on cancel, and replaces any host that died — at once if
 * it had been ready, else after a delay that doubles with each host in a row that died at start
 * (a host that cannot start must not be re-forked in a tight loop). Meanwhile the pool is
 * unready (`status`, `onStatus`) and says why.
 */
export class IsolateHostPool {
  readonly #options: Required<Omit<IsolateHostPoolOptions, 'onHostLog' | 'onStatus'>> &
    Pick<IsolateHostPoolOptions, 'onHostLog' | 'onStatus'>;
  readonly #hosts = new Set<Host>();
  readonly #waiters: ((host: Host) => void)[] = [];
  /** Pending re-spawns of hosts that died at start (cleared on dispose). */
  readonly #respawnTimers = new Set<NodeJS.Timeout>();
  /** Hosts in a row that died before they were ever ready; 0 = the pool is ready. */
  #startFailures = 0;
  #restarts = 0;
  #lastStartFailure = '';
  #disposed = false;

  constructor(options: IsolateHostPoolOptions) {
    this.#options = {
      killGraceMs: 1000,
      rssHeadroomMb: 192,
      rssPollMs: 25,
      rssIdlePollMs: 400,
      prewarmMemoryMb: 64,
      respawnDelayMs: 250,
      maxRespawnDelayMs: 30_000,
      ...options,
    };
    for (let i = 0; i < options.size; i++) this.#spawn();
  }

  /** Ready, or unready because hosts die at start (with how the last one died). */
  status(): PoolStatus {
    if (this.#startFailures === 0) return { ready: true };
    return {
      ready: false,
      reason: `isolate hosts die at start (${this.#startFailures} in a row; last: ${this.#lastStartFailure})`,
    };
  }

  /**
   * Resolves once every host has its first isolate ready, or as soon as a host died at start
   * (the pool then keeps re-spawning with backoff; `onStatus` says when it recovers).
   */
  async ready(): Promise<PoolStatus> {
    while (!this.#disposed && this.#startFailures === 0 && [...this.#hosts].some((h) => !h.ready)) {
      await new Promise((r) => setTimeout(r, 20));
    }
    return this.status();
  }

  #spawn(): void {
    if (this.#disposed) return;
    // The prewarm size goes as an argument: the host's environment is fixed below.
    const child = fork(HOST_ENTRY, [String(this.#options.prewarmMemoryMb)], {
      execArgv: ['--no-node-snapshot', '--import', 'tsx', '--max-old-space-size=128'],
      // An empty environment (README, Security model): the host runs untrusted code and needs
      // nothing of the runner's (which may hold REDIS_URL with a password); Node adds only the
      // IPC channel's own variables. Tested from /proc/<pid>/environ (isolate-host-env.test.ts).
      env: {},
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
      serialization: 'json',
      // Its own process group: a Ctrl-C in the runner's terminal reaches the whole foreground
      // group, and hosts killed by it mid-task failed their tasks while the runner was still
      // finishing them. The runner alone stops its hosts (dispose); they also exit when it dies
      // (IPC disconnect).
      detached: true,
    });
    const host: Host = { child, ready: false, started: false, onMessage: null, onExit: null, stderrTail: '' };
    this.#hosts.add(host);
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      host.stderrTail = (host.stderrTail + chunk).slice(-4096);
      this.#options.onHostLog?.(chunk.trimEnd());
    });
    child.on('message', (raw) => {
      if (host.onMessage) return host.onMessage(raw);
      const parsed = HostMessageSchema.safeParse(raw);
      if (parsed.success && parsed.data.type === 'ready') {
        if (!host.started) this.#started(host);
        this.#release(host);
      }
    });
    child.on('exit', (code, signal) => {
      this.#hosts.delete(host);
      host.ready = false;
      if (this.#disposed) return;
      this.#restarts++;
      if (host.started) return this.#spawn();
      this.#diedAtStart(host, code, signal);
    });
    // The task is classified on 'close', not 'exit': 'exit' can come before the last stderr
    // chunk is read, and a crash is classified by that text (e.g. the catastrophic-OOM line
    // written just before the host kills itself), which was then missed and reported `internal`.
    child.on('close', (code, signal) => host.onExit?.(code, signal));
    // Without a listener, an 'error' (e.g. `send` racing a host that just died: the IPC channel
    // is closed) is thrown and takes the whole runner down. The task still ends via 'close'.
    child.on('error', (err) => this.#options.onHostLog?.(`isolate host error: ${err.message}`));
  }

  /** Hosts that died (killed on cancel or a limit, crashed, or died at start) and were replaced (metrics). */
  get restarts(): number {
    return this.#restarts;
  }

  #started(host: Host): void {
    host.started = true;
    if (this.#startFailures === 0) return;
    this.#startFailures = 0;
    this.#lastStartFailure = '';
    this.#options.onStatus?.(this.status());
  }

  /** Re-spawns a host that died before it was ever ready, after the backoff delay. */
  #diedAtStart(host: Host, code: number | null, signal: NodeJS.Signals | null): void {
    this.#startFailures++;
    const lastLine = host.stderrTail.trimEnd().split('\n').pop() ?? '';
    this.#lastStartFailure = `${signal ?? `exit code ${code}`}${lastLine ? `: ${lastLine.slice(0, 300)}` : ''}`;
    const delayMs = Math.min(
      this.#options.respawnDelayMs * 2 ** Math.min(this.#startFailures - 1, 30),
      this.#options.maxRespawnDelayMs,
    );
    const timer = setTimeout(() => {
      this.#respawnTimers.delete(timer);
      this.#spawn();
    }, delayMs);
    this.#respawnTimers.add(timer);
    this.#options.onStatus?.({ ...this.status(), reason: `${this.status().reason}; next try in ${delayMs} ms` });
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
   * the pool is disposed. Output goes to `session`, and the task's requests on `channels` are
   * answered while it runs.
   */
  async run(
    source: string,
    limits: Limits,
    session: RunSession,
    options: {
      mounts?: RunMessage['mounts'];
      /** The task's declared capabilities (its `caps` global). */
      capabilities?: readonly string[];
      channels?: Readonly<Record<string, PoolChannelHandler>>;
    } = {},
  ): Promise<ExecuteResult> {
    const { signal } = session;
    const channels = options.channels ?? {};
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
      // Armed when the code starts (below); moved while a call waits for approval.
      let cancelWall: () => void = () => {};
      let stopTelling: () => void = () => {};
      const rssCapBytes = (limits.memoryMb + this.#options.rssHeadroomMb) * 1024 * 1024;
      // Every rssPollMs while the host's RSS moves; while it stands still (an idle isolate, e.g. a
      // task waiting for a human's approval) the interval doubles up to rssIdlePollMs, and any
      // move of RSS_STEADY_BYTES or more brings it back at once. The isolate's own memoryLimit
      // (heap and array buffers) holds meanwhile; this is the backstop from outside.
      let rssTimer: NodeJS.Timeout | undefined;
      let rssEveryMs = this.#options.rssPollMs;
      let lastRss = 0;
      let polling = true;
      const pollRss = () => {
        void readRssBytes(host.child.pid).then((rss) => {
          if (!polling) return;
          if (rss > rssCapBytes) {
            kill('failed', 'memory_limit', `Memory limit of ${limits.memoryMb} MiB exceeded`);
            return;
          }
          const steady = Math.abs(rss - lastRss) < RSS_STEADY_BYTES;
          rssEveryMs = steady ? Math.min(rssEveryMs * 2, this.#options.rssIdlePollMs) : this.#options.rssPollMs;
          lastRss = rss;
          rssTimer = setTimeout(pollRss, rssEveryMs);
        });
      };
      rssTimer = setTimeout(pollRss, rssEveryMs);

      const finish = (result: ExecuteResult) => {
        cancelWall();
        stopTelling();
        polling = false;
        clearTimeout(rssTimer);
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

      const onMessage = (raw: unknown) => {
        const parsed = HostMessageSchema.safeParse(raw);
        if (!parsed.success) return;
        const message = parsed.data;
        if (message.type === 'output') {
          output[message.stream] += message.data;
          session.output(message.stream, message.data);
        } else if (message.type === 'request') {
          const handler = Object.hasOwn(channels, message.channel) ? channels[message.channel] : undefined;
          const answer = handler
            ? handler(message.op, message.body).catch(() => encodeReply(INTERNAL_REPLY))
            : Promise.resolve(encodeReply({ ok: false, code: 'unsupported', message: 'no such channel' }));
          void answer.then((reply) => {
            // Only to this run: once it ended, the host has moved on (and drops unknown ids).
            if (host.onMessage !== onMessage) return;
            const m: ReplyMessage = { version: 'v1', type: 'reply', id: message.id, reply };
            host.child.send(m);
          });
        } else if (message.type === 'result') {
          // The host now prepares its next isolate and says `ready` when done.
          finish(message.result);
        }
      };
      host.onMessage = onMessage;
      host.onExit = (code, exitSignal) => {
        const cause = killedFor ?? classifyCrash(code, exitSignal, host.stderrTail, limits);
        finish({
          status: cause.status,
          result: partial(),
          error: { code: cause.code, message: cause.message },
          usage: usage(),
        });
      };
      const message: RunMessage = {
        version: 'v1',
        type: 'run',
        source,
        limits,
        mounts: [...(options.mounts ?? [])],
        capabilities: [...(options.capabilities ?? [])],
        channels: Object.keys(channels),
      };
      const { deadline } = session;
      deadline.start();
      host.child.send(message);
      // The host's own wall timer disposes the isolate at the deadline; this one kills the host
      // `killGraceMs` later if that did not end the run. Both stand still while a call waits for
      // a human's approval (the host is told each time the clock stops or runs again).
      cancelWall = deadline.whenElapsed(limits.timeoutMs + this.#options.killGraceMs, () =>
        kill('timed_out', 'timeout', `Wall time exceeded ${limits.timeoutMs} ms`),
      );
      stopTelling = deadline.onChange(() => {
        if (host.onMessage !== onMessage || !host.child.connected) return;
        const remainingMs = deadline.held ? null : Math.max(0, limits.timeoutMs - deadline.elapsedMs());
        const m: DeadlineMessage = { version: 'v1', type: 'deadline', remainingMs };
        host.child.send(m);
      });
    });
  }

  /** Kills every host. Idempotent. */
  async dispose(): Promise<void> {
    if (this.#disposed) return;
    this.#disposed = true;
    for (const timer of this.#respawnTimers) clearTimeout(timer);
    this.#respawnTimers.clear();
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
