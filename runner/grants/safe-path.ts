/**
 * Path-safe file operations inside a grant root: what the isolate `fs` global calls.
 *
 * Every function takes the grant root (an absolute host path, admin configuration) and a path
 * relative to it, as the sandbox wrote it. The relative path is validated lexically
 * ({@link splitRelPath}) and then walked one component at a time through open directory fds with
 * `O_NOFOLLOW` (see `dir-handle.ts`), so:
 * - `..`, absolute paths (including `/proc/self/root/...`) and NUL never reach the filesystem;
 * - a symlink anywhere on the way (absolute or relative, in the parent chain or as the final
 *   name) is refused with `path_escape`, never followed;
 * - only plain files and directories are read or listed: hard-linked files, devices, FIFOs and
 *   sockets are `special_file`;
 * - writes go to a fresh temp file in the same directory and are renamed over the target, so a
 *   link that appears at the target after our check is replaced, never written through.
 *
 * Messages name only the relative path: they may reach the sandbox.
 */
import { Buffer } from 'node:buffer';
import { assertPlain, DirRef, type Owner } from './dir-handle.ts';
import { GrantPathError } from './errors.ts';

export { GrantPathError, type GrantPathErrorCode } from './errors.ts';

/** Longest relative path accepted; the same cap as `RelativePathSchema` in protocol/task.ts. */
export const MAX_REL_PATH_LENGTH = 1024;
/** Longest single name in bytes (NAME_MAX on Linux). */
const MAX_NAME_BYTES = 255;
/** Mode of files and directories we create. Never group/world writable. */
export const FILE_MODE = 0o644;
export const EXEC_FILE_MODE = 0o755;
export const DIR_MODE = 0o755;

/**
 * Validates a grant-relative path and splits it into names. The rules are those of
 * `RelativePathSchema` (protocol/task.ts), checked again here because this layer must be safe on
 * its own:
 * - `..` segments and absolute paths are `path_escape`;
 * - NUL and other control characters, backslashes, empty or `.` segments (`a//b`, `./a`, `a/`),
 *   names over 255 bytes and paths over 1024 characters are `path_invalid`.
 *
 * `''` means the root itself and is accepted only with `allowRoot` (list/stat).
 */
export function splitRelPath(rel: string, opts: { allowRoot?: boolean } = {}): string[] {
  if (typeof rel !== 'string')
    throw new GrantPathError('path_invalid', String(rel), 'not a string');
  // NUL first: a C string would end there, so nothing after it may be trusted or echoed as is.
  if (rel.includes('\0'))
    throw new GrantPathError('path_invalid', rel.replaceAll('\0', '\\0'), 'contains NUL');
  if (rel === '') {
    if (opts.allowRoot) return [];
    throw new GrantPathError('path_invalid', rel, 'empty path');
  }
  if (rel.startsWith('/')) throw new GrantPathError('path_escape', rel, 'absolute path');
  if (rel.length > MAX_REL_PATH_LENGTH)
    throw new GrantPathError('path_invalid', rel.slice(0, 64), 'path too long');
  if (/[\x00-\x1f\x7f\\]/.test(rel)) {
    throw new GrantPathError('path_invalid', rel, 'control character or backslash');
  }
  const segs = rel.split('/');
  for (const seg of segs) {
    if (seg === '..') throw new GrantPathError('path_escape', rel, '".." segment');
    if (seg === '' || seg === '.')
      throw new GrantPathError('path_invalid', rel, 'empty or "." segment');
    if (Buffer.byteLength(seg) > MAX_NAME_BYTES)
      throw new GrantPathError('path_invalid', rel, 'name too long');
  }
  return segs;
}

/** Byte budget of a writable grant (or its staged copy). Mutated by writeFile/remove. */
export interface Quota {
  readonly maxBytes: number;
  /** Bytes of regular files currently in the tree, as far as this process knows. */
  usedBytes: number;
}

export function createQuota(maxBytes: number, usedBytes = 0): Quota {
  return { maxBytes, usedBytes };
}

export interface DirEntry {
  name: string;
  type: 'file' | 'dir';
  /** Bytes for files, 0 for directories. */
  size: number;
}

