import os from 'node:os';
import path from 'node:path';
import type { JobPayload } from '../../protocol/job.ts';
import type { ExecuteResult, TaskResult } from '../../protocol/task.ts';
import { GrantPathError } from '../grants/errors.ts';
import { TaskMounts } from '../grants/task-mounts.ts';
import type { IsolateHostPool } from '../isolate-host/host-pool.ts';
import { encodeReply } from '../isolate-host/request-channel.ts';
import { prepareCode } from './prepare-code.ts';
import type { RunnerBackend, RunSession } from './types.ts';

export interface IsolateBackendOptions {
  pool: IsolateHostPool;
  /** Where writable grants are copied for the duration of a task. @defaultValue $TMPDIR/airlock-staging */
  stagingRoot?: string;
}

const EMPTY_RESULT: TaskResult = { value: null, stdout: '', stderr: '', stdoutTruncated: false, stderrTruncated: false };

/**
 * Runs `javascript` and `typescript` tasks in V8 isolates hosted by child processes. Grants are
 * reachable through the `fs` global: read-only ones in place, writable ones through a staged copy
 * whose changes are applied only if the task succeeds.
 */
export class IsolateBackend implements RunnerBackend {
  readonly name = 'isolate';
  readonly #pool: IsolateHostPool;
  readonly #stagingRoot: string;

  constructor(options: IsolateBackendOptions) {
    this.#pool = options.pool;
    this.#stagingRoot = options.stagingRoot ?? path.join(os.tmpdir(), 'airlock-staging');
  }

  async execute(job: JobPayload, session: RunSession): Promise<ExecuteResult> {
    const prepared = await prepareCode(job.runtime, job.code);
    if (!prepared.ok) {
      return {
        status: 'failed',
        result: EMPTY_RESULT,
        error: { code: 'syntax_error', message: prepared.message },
        usage: { wallMs: 0, cpuMs: 0 },
      };
    }
    let mounts: TaskMounts;
    try {
      mounts = await TaskMounts.prepare(job.mounts ?? [], { stagingRoot: this.#stagingRoot });
    } catch (err) {
      if (!(err instanceof GrantPathError)) throw err;
      return {
        status: 'failed',
        result: EMPTY_RESULT,
        error: { code: 'internal', message: `A grant could not be mounted: ${err.message}` },
        usage: { wallMs: 0, cpuMs: 0 },
      };
    }
    const bridgeMounts = mounts.list.map((m) => ({
      path: m.mount.path,
      root: m.root,
      mode: m.mount.mode,
      maxBytes: m.mount.maxBytes,
      usedBytes: m.staged?.quota.usedBytes ?? 0,
    }));
    try {
      const result = await this.#pool.run(prepared.source, job.limits, session, {
        mounts: bridgeMounts,
        capabilities: job.capabilities ?? [],
        channels: { caps: (name, body) => capsCall(session, name, body) },
      });
      // Changes reach the real grants only when the task succeeded, reported the same way as for
      // containers (a refusal is a result; an I/O error throws: infrastructure).
      return await mounts.settle(result, session.beforeGrantApply?.bind(session));
    } finally {
      // Failed, timed out, cancelled or applied: the private copies go.
      await mounts.discard();
    }
  }

  async dispose(): Promise<void> {
    await this.#pool.dispose();
  }
}

/** One `caps` request of the task (name, input as JSON) as a call of its session. */
async function capsCall(session: RunSession, name: string, body: string): Promise<string> {
  let input: unknown;
  try {
    input = JSON.parse(body);
  } catch {
    return encodeReply({ ok: false, code: 'capability_invalid_input', message: `${name.slice(0, 128)}: the input is not JSON` });
  }
  const result = await session.call(name, input);
  return encodeReply(result.ok ? { ok: true, value: result.output } : { ok: false, ...result.error });
}
