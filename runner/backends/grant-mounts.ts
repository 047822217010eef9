/**
 * How container tasks use grants (runner/grants/task-mounts.ts does the work): the options a bind
 * mount needs and the binds themselves. How a refused grant is reported is shared with the isolate
 * backend: `TaskMounts.settle()` and `grantError()` in task-mounts.ts.
 * - `ro`: the real directory, bind-mounted read-only, after a scan refused anything but plain
 *   files and directories (the kernel would reach a hard-linked file outside the grant; a symlink
 *   only resolves inside the container's own fs, but host tooling may follow it later).
 * - `rw`: never the real directory. A private copy owned by the sandbox uid is mounted; after a
 *   successful run its changes are applied, otherwise it is discarded. While the task runs a
 *   staging guard (runner/grants/staging-guard.ts) watches the disk the copy lives on.
 */
import type { ResolvedMount } from '../../protocol/task.ts';
import { TaskMounts } from '../grants/task-mounts.ts';
import { SANDBOX_GID, SANDBOX_UID, type BindMount } from './docker-config.ts';

/**
 * Checks ro grants and stages rw ones for a container. Throws (an infrastructure fault: the grant
 * as configured cannot be used — e.g. `special_file` for a planted symlink) after cleaning up.
 */
export function prepareGrants(
  mounts: readonly ResolvedMount[],
  stagingRoot: string,
): Promise<TaskMounts> {
  return TaskMounts.prepare(mounts, {
    stagingRoot,
    // The non-root sandbox user must be able to write to its bind-mounted copy.
    owner: { uid: SANDBOX_UID, gid: SANDBOX_GID },
    // The container gets the real ro directory, not a no-follow fs bridge.
    checkReadOnly: true,
  });
}

/** The bind mounts of a task's grants, in the order the job listed them. */
export function grantBinds(grants: TaskMounts): BindMount[] {
  return grants.list.map((m) => ({
    source: m.root,
    target: m.mount.path,
    readOnly: m.mount.mode === 'ro',
  }));
}