export interface EntryStat {
  type: 'file' | 'dir';
  size: number;
  mtimeMs: number;
  /** Permission bits (`mode & 0o7777`). */
  mode: number;
}

/**
 * Reads a plain file. `too_large` when it is bigger than `maxBytes` (checked on the open fd, and
 * again while reading in case it grows).
 */
export async function readFile(root: string, rel: string, maxBytes: number): Promise<Buffer> {
  if (!Number.isSafeInteger(maxBytes) || maxBytes < 0)
    throw new RangeError('maxBytes must be a non-negative integer');
  const segs = splitRelPath(rel);
  const name = segs.pop() as string;
  return withDir(root, segs, async (dir) => {
    const { fh, stats } = await dir.openFile(name);
    try {
      if (stats.size > BigInt(maxBytes)) {
        throw new GrantPathError('too_large', rel, `${stats.size} bytes, limit ${maxBytes}`);
      }
      // Read at most one byte past the cap: enough to notice a file that grew after the fstat.
      const buf = Buffer.allocUnsafe(Math.min(64 * 1024, maxBytes + 1));
      const chunks: Buffer[] = [];
      let total = 0;
      for (;;) {
        const { bytesRead } = await fh.read(buf, 0, buf.length, null);
        if (bytesRead === 0) break;
        total += bytesRead;
        if (total > maxBytes)
          throw new GrantPathError('too_large', rel, `grew past ${maxBytes} bytes`);
        chunks.push(Buffer.from(buf.subarray(0, bytesRead)));
      }
      return Buffer.concat(chunks, total);
    } finally {
      await fh.close();
    }
  });
}

/**
 * Writes a whole file, creating missing parent directories (mode 0755) and the file (mode 0644).
 * The new content is written to a temp file in the same directory and renamed over the target:
 * readers never see half a file, and a target that is (or becomes) a link is replaced rather than
 * written through. The target must not be a directory, symlink, hard link or special file.
 *
 * The quota is charged by the size difference before anything is written (`quota_exceeded`
 * leaves the tree untouched, without even creating parent directories) and refunded on failure.
 * It is bookkeeping for early refusal only; `diff()` re-measures the staged tree authoritatively.
 */
export async function writeFile(
  root: string,
  rel: string,
  data: Uint8Array | string,
  quota: Quota,
  opts: { mode?: number; owner?: Owner } = {},
): Promise<void> {
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  const segs = splitRelPath(rel);
  const name = segs.pop() as string;
  const rootDir = await DirRef.openRoot(root);
  let parent: DirRef | undefined;
  try {
    // Look before creating anything, so a refused write leaves no empty directories behind.
    let oldSize = 0;
    try {
      parent = await rootDir.walk(segs);
    } catch (err) {
      if (!(err instanceof GrantPathError && err.code === 'not_found')) throw err;
    }
    if (parent) {
      const st = await parent.lstatChild(name);
      if (st) {
        assertPlain(st, rel);
        if (st.isDirectory()) throw new GrantPathError('is_a_directory', rel);
        oldSize = Number(st.size);
      }
    }
    const delta = bytes.byteLength - oldSize;
    if (quota.usedBytes + delta > quota.maxBytes) {
      throw new GrantPathError(
        'quota_exceeded',
        rel,
        `${quota.usedBytes + delta} bytes would exceed the grant's ${quota.maxBytes}`,
      );
    }
    // Reserve synchronously (no await since the check) so concurrent writes cannot both pass.
    quota.usedBytes += delta;
    try {
      parent ??= await rootDir.walk(segs, { mode: DIR_MODE, owner: opts.owner });
      await writeAtomic(parent, name, bytes, opts.mode ?? FILE_MODE, opts.owner);
    } catch (err) {
      quota.usedBytes -= delta;
      throw err;
    }
  } finally {
    if (parent && parent !== rootDir) await parent.close();
    await rootDir.close();
  }
}

/** Creates a directory and any missing parents (mode 0755). An existing directory is fine. */
export async function makeDir(root: string, rel: string): Promise<void> {
  const segs = splitRelPath(rel);
  await withDir(root, segs, async () => undefined, { mode: DIR_MODE });
}

