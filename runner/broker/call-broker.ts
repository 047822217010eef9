/**
 * What the job processor asks when it starts an attempt: the attempt's capability calls. A task
 * that declared capabilities gets a broker token made for this attempt (protocol/broker-token.ts:
 * random, in this process's memory only, its hash on the task record while the attempt runs)
 * and a {@link TaskCalls}; any other task gets {@link NO_CALLS} without a Redis round trip.
 */
import type { Redis } from 'ioredis';
import { issueBrokerToken } from '../../protocol/broker-token.ts';
import type { JobPayload } from '../../protocol/job.ts';
import type { ExecuteResult } from '../../protocol/task.ts';
import type { RunDeadline } from '../backends/types.ts';
import { noCalls } from '../run-session.ts';
import type { BrokerClient } from './broker-client.ts';
import { TaskCalls, type AttemptCalls } from './task-calls.ts';

export interface CallBroker {
  /** The calls of attempt `attempt` of `job` (just started: TaskStore.start said so). */
  open(job: JobPayload, attempt: number, run: { signal: AbortSignal; deadline: RunDeadline }): Promise<AttemptCalls>;
}

/** The calls of a task that declared none: each is refused, nothing is sent. */
export const NO_CALLS: AttemptCalls = {
  call: noCalls,
  finish: () => Promise.resolve(),
  uncertain: null,
};

/** A runner without a broker (tests of other things): no task can call anything. */
export const NO_BROKER: CallBroker = { open: () => Promise.resolve(NO_CALLS) };

export interface BrokerCallsOptions {
  /** Where the attempt's token hash goes (the task record). */
  redis: Redis;
  client: BrokerClient;
}

export class BrokerCalls implements CallBroker {
  readonly #redis: Redis;
  readonly #client: BrokerClient;

  constructor(options: BrokerCallsOptions) {
    this.#redis = options.redis;
    this.#client = options.client;
  }

  async open(job: JobPayload, attempt: number, run: { signal: AbortSignal; deadline: RunDeadline }): Promise<AttemptCalls> {
    const capabilities = job.capabilities ?? [];
    if (capabilities.length === 0) return NO_CALLS;
    // Null when the task left this attempt meanwhile (cancelled): its calls are refused.
    const token = await issueBrokerToken(this.#redis, job.taskId, attempt);
    return new TaskCalls({
      client: this.#client,
      taskId: job.taskId,
      attempt,
      token,
      capabilities,
      deadline: run.deadline,
      signal: run.signal,
    });
  }
}

/**
 * A task whose code failed after one of its calls was answered `capability_uncertain` (started
 * on an earlier attempt, never settled, not safe to run again) ends with that code, for a human
 * to resolve — whatever the code did with the error: the container sees only an exit status, and
 * an uncertain effect is worth a human's look even if the code failed for another reason after
 * catching it. A task that succeeds handled it.
 */
export function withUncertainCall(outcome: ExecuteResult, uncertain: AttemptCalls['uncertain']): ExecuteResult {
  if (!uncertain || outcome.status !== 'failed') return outcome;
  if (outcome.error?.code !== 'runtime_error' && outcome.error?.code !== 'nonzero_exit') return outcome;
  return {
    ...outcome,
    error: {
      code: 'capability_uncertain',
      message:
        `Capability call #${uncertain.seq} (${uncertain.name}) was started by an earlier attempt and never settled; ` +
        `it may or may not have taken effect and was not run again. A human must resolve it. The code then failed: ${outcome.error.message}`,
    },
  };
}
