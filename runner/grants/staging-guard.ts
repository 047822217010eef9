import { statfs } from 'node:fs/promises';

/** A check run on a timer while a task runs; a message stops the task (see container-session). */
export interface StagingGuard {
  intervalMs: number;
  /** The reason to stop the task, or null while the staging disk has room. */
  check: () => Promise<string | null>;
}

/**
 * Stops a task when the staging filesystem has less than `minFreeBytes` left. A sandbox writes
 * to its staged copy directly (a container bind mount), and the copy lives on the host disk: the
 * task could fill the runner's disk long before `diff` sees the grant's byte cap afterwards.
 */
export function stagingGuard(stagingRoot: string, minFreeBytes: number): StagingGuard {
  return {
    intervalMs: 250,
    check: async () => {
      const st = await statfs(stagingRoot);
      const free = st.bavail * st.bsize;
      return free < minFreeBytes
        ? `A writable grant grew too large: the staging disk has ${Math.floor(free / 1048576)} MiB left`
        : null;
    },
  };
}
