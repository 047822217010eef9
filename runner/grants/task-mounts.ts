import { mkdir } from 'node:fs/promises';
import type { TaskError } from '../../protocol/errors.ts';
import type { FileChange, ResolvedMount } from '../../protocol/task.ts';
import type { Owner } from './dir-handle.ts';
import { GrantPathError } from './errors.ts';
import { apply, diff, discard, stage, type StagedGrant } from './staging.ts';

/** One mount of a task, ready to hand to a sandbox. */
export interface PreparedMount {
  mount: ResolvedMount;
  /** Directory the sandbox sees: the real grant (ro) or a private staged copy (rw). */
  root: string;
  /** Set for rw mounts: the copy whose changes are applied only if the task succeeds. */
  staged: StagedGrant | null;
}

export type MountOutcome = { ok: true; changes: FileChange[] } | { ok: false; error: TaskError };

/**
 * The grants of one task, shared by both backends: `ro` grants are used in place, `rw` grants
 * are staged (copied) first. `finish(true)` applies the staged changes to the real grants and
 * lists them; `finish(false)` (failed, timed out, cancelled) discards them, leaving the real
 * directories byte-for-byte untouched. Always call `finish` exactly once.
 */
export class TaskMounts {
  readonly list: readonly PreparedMount[];

  private constructor(list: PreparedMount[]) {
    this.list = list;
  }

  /** Stages rw grants. Throws `GrantPathError` (e.g. a symlink in the grant) after cleaning up. */
  static async prepare(
    mounts: readonly ResolvedMount[],
    options: { stagingRoot: string; owner?: Owner },
  ): Promise<TaskMounts> {
    const prepared: PreparedMount[] = [];
    if (mounts.some((m) => m.mode === 'rw')) {
      // Private to the runner: staged copies may hold data other tasks must not see.
      await mkdir(options.stagingRoot, { recursive: true, mode: 0o700 });
    }
    try {
      for (const mount of mounts) {
        if (mount.mode === 'ro') {
          prepared.push({ mount, root: mount.hostPath, staged: null });
          continue;
        }
        const staged = await stage(mount, options.stagingRoot, options.owner ? { owner: options.owner } : {});
        prepared.push({ mount, root: staged.dir, staged });
      }
    } catch (err) {
      await new TaskMounts(prepared).finish(false);
      throw err;
    }
    return new TaskMounts(prepared);
  }

  async finish(succeeded: boolean): Promise<MountOutcome> {
    const staged = this.list.flatMap((m) => (m.staged ? [m.staged] : []));
    try {
      if (!succeeded) return { ok: true, changes: [] };
      // Check every grant's changes before applying any, so one bad grant applies nothing.
      const planned: [StagedGrant, FileChange[]][] = [];
      for (const s of staged) planned.push([s, await diff(s)]);
      const changes: FileChange[] = [];
      for (const [s, list] of planned) {
        // apply() takes the grant's lock itself.
        changes.push(...(await apply(s, list)));
      }
      return { ok: true, changes };
    } catch (err) {
      return { ok: false, error: mountError(err) };
    } finally {
      for (const s of staged) await discard(s).catch(() => {});
    }
  }
}

/** How a grant problem found after the run ends the task. */
function mountError(err: unknown): TaskError {
  if (err instanceof GrantPathError) {
    if (err.code === 'quota_exceeded') {
      return { code: 'disk_limit', message: `A writable grant would exceed its size limit: ${err.message}` };
    }
    return { code: 'runtime_error', message: `Changes to a writable grant were not applied: ${err.message}` };
  }
  return { code: 'internal', message: 'Changes to a writable grant could not be applied' };
}
