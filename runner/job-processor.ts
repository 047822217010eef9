import { UnrecoverableError, type Job } from 'bullmq';
import { JobPayloadSchema } from '../protocol/job.ts';
import type { TaskStore } from '../protocol/task-store.ts';
import type { RunnerBackend } from './backends/types.ts';
import type { CancelListener } from './cancel-listener.ts';
import { OutputForwarder } from './output-forwarder.ts';

export interface JobProcessorOptions {
  store: TaskStore;
  backend: RunnerBackend;
  cancels: CancelListener;
}

/**
 * Runs one queued task: checks it is still wanted, marks it running, executes it on the backend
 * while streaming its output, and records how it ended. A failure of the code is a normal
 * outcome recorded on the task; only infrastructure faults throw (and fail the job).
 */
export class JobProcessor {
  readonly #store: TaskStore;
  readonly #backend: RunnerBackend;
  readonly #cancels: CancelListener;

  constructor(options: JobProcessorOptions) {
    this.#store = options.store;
    this.#backend = options.backend;
    this.#cancels = options.cancels;
  }

  readonly process = async (job: Job): Promise<void> => {
    // Never trust the queue: a payload that does not parse is refused, not retried.
    const parsed = JobPayloadSchema.safeParse(job.data);
    if (!parsed.success) throw new UnrecoverableError(`invalid job payload: ${parsed.error.message}`);
    const payload = parsed.data;
    // Track before the task can be seen running, so a cancel published right after is not missed.
    const tracked = this.#cancels.track(payload.taskId);
    try {
      // One round trip: checks the job matches its task and marks it running.
      const start = await this.#store.start(payload.taskId, payload);
      // Gone (expired) or already finished (cancelled while queued): nothing to do.
      if (start.outcome === 'gone') return;
      if (start.outcome === 'mismatch') throw new UnrecoverableError('job payload does not match its task');
      const forwarder = new OutputForwarder(this.#store, payload.taskId);
      const outcome = await this.#backend.execute(payload, tracked.signal, {
        output: (stream, data) => forwarder.push(stream, data),
      });
      await forwarder.flush();
      // File contents go to their own key before the result says they exist.
      const { fileContents, ...outcomeFields } = outcome;
      if (fileContents) await this.#store.saveOutputFiles(payload.taskId, fileContents);
      const finished = await this.#store.transition(
        payload.taskId,
        outcomeFields.status,
        ['running'],
        { finishedAt: new Date().toISOString(), result: outcomeFields.result, usage: outcomeFields.usage },
        outcomeFields.error,
      );
      // Cancelled meanwhile: the status stays `cancelled`, but record how long it really ran.
      if (!finished) await this.#store.annotate(payload.taskId, { usage: outcome.usage });
    } finally {
      tracked.done();
    }
  };
}