/**
 * Lists a directory (`''` = the grant root). Only plain files and directories are listed:
 * symlinks, hard-linked files and special files are left out, so a listing never describes
 * anything outside the grant. Sorted by name.
 */
export async function list(root: string, rel: string): Promise<DirEntry[]> {
  const segs = splitRelPath(rel, { allowRoot: true });
  return withDir(root, segs, async (dir) => {
    const out: DirEntry[] = [];
    for (const name of await dir.names()) {
      const st = await dir.lstatChild(name);
      if (!st) continue; // removed since readdir
      if (st.isDirectory()) out.push({ name, type: 'dir', size: 0 });
      else if (st.isFile() && st.nlink === 1n)
        out.push({ name, type: 'file', size: Number(st.size) });
    }
    return out;
  });
}

/** Describes a plain file or directory (`''` = the grant root); never follows a symlink. */
export async function stat(root: string, rel: string): Promise<EntryStat> {
  const segs = splitRelPath(rel, { allowRoot: true });
  const name = segs.pop();
  return withDir(root, segs, async (dir) => {
    const st = name === undefined ? dir.stats : await dir.lstatChild(name);
    if (!st) throw new GrantPathError('not_found', rel);
    assertPlain(st, rel);
    return {
      type: st.isDirectory() ? 'dir' : 'file',
      size: st.isDirectory() ? 0 : Number(st.size),
      mtimeMs: Number(st.mtimeMs),
      mode: Number(st.mode & 0o7777n),
    };
  });
}

/**
 * Removes a file, or a directory with everything in it. The named path itself must be a plain
 * file or directory (a symlink is `path_escape`); inside a removed directory every entry is
 * unlinked through directory fds, and unlink never follows, so nothing outside is touched.
 * Frees the removed bytes from `quota` when given.
 */
export async function remove(root: string, rel: string, quota?: Quota): Promise<void> {
  const segs = splitRelPath(rel);
  const name = segs.pop() as string;
  await withDir(root, segs, async (dir) => {
    const st = await dir.lstatChild(name);
    if (!st) throw new GrantPathError('not_found', rel);
    assertPlain(st, rel);
    const freed = st.isDirectory() ? await treeBytes(dir, name) : Number(st.size);
    if (st.isDirectory()) await dir.removeTree(name);
    else await dir.unlinkChild(name);
    if (quota) quota.usedBytes = Math.max(0, quota.usedBytes - freed);
  });
}

/** Bytes of regular files under `dir/name` (for quota refunds; best effort). */
async function treeBytes(dir: DirRef, name: string): Promise<number> {
  const sub = await dir.openDir(name);
  try {
    let total = 0;
    for (const child of await sub.names()) {
      const st = await sub.lstatChild(child);
      if (st?.isDirectory()) total += await treeBytes(sub, child);
      else if (st?.isFile()) total += Number(st.size);
    }
    return total;
  } finally {
    await sub.close();
  }
}

/**
 * Writes `bytes` to `dir/name` via temp file + rename. The temp file is created exclusively with
 * `O_NOFOLLOW`, its mode and owner set through the fd, and removed if anything fails.
 */
export async function writeAtomic(
  dir: DirRef,
  name: string,
  bytes: Uint8Array,
  mode: number,
  owner?: Owner,
): Promise<void> {
  const tmp = await dir.createTemp();
  try {
    try {
      await tmp.fh.writeFile(bytes);
      await tmp.fh.chmod(mode);
      if (owner) await tmp.fh.chown(owner.uid, owner.gid);
    } finally {
      await tmp.fh.close();
    }
    await dir.renameFrom(dir, tmp.name, name);
  } catch (err) {
    await dir.unlinkChild(tmp.name).catch(() => undefined);
    throw err;
  }
}

/** Opens the root, walks `segs`, runs `fn` on the directory reached, and closes everything. */
async function withDir<T>(
  root: string,
  segs: readonly string[],
  fn: (dir: DirRef) => Promise<T>,
  create?: { mode: number },
): Promise<T> {
  const rootDir = await DirRef.openRoot(root);
  try {
    const dir = await rootDir.walk(segs, create);
    try {
      return await fn(dir);
    } finally {
      if (dir !== rootDir) await dir.close();
    }
  } finally {
    await rootDir.close();
  }
}
