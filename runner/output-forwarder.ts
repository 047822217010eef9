import type { OutputStream } from '../protocol/task.ts';
import type { TaskStore } from '../protocol/task-store.ts';

export interface OutputForwarderOptions {
  store: TaskStore;
  taskId: string;
  /** Where this attempt's output starts in each stream (from TaskStore.start). */
  offsets: Record<OutputStream, number>;
  /**
   * Least time between two writes: output arriving meanwhile is merged, so a program that
   * prints a little very often makes few events (each costs Redis memory), not one per print.
   * The first write and the final flush never wait. @defaultValue 20
   */
  minIntervalMs?: number;
}

/** Attempts of one write before the forwarder gives up (infrastructure fault). */
const WRITE_ATTEMPTS = 3;

/**
 * Appends a task's output to its output key (each byte once; the event stream gets references),
 * in order, one write at a time, merging chunks that arrive while a write is in flight or within
 * `minIntervalMs` of the last one. Each write names the offset it expects, so a write resent
 * after a lost reply is not stored twice. The output key is the only copy of the output: a
 * write that keeps failing makes `flush` throw (the job fails as an infrastructure fault)
 * rather than leave a result with output missing.
 */
export class OutputForwarder {
  readonly #store: TaskStore;
  readonly #taskId: string;
  readonly #offsets: Record<OutputStream, number>;
  readonly #minIntervalMs: number;
  #pending: { stream: OutputStream; chunks: Buffer[] }[] = [];
  #writing: Promise<void> | null = null;
  #timer: NodeJS.Timeout | null = null;
  #lastWriteAt = Number.NEGATIVE_INFINITY;
  /** The task is terminal (cancelled): nothing more is written, and that is not an error. */
  #closed = false;
  #failure: unknown = null;

  constructor(options: OutputForwarderOptions) {
    this.#store = options.store;
    this.#taskId = options.taskId;
    this.#offsets = { ...options.offsets };
    this.#minIntervalMs = options.minIntervalMs ?? 20;
  }

  /** Bytes written so far per stream (where the next write goes). */
  get offsets(): Record<OutputStream, number> {
    return { ...this.#offsets };
  }

  push(stream: OutputStream, data: string | Uint8Array): void {
    if (this.#closed || this.#failure) return;
    const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : Buffer.from(data);
    if (bytes.length === 0) return;
    const last = this.#pending.at(-1);
    if (last && last.stream === stream) last.chunks.push(bytes);
    else this.#pending.push({ stream, chunks: [bytes] });
    this.#schedule(false);
  }

  #schedule(now: boolean): void {
    if (this.#writing || this.#closed || this.#failure || this.#pending.length === 0) return;
    const wait = now ? 0 : this.#lastWriteAt + this.#minIntervalMs - performance.now();
    if (wait <= 0) {
      if (this.#timer) clearTimeout(this.#timer);
      this.#timer = null;
      this.#writing = this.#drain().finally(() => {
        this.#writing = null;
        this.#schedule(false);
      });
    } else {
      this.#timer ??= setTimeout(() => {
        this.#timer = null;
        this.#schedule(true);
      }, wait);
    }
  }

  async #drain(): Promise<void> {
    const batch = this.#pending;
    this.#pending = [];
    for (const [i, { stream, chunks }] of batch.entries()) {
      const data = Buffer.concat(chunks);
      const written = await this.#write(stream, data);
      if (written === 'written') continue;
      if (written === 'terminal') this.#closed = true;
      // Not written: nothing after it may be either (order), and nothing will be now.
      this.#pending = written === 'terminal' ? [] : [...batch.slice(i), ...this.#pending];
      break;
    }
    this.#lastWriteAt = performance.now();
  }

  async #write(stream: OutputStream, data: Buffer): Promise<'written' | 'terminal' | 'failed'> {
    for (let attempt = 1; ; attempt++) {
      try {
        const live = await this.#store.appendOutput(this.#taskId, stream, data, this.#offsets[stream]);
        if (!live) return 'terminal';
        this.#offsets[stream] += data.length;
        return 'written';
      } catch (err) {
        if (attempt >= WRITE_ATTEMPTS) {
          this.#failure = err;
          return 'failed';
        }
        await new Promise((r) => setTimeout(r, 50 * 2 ** attempt));
      }
    }
  }

  /**
   * Resolves when everything pushed so far is written (or the task turned terminal, which
   * drops the rest); throws if a write failed for good.
   */
  async flush(): Promise<void> {
    while (this.#writing || (this.#pending.length > 0 && !this.#closed && !this.#failure)) {
      if (!this.#writing) this.#schedule(true);
      await this.#writing;
    }
    if (this.#failure) {
      throw new Error(`output of task ${this.#taskId} could not be stored: ${String(this.#failure)}`);
    }
  }
}
