/**
 * Walks a grant tree with lstat only and describes it: the manifest staging compares against, and
 * what tests use to prove a tree was left byte-for-byte untouched.
 *
 * A grant may contain only regular files and directories. By default the scan refuses, with
 * `special_file` naming the entry:
 * - symlinks — even one pointing inside: host-side tooling (backup jobs, an admin's `cp -r`, a
 *   later copy into staging done by something less careful than this module) may follow it, and a
 *   planted link is exactly how a sandbox would try to make such tooling reach outside;
 * - hard-linked files (nlink > 1) — the same inode is reachable from a path outside the grant, so
 *   copying it leaks that file and writing it in place would modify it;
 * - devices, FIFOs, sockets — reading them has side effects or blocks, and they are never data.
 *
 * The walk goes through directory fds with `O_NOFOLLOW` (dir-handle.ts), so a directory swapped
 * for a symlink during the scan is refused, not followed.
 */
import { createHash } from 'node:crypto';
import type { BigIntStats } from 'node:fs';
import { DirRef, joinRel, kindOf, type EntryKind } from './dir-handle.ts';
import { GrantPathError } from './errors.ts';
import { MAX_REL_PATH_LENGTH } from './safe-path.ts';

export interface ManifestEntry {
  type: EntryKind;
  /** Bytes (for hashed files: the bytes actually hashed); 0 for directories. */
  size: number;
  /** Hex SHA-256 of the content: plain files, when hashing. */
  sha256?: string;
  mtimeMs: number;
  /** bigint: inode numbers can exceed 2^53 (XFS, btrfs), and a rounded ino would compare wrong. */
  ino: bigint;
  nlink: number;
  /** Permission bits (`mode & 0o7777`). */
  mode: number;
}

/** Entries by path relative to the root (the root itself is not listed), in walk order. */
export type Manifest = Map<string, ManifestEntry>;

export interface ScanOptions {
  /** Compute sha256 of every plain file (default true). */
  hash?: boolean;
  /** Throw `special_file` on symlinks, hard links, devices, FIFOs, sockets (default true). With
   * false they are recorded (type `symlink` / `special`, or `file` with nlink > 1, unhashed). */
  refuseSpecial?: boolean;
  /** Refuse (`quota_exceeded`) a tree with more entries than this (default 100 000), so a
   * sandbox cannot make the runner walk millions of empty files. */
  maxEntries?: number;
}

export const DEFAULT_MAX_ENTRIES = 100_000;

/** Scans the grant at the absolute host path `root`. */
export async function scanGrant(root: string, opts: ScanOptions = {}): Promise<Manifest> {
  const dir = await DirRef.openRoot(root);
  try {
    return await scanDir(dir, opts);
  } finally {
    await dir.close();
  }
}

/** Scans below an already-open directory (paths relative to it). */
export async function scanDir(root: DirRef, opts: ScanOptions = {}): Promise<Manifest> {
  const hash = opts.hash ?? true;
  const refuse = opts.refuseSpecial ?? true;
  const maxEntries = opts.maxEntries ?? DEFAULT_MAX_ENTRIES;
  const out: Manifest = new Map();

  const visit = async (dir: DirRef, prefix: string): Promise<void> => {
    // strict: a name that is not UTF-8 cannot be described or diffed, so the tree is refused
    // rather than silently incomplete.
    for (const name of await dir.names({ strict: true })) {
      const rel = joinRel(prefix, name);
      // Checked before descending: bounds the depth of the walk (and the fds it holds open).
      if (rel.length > MAX_REL_PATH_LENGTH)
        throw new GrantPathError('path_invalid', rel.slice(0, 64), 'path too long');
      const st = await dir.lstatChild(name);
      if (!st) continue; // deleted since readdir
      if (out.size >= maxEntries) {
        throw new GrantPathError('quota_exceeded', rel, `more than ${maxEntries} entries`);
      }
      const plain = st.isDirectory() || (st.isFile() && st.nlink === 1n);
      if (!plain && refuse) throw specialFileError(st, rel);
      const entry = describe(st);
      out.set(rel, entry);
      if (st.isDirectory()) {
        const sub = await dir.openDir(name);
        try {
          await visit(sub, rel);
        } finally {
          await sub.close();
        }
      } else if (plain && hash) {
        const h = await hashFile(dir, name);
        entry.sha256 = h.sha256;
        entry.size = h.size;
      }
    }
  };
  await visit(root, '');
  return out;
}

/** Total bytes of regular files in a manifest. */
export function manifestBytes(m: Manifest): number {
  let total = 0;
  for (const e of m.values()) if (e.type === 'file') total += e.size;
  return total;
}

/** SHA-256 and length of a plain file in `dir`, read through a no-follow fd. */
export async function hashFile(
  dir: DirRef,
  name: string,
): Promise<{ sha256: string; size: number }> {
  const { fh } = await dir.openFile(name);
  try {
    const h = createHash('sha256');
    let size = 0;
    const buf = Buffer.allocUnsafe(64 * 1024);
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, buf.length, null);
      if (bytesRead === 0) break;
      size += bytesRead;
      h.update(buf.subarray(0, bytesRead));
    }
    return { sha256: h.digest('hex'), size };
  } finally {
    await fh.close();
  }
}

function describe(st: BigIntStats): ManifestEntry {
  const type = kindOf(st);
  return {
    type,
    size: type === 'dir' ? 0 : Number(st.size),
    mtimeMs: Number(st.mtimeMs),
    ino: st.ino,
    nlink: Number(st.nlink),
    mode: Number(st.mode & 0o7777n),
  };
}

/** The refusal for an entry that is not a plain file or directory, saying what it is. */
export function specialFileError(st: BigIntStats, rel: string): GrantPathError {
  const what = st.isSymbolicLink()
    ? 'symlink'
    : st.isFile()
      ? `hard link (nlink ${st.nlink})`
      : st.isFIFO()
        ? 'FIFO'
        : st.isSocket()
          ? 'socket'
          : st.isBlockDevice() || st.isCharacterDevice()
            ? 'device'
            : 'special file';
  return new GrantPathError(
    'special_file',
    rel,
    `${what}: a grant may hold only regular files and directories`,
  );
}
