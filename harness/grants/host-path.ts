import { lstat } from 'node:fs/promises';
import path from 'node:path';

/**
 * Checks that `hostPath` may become a grant: absolute and normalized, strictly inside one of the
 * configured GRANT_ROOTS, and (when visible from this host) a real directory reached without any
 * symlink. Returns a message saying what to fix, or null when it is fine. The runner checks the
 * tree again (scanGrant) before every mount; this catches mistakes at registration time.
 */
export async function checkGrantHostPath(hostPath: string, roots: readonly string[]): Promise<string | null> {
  if (roots.length === 0) {
    return 'No grant roots are configured: set GRANT_ROOTS on the harness to the directories grants may live under';
  }
  if (!path.isAbsolute(hostPath) || path.normalize(hostPath) !== hostPath || hostPath.endsWith('/')) {
    return 'hostPath must be an absolute, normalized path (no "..", "." or trailing "/")';
  }
  const root = roots.find((r) => hostPath.startsWith(r.endsWith('/') ? r : `${r}/`));
  if (!root) return `hostPath must be inside one of the grant roots: ${roots.join(', ')}`;
  // Walk every component from the root down: each must be a directory, none a symlink.
  const parts = hostPath.slice(root.length).split('/').filter(Boolean);
  let current = root;
  for (const part of ['', ...parts]) {
    current = part ? path.join(current, part) : current;
    let info;
    try {
      info = await lstat(current);
    } catch {
      return `hostPath ${current} does not exist on the harness host`;
    }
    if (info.isSymbolicLink()) return `hostPath must not go through a symlink (${current})`;
    if (!info.isDirectory()) return `hostPath must be a directory (${current} is not)`;
  }
  return null;
}
