import { mkdir } from 'node:fs/promises';
import type { TaskError } from '../../protocol/errors.ts';
import type { ExecuteResult, FileChange, ResolvedMount } from '../../protocol/task.ts';
import type { Owner } from './dir-handle.ts';
import { GrantPathError } from './errors.ts';
import { scanGrant } from './scan.ts';
import { apply, diff, discard, stage, type StagedGrant } from './staging.ts';

/** One mount of a task, ready to hand to a sandbox. */
export interface PreparedMount {
  mount: ResolvedMount;
  /** Directory the sandbox sees: the real grant (ro) or a private staged copy (rw). */
  root: string;
  /** Set for rw mounts: the copy whose changes are applied only if the task succeeds. */
  staged: StagedGrant | null;
}

export interface TaskMountsOptions {
  /** Directory for the private copies of rw grants (created 0700 if missing). */
  stagingRoot: string;
  /** Owner of the staged copies (the container's sandbox user). @defaultValue the runner's uid */
  owner?: Owner;
  /**
   * Scan each ro grant first and refuse (`special_file`) one holding a symlink, hard link or
   * special file. Needed when the sandbox is handed the real directory (a container bind mount):
   * the kernel then reaches a hard-linked file outside the grant, and host tooling may later
   * follow a symlink. Not needed when every access goes through the no-follow `fs` bridge
   * (isolates), which refuses such entries one access at a time. @defaultValue false
   */
  checkReadOnly?: boolean;
}

/**
 * The detailed result of {@link TaskMounts.apply}. A refusal says where it stopped: at `diff`
 * (nothing was applied), or at `apply` of `grant` (grants applied before it keep their changes,
 * listed in `changes`; that grant is left as it was).
 */
export type ApplyOutcome =
  | { ok: true; changes: FileChange[] }
  | {
      ok: false;
      phase: 'diff' | 'apply';
      grant: string;
      error: GrantPathError;
      changes: FileChange[];
    };

/**
 * The grants of one task, shared by both backends: `ro` grants are used in place, `rw` grants
 * are staged (copied) first. After a successful run {@link apply} writes the staged changes to
 * the real grants ({@link settle} does that and reports it in the task's result, the same way for
 * every backend); {@link discard} always removes the copies, so a failed, timed-out or cancelled
 * task leaves the real directories byte-for-byte untouched.
 */
export class TaskMounts {
  readonly list: readonly PreparedMount[];

  private constructor(list: PreparedMount[]) {
    this.list = list;
  }

  /**
   * Checks ro grants (with `checkReadOnly`) and stages rw ones. Throws `GrantPathError` (e.g. a
   * symlink in the grant: the grant as configured cannot be used) after removing what it staged.
   */
  static async prepare(
    mounts: readonly ResolvedMount[],
    options: TaskMountsOptions,
  ): Promise<TaskMounts> {
    const prepared: PreparedMount[] = [];
    if (mounts.some((m) => m.mode === 'rw')) {
      // Private to the runner: staged copies may hold data other tasks must not see.
      await mkdir(options.stagingRoot, { recursive: true, mode: 0o700 });
    }
    try {
      for (const mount of mounts) {
        if (mount.mode === 'ro') {
          if (options.checkReadOnly) await scanGrant(mount.hostPath, { hash: false });
          prepared.push({ mount, root: mount.hostPath, staged: null });
          continue;
        }
        const owner = options.owner ? { owner: options.owner } : {};
        const staged = await stage(mount, options.stagingRoot, owner);
        prepared.push({ mount, root: staged.dir, staged });
      }
    } catch (err) {
      await new TaskMounts(prepared).discard();
      throw err;
    }
    return new TaskMounts(prepared);
  }

  /** Whether any grant is staged: only then can the task change a real directory. */
  get hasStaged(): boolean {
    return this.list.some((m) => m.staged);
  }

  /**
   * Applies the staged changes to the real grants. Call only once the sandbox is gone, so nothing
   * can write to the copies while they are read. Every grant is diffed before any is applied, so
   * a refused one (a link or FIFO left in the copy, over its byte cap) applies nothing. staging's
   * `apply()` takes the per-grant lock itself (it is not re-entrant, so it is not taken here too)
   * and re-checks the real tree before writing. Refusals are results; I/O errors throw.
   */
  async apply(beforeApply?: (planned: readonly FileChange[]) => Promise<void>): Promise<ApplyOutcome> {
    const planned: [StagedGrant, FileChange[]][] = [];
    for (const staged of this.#staged()) {
      try {
        planned.push([staged, await diff(staged)]);
      } catch (err) {
        if (!(err instanceof GrantPathError)) throw err;
        return { ok: false, phase: 'diff', grant: staged.grant, error: err, changes: [] };
      }
    }
    // Announced before anything is written (the audit entry of what is about to change); a
    // rejection stops here, with nothing applied.
    if (beforeApply) await beforeApply(planned.flatMap(([, list]) => list));
    const changes: FileChange[] = [];
    for (const [staged, list] of planned) {
      try {
        changes.push(...(await apply(staged, list)));
      } catch (err) {
        if (!(err instanceof GrantPathError)) throw err;
        // The real grant changed under us (e.g. a link planted on the host).
        return { ok: false, phase: 'apply', grant: staged.grant, error: err, changes };
      }
    }
    return { ok: true, changes };
  }

  /**
   * Removes every staged copy. Idempotent; never throws (the copies are private: leftovers are
   * only disk).
   */
  async discard(): Promise<void> {
    await Promise.all(this.#staged().map((s) => discard(s).catch(() => undefined)));
  }

  /**
   * A finished task's result with its grants settled — the one way every backend reports grant
   * outcomes. If `result` succeeded and a grant is staged, the changes are applied
   * ({@link apply}) and listed in `result.changes`; a refused grant fails the task with
   * {@link grantError}, and `result.changes` still lists what the grants before it had applied
   * (those changes stay on the host). Any other result is returned as it is: nothing was applied.
   * `beforeApply` gets every planned change before the first is written (see apply).
   * Call once the sandbox is gone, then {@link discard}. Refusals are results; I/O errors throw
   * (an infrastructure fault).
   */
  async settle(result: ExecuteResult, beforeApply?: (planned: readonly FileChange[]) => Promise<void>): Promise<ExecuteResult> {
    if (result.status !== 'succeeded' || !this.hasStaged) return result;
    const g = await this.apply(beforeApply);
    const withChanges = { ...result.result, changes: g.changes };
    return g.ok
      ? { ...result, result: withChanges }
      : { ...result, status: 'failed', result: withChanges, error: grantError(g) };
  }

  #staged(): StagedGrant[] {
    return this.list.flatMap((m) => (m.staged ? [m.staged] : []));
  }
}

/**
 * How a task reports a refused grant: by name, and whether anything was applied. A refusal at
 * diff is the code's doing (a link left in the copy, past the byte cap) and nothing was applied;
 * one at apply means the real grant changed on the host under us (grants before it were applied).
 */
export function grantError(g: Extract<ApplyOutcome, { ok: false }>): TaskError {
  if (g.phase === 'diff') {
    return {
      code: g.error.code === 'quota_exceeded' ? 'disk_limit' : 'runtime_error',
      message: `Grant "${g.grant}": ${g.error.message}; nothing was applied`,
    };
  }
  return { code: 'internal', message: `Grant "${g.grant}" was not updated: ${g.error.message}` };
}
