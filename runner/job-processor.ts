import { context, SpanKind, type Context } from '@opentelemetry/api';
import { UnrecoverableError, type Job } from 'bullmq';
import type { Logger } from 'pino';
import type { BlobStore } from '../protocol/blobs/blob-store.ts';
import { JobPayloadSchema, type JobPayload } from '../protocol/job.ts';
import type { ExecuteResult, InputFile, StoredTaskResult } from '../protocol/task.ts';
import type { TaskStore } from '../protocol/task-store.ts';
import { contextOf, currentTraceId, inSpan, tracingEnabled } from '../protocol/telemetry/tracing.ts';
import type { RunnerBackend } from './backends/types.ts';
import { NO_BROKER, withUncertainCall, type CallBroker } from './broker/call-broker.ts';
import type { CancelListener } from './cancel-listener.ts';
import type { RunnerMetrics } from './metrics/runner-metrics.ts';
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
  /** Counts finished tasks, queue wait and sandbox time. */
  metrics?: RunnerMetrics;
  /** Structured log: one line when a task starts and one when it ends (with taskId, traceId). */
  logger?: Logger;
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
  readonly #metrics: RunnerMetrics | null;
  readonly #logger: Logger | null;

  constructor(options: JobProcessorOptions) {
    this.#store = options.store;
    this.#backend = options.backend;
    this.#cancels = options.cancels;
    this.#blobs = options.blobs;
    this.#calls = options.calls ?? NO_BROKER;
    this.#runnerId = options.runnerId ?? 'unknown';
    this.#metrics = options.metrics ?? null;
    this.#logger = options.logger ?? null;
  }

  readonly process = async (job: Job): Promise<void> => {
    // Never trust the queue: a payload that does not parse is refused, not retried.
    const parsed = JobPayloadSchema.safeParse(job.data);
    if (!parsed.success) throw new UnrecoverableError(`invalid job payload: ${parsed.error.message}`);
    const payload = parsed.data;
    // The task's span (traces on): a child of the harness's enqueue, through the payload's
    // `traceparent`; the task store's audit entries made inside it carry its trace id.
    return inSpan(`${job.queueName} process`, {
      kind: SpanKind.CONSUMER,
      attributes: {
        'messaging.system': 'bullmq',
        'messaging.destination.name': job.queueName,
        'airlock.task.id': payload.taskId,
        'airlock.runtime': payload.runtime,
        'airlock.runner.id': this.#runnerId,
      },
    }, () => this.#process(job, payload), contextOf(payload.traceparent));
  };

  async #process(job: Job, payload: JobPayload): Promise<void> {
    const pickedAt = Date.now();
    const log = this.#logger?.child({ taskId: payload.taskId, ...traceField() }) ?? null;
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
      const queueWaitMs = pickedAt - job.timestamp;
      if (start.attempts === 1) this.#metrics?.queueWait(payload.runtime, queueWaitMs / 1000);
      log?.info({ runtime: payload.runtime, attempt: start.attempts, queueWaitMs }, 'task started');
      const forwarder = new OutputForwarder({ store: this.#store, taskId: payload.taskId, offsets: start.outputOffsets });
      const deadline = new WallDeadline(payload.limits.timeoutMs);
      const calls = await this.#calls.open(payload, start.attempts, { signal: tracked.signal, deadline });
      // Calls arrive from the sandbox's channel, outside the run's context: each is made in the
      // sandbox run's span again (traces on only), so its span is a child of the run.
      let runContext: Context | null = null;
      const session = createRunSession({
        signal: tracked.signal,
        timeoutMs: payload.limits.timeoutMs,
        deadline,
        output: (stream, data) => forwarder.push(stream, data),
        call: tracingEnabled() ? (name, input) => context.with(runContext ?? context.active(), () => calls.call(name, input)) : calls.call,
        beforeGrantApply: (planned) => this.#store.recordGrantPlan(payload.taskId, planned),
      });
      let outcome;
      try {
        outcome = await inSpan('sandbox run', {
          attributes: { 'airlock.task.id': payload.taskId, 'airlock.runtime': payload.runtime, 'airlock.backend': this.#backend.name },
        }, async (span) => {
          runContext = context.active();
          const ran = await this.#backend.execute(payload, session);
          span.setAttributes({ 'airlock.task.status': ran.status, 'airlock.usage.wall_ms': ran.usage.wallMs, 'airlock.usage.cpu_ms': ran.usage.cpuMs });
          if (ran.error) span.setAttribute('airlock.error.code', ran.error.code);
          return ran;
        });
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
      const status = finished ? outcomeFields.status : 'cancelled';
      const errorCode = finished ? outcomeFields.error?.code : 'cancelled';
      this.#metrics?.finished(payload.runtime, status, errorCode, outcome.usage);
      log?.info({ status, ...(errorCode ? { errorCode } : {}), wallMs: outcome.usage.wallMs, cpuMs: outcome.usage.cpuMs }, 'task finished');
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

/** `{ traceId }` of the active trace (traces on), for log lines. */
function traceField(): { traceId?: string } {
  const traceId = currentTraceId();
  return traceId ? { traceId } : {};
}
