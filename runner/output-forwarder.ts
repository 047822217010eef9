import type { OutputStream } from '../protocol/task.ts';
import type { TaskStore } from '../protocol/task-store.ts';

/**
 * Appends a task's output to its event stream in order, one write at a time, merging chunks that
 * arrive while a write is in flight (a flood of small writes becomes a few large events).
 */
export class OutputForwarder {
  readonly #store: TaskStore;
  readonly #taskId: string;
  #pending: { stream: OutputStream; data: string }[] = [];
  #writing: Promise<void> = Promise.resolve();
  #scheduled = false;

  constructor(store: TaskStore, taskId: string) {
    this.#store = store;
    this.#taskId = taskId;
  }

  push(stream: OutputStream, data: string): void {
    const last = this.#pending.at(-1);
    if (last && last.stream === stream) last.data += data;
    else this.#pending.push({ stream, data });
    if (this.#scheduled) return;
    this.#scheduled = true;
    this.#writing = this.#writing.then(() => this.#drain());
  }

  async #drain(): Promise<void> {
    this.#scheduled = false;
    const batch = this.#pending;
    this.#pending = [];
    for (const chunk of batch) {
      // A failed append loses only live streaming; the final result still carries all output.
      await this.#store.appendOutput(this.#taskId, chunk.stream, chunk.data).catch(() => false);
    }
  }

  /** Resolves when everything pushed so far is written. */
  async flush(): Promise<void> {
    await this.#writing;
  }
}
