/**
 * Grants (job.mounts) for container tasks, on top of runner/grants:
 * - `ro`: the real directory, bind-mounted read-only, after `scanGrant` refused anything but
 *   plain files and directories (a hard link would expose a file outside the grant; a symlink
 *   only resolves inside the container's own fs, but host tooling may follow it later).
 * - `rw`: never the real directory. A private copy (`stage`, owned by the sandbox uid) is mounted;
 *   after a successful run the changes are diffed and applied, otherwise the copy is discarded and
 *   the real directory is untouched. The copy lives on the host disk, so a guard watches the
 *   staging filesystem while the task runs (a sandbox could otherwise fill the runner's disk
 *   long before `diff` sees the grant's byte cap).
 */
import { statfs } from 'node:fs/promises';
import type { ErrorCode } from '../../protocol/errors.ts';
import type { FileChange, ResolvedMount } from '../../protocol/task.ts';
import { GrantPathError } from '../grants/errors.ts';
import { scanGrant } from '../grants/scan.ts';
import { apply, diff, discard, stage, type StagedGrant } from '../grants/staging.ts';
import { SANDBOX_GID, SANDBOX_UID, type BindMount } from './docker-config.ts';

export interface PreparedGrants {
  binds: BindMount[];
  staged: StagedGrant[];
}

/**
 * Checks ro grants and stages rw ones. Throws (an infrastructure fault: the grant as configured
 * cannot be used — e.g. `special_file` for a planted symlink) after undoing what it staged.
 */
export async function prepareGrants(
  mounts: readonly ResolvedMount[],
  stagingRoot: string,
): Promise<PreparedGrants> {
  const prepared: PreparedGrants = { binds: [], staged: [] };
  try {
    for (const m of mounts) {
      if (m.mode === 'ro') {
        await scanGrant(m.hostPath, { hash: false });
        prepared.binds.push({ source: m.hostPath, target: m.path, readOnly: true });
      } else {
        const staged = await stage(
          { grant: m.grant, hostPath: m.hostPath, maxBytes: m.maxBytes },
          stagingRoot,
          {
            owner: { uid: SANDBOX_UID, gid: SANDBOX_GID },
          },
        );
        prepared.staged.push(staged);
        prepared.binds.push({ source: staged.dir, target: m.path, readOnly: false });
      }
    }
    return prepared;
  } catch (err) {
    await discardGrants(prepared);
    throw err;
  }
}

export type GrantOutcome =
  | { ok: true; changes: FileChange[] }
  | { ok: false; code: ErrorCode; message: string; changes: FileChange[] };

/**
 * After a successful run, with the container already removed (nothing can write to the copies
 * any more): diffs every staged grant first — so a refused one stops all of them before anything
 * is written — then applies each. `apply` takes the per-grant lock itself (the lock is not
 * re-entrant, so it is not taken here too); it re-checks the real tree before writing.
 * Faults of the code (a link or FIFO left in the grant, over its byte cap) are results;
 * I/O errors throw.
 */
export async function applyGrants(p: PreparedGrants): Promise<GrantOutcome> {
  const planned: [StagedGrant, FileChange[]][] = [];
  for (const staged of p.staged) {
    try {
      planned.push([staged, await diff(staged)]);
    } catch (err) {
      if (!(err instanceof GrantPathError)) throw err;
      const code: ErrorCode = err.code === 'quota_exceeded' ? 'disk_limit' : 'runtime_error';
      return {
        ok: false,
        code,
        message: `Grant "${staged.grant}": ${err.message}; nothing was applied`,
        changes: [],
      };
    }
  }
  const changes: FileChange[] = [];
  for (const [staged, list] of planned) {
    try {
      changes.push(...(await apply(staged, list)));
    } catch (err) {
      if (!(err instanceof GrantPathError)) throw err;
      // The real grant changed under us (e.g. a link planted on the host): this grant stays as
      // it was; grants applied before it keep their changes, listed in `changes`.
      return {
        ok: false,
        code: 'internal',
        message: `Grant "${staged.grant}" was not updated: ${err.message}`,
        changes,
      };
    }
  }
  return { ok: true, changes };
}

/** Removes every staged copy. Never throws (the copies are private; leftovers are only disk). */
export async function discardGrants(p: PreparedGrants): Promise<void> {
  await Promise.all(p.staged.map((s) => discard(s).catch(() => undefined)));
}

/** A run guard: stop the task when the staging filesystem has less than `minFreeBytes` left. */
export function stagingGuard(stagingRoot: string, minFreeBytes: number) {
  return {
    intervalMs: 250,
    check: async (): Promise<string | null> => {
      const st = await statfs(stagingRoot);
      const free = st.bavail * st.bsize;
      return free < minFreeBytes
        ? `A writable grant grew too large: the staging disk has ${Math.floor(free / 1048576)} MiB left`
        : null;
    },
  };
}
