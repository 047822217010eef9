import { UnrecoverableError, type Job } from 'bullmq';
import type { BlobStore } from '../protocol/blobs/blob-store.ts';
import { JobPayloadSchema } from '../protocol/job.ts';
import type { ExecuteResult, InputFile, StoredTaskResult } from '../protocol/task.ts';
import type { TaskStore } from '../protocol/task-store.ts';
import type { RunnerBackend } from './backends/types.ts';
import { NO_BROKER, withUncertainCall, type CallBroker } from './broker/call-broker.ts';
import type { CancelListener } from './cancel-listener.ts';
import { OutputForwarder } from './output-forwarder.ts';
import { createRunSession, WallDeadline } from './run-session.ts';

export interface JobProcessorOptions {
  store: TaskStore;
  backend: RunnerBackend;
  cancels: CancelListener;
  /** Where the files a task wrote under /out are kept (never in Redis). */
  blobs: BlobStore;
  /** Makes each attempt's capability calls. @defaultValue NO_BROKER (every call refused) */
  calls?: CallBroker;
  /** This runner's id, recorded in each task's `task.started` audit entry. */
  runnerId?: string;
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
  readonly #blobs: BlobStore;
  readonly #calls: CallBroker;
  readonly #runnerId: string;

  constructor(options: JobProcessorOptions) {
    this.#store = options.store;
    this.#backend = options.backend;
    this.#cancels = options.cancels;
    this.#blobs = options.blobs;
    this.#calls = options.calls ?? NO_BROKER;
    this.#runnerId = options.runnerId ?? 'unknown';
  }

  readonly process = async (job: Job): Promise<void> => {
    // Never trust the queue: a payload that does not parse is refused, not retried.
    const parsed = JobPayloadSchema.safeParse(job.data);
    if (!parsed.success) throw new UnrecoverableError(`invalid job payload: ${parsed.error.message}`);
    const payload = parsed.data;
    // Track before the task can be seen running, so a cancel published right after is not missed.
    const tracked = this.#cancels.track(payload.taskId);
    try {
      // One round trip: checks the job matches its task, marks it running and appends the
      // `task.started` (or `task.retried`) audit entry.
      const start = await this.#store.start(payload.taskId, payload, {
        runnerId: this.#runnerId,
        attempt: Math.max(1, job.attemptsStarted ?? 1),
      });
      // Gone (expired) or already finished (cancelled while queued): nothing to do.
      if (start.outcome === 'gone') return;
      if (start.outcome === 'mismatch') throw new UnrecoverableError('job payload does not match its task');
      const forwarder = new OutputForwarder({ store: this.#store, taskId: payload.taskId, offsets: start.outputOffsets });
      const deadline = new WallDeadline(payload.limits.timeoutMs);
      const calls = await this.#calls.open(payload, start.attempts, { signal: tracked.signal, deadline });
      const session = createRunSession({
        signal: tracked.signal,
        timeoutMs: payload.limits.timeoutMs,
        deadline,
        output: (stream, data) => forwarder.push(stream, data),
        call: calls.call,
        beforeGrantApply: (planned) => this.#store.recordGrantPlan(payload.taskId, planned),
      });
      let outcome;
      try {
        outcome = await this.#backend.execute(payload, session);
      } finally {
        // Calls the code did not await finish before the task ends; a stopped run's are aborted.
        const stopped = outcome === undefined || outcome.status === 'cancelled' || outcome.status === 'timed_out';
        await calls.finish(stopped);
      }
      outcome = withUncertainCall(outcome, calls.uncertain);
      // The output key is the result's output (stored once): all of it is there before the
      // status says the task ended.
      await forwarder.flush();
      // File contents go to the blob store before the result says they exist.
      const { fileContents, ...outcomeFields } = outcome;
      if (fileContents?.length) await this.#storeFiles(payload.taskId, fileContents, outcomeFields.result.files ?? []);
      const finished = await this.#store.transition(
        payload.taskId,
        outcomeFields.status,
        ['running'],
        { finishedAt: new Date().toISOString(), result: storedResult(outcomeFields.result), usage: outcomeFields.usage },
        outcomeFields.error,
      );
      if (!finished) {
        // Cancelled meanwhile: the status stays `cancelled`, but record how long it really ran;
        // its files are listed nowhere, so they go now.
        await this.#store.annotate(payload.taskId, { usage: outcome.usage });
        if (fileContents?.length) await this.#blobs.deleteTask(payload.taskId);
      }
    } finally {
      tracked.done();
    }
  };

  /** Puts each file in the blob store; what is stored must be what the result lists. */
  async #storeFiles(taskId: string, contents: readonly InputFile[], listed: readonly { path: string; sha256: string }[]): Promise<void> {
    for (const file of contents) {
      const stored = await this.#blobs.put(taskId, Buffer.from(file.contentBase64, 'base64'));
      if (!listed.some((l) => l.path === file.path && l.sha256 === stored.sha256)) {
        throw new Error(`output file ${file.path} of task ${taskId} does not match its listing`);
      }
    }
  }
}

/** The result as the record keeps it: without the output (already in the output key). */
function storedResult(result: ExecuteResult['result']): StoredTaskResult {
  const { stdout: _o, stderr: _e, stdoutEncoding: _oe, stderrEncoding: _ee, ...rest } = result;
  return rest;
}
