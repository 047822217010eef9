/**
 * Race-resistant directory walking: the primitive everything else in `runner/grants/` is built on.
 *
 * The classic way to "stay inside a root" — lstat every component of `root/a/b/c`, then open the
 * string — has a time-of-check/time-of-use hole: between the lstat and the open, anyone who can
 * write in the tree can swap `a` for a symlink to `/`, and the open follows it. Node has no
 * `openat(2)`, so we emulate it: we hold an open file descriptor for each directory and name its
 * children as `/proc/self/fd/<fd>/<name>`. The kernel resolves the magic link `/proc/self/fd/<fd>`
 * to the exact directory inode we opened (whatever happened to its path since), then looks up
 * exactly one more name in it. Every child is opened with `O_NOFOLLOW` (plus `O_DIRECTORY` for
 * directories), so a symlink is never followed at any depth, and a swap after our check simply
 * makes the open fail instead of redirecting it.
 *
 * Where `/proc` is not available (macOS development, a runner with a restricted procfs) we fall
 * back to path strings and re-check, right before every operation, that the directory's path
 * still resolves to the inode we hold. That narrows the race to a swap-and-restore between the
 * check and the syscall; it does not close it. See {@link usingProcFd}.
 *
 * The grant root itself is admin configuration: it must be an absolute path whose last component
 * is a real directory (opened with `O_NOFOLLOW`); the directories above it are trusted.
 */
import { Buffer } from 'node:buffer';
import { randomBytes } from 'node:crypto';
import { constants as C, type BigIntStats } from 'node:fs';
import fsp, { type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { errnoCode, GrantPathError } from './errors.ts';

const O_DIR = C.O_RDONLY | C.O_DIRECTORY | C.O_NOFOLLOW;
/** Read-only open of a file we already lstat'ed. `O_NONBLOCK` so a FIFO swapped in after the
 * lstat cannot park a libuv thread forever; it has no effect on regular files. */
export const O_READ_FILE = C.O_RDONLY | C.O_NOFOLLOW | C.O_NONBLOCK;
/** Exclusive create of a temp file: never reuses an existing name, never follows a planted link. */
const O_CREATE_TEMP = C.O_WRONLY | C.O_CREAT | C.O_EXCL | C.O_NOFOLLOW;

const DOT = Buffer.from('.');
const DOTDOT = Buffer.from('..');

/** Names of our in-flight temp files/dirs. */
export const TEMP_PREFIX = '.airlock-tmp-';

/** Owner to give created entries (only when running as root; otherwise chown would fail). */
export interface Owner {
  uid: number;
  gid: number;
}

/** How {@link DirRef.openDir} creates a missing directory. */
export interface CreateDir {
  /** Exact mode (set with fchmod, so umask does not apply). */
  mode: number;
  owner?: Owner;
  /** Fail (`conflict`) if the name already exists instead of opening what is there. */
  exclusive?: boolean;
}

let forcedProcFd: boolean | undefined;
let procFdProbe: Promise<boolean> | undefined;

/**
 * @internal Tests only: force (`true`/`false`) or re-detect (`undefined`) fd-relative resolution,
 * so the path-string fallback is exercised on Linux too.
 */
export function _setProcFdResolution(on: boolean | undefined): void {
  forcedProcFd = on;
}

/** True when paths are resolved through `/proc/self/fd` (race-free); false for the fallback. */
export async function usingProcFd(): Promise<boolean> {
  if (forcedProcFd !== undefined) return forcedProcFd;
  procFdProbe ??= (async () => {
    // Open a directory, then check that /proc/self/fd/<fd>/. is that very inode. Anything else
    // (no /proc, hidepid, a chroot without /proc) means we must not rely on it.
    let h: FileHandle | undefined;
    try {
      h = await fsp.open('/', O_DIR);
      const [a, b] = await Promise.all([
        h.stat({ bigint: true }),
        fsp.lstat(`/proc/self/fd/${h.fd}/.`, { bigint: true }),
      ]);
      return a.dev === b.dev && a.ino === b.ino;
    } catch {
      return false;
    } finally {
      await h?.close();
    }
  })();
  return procFdProbe;
}

/** Joins grant-relative paths; `''` is the root. */
export function joinRel(dir: string, name: string): string {
  return dir === '' ? name : `${dir}/${name}`;
}

/** An open directory inside a grant (or the grant root), named by its fd, never by its path. */
export class DirRef {
  private closed = false;

  private constructor(
    private readonly handle: FileHandle,
    /** Host path string: used only in fallback mode, and never shown to anyone. */
    private readonly abs: string,
    /** Path relative to the grant root, for error messages and bookkeeping. */
    readonly rel: string,
    readonly stats: BigIntStats,
    private readonly viaProc: boolean,
  ) {}

  /** Opens a grant root: absolute path, last component a real directory (not a symlink). */
  static async openRoot(root: string): Promise<DirRef> {
    if (typeof root !== 'string' || !path.isAbsolute(root) || root.includes('\0')) {
      throw new GrantPathError('path_invalid', '', 'grant root must be an absolute path');
    }
    const abs = path.resolve(root);
    let handle: FileHandle;
    try {
      handle = await fsp.open(abs, O_DIR);
    } catch (err) {
      throw await openDirError(err, abs, '');
    }
    try {
      const stats = await handle.stat({ bigint: true });
      return new DirRef(handle, abs, '', stats, await usingProcFd());
    } catch (err) {
      await handle.close();
      throw err;
    }
  }

  get dev(): bigint {
    return this.stats.dev;
  }
  get ino(): bigint {
    return this.stats.ino;
  }

  /** A path naming the entry `name` directly inside this directory, for one syscall. */
  child(name: string): string {
    if (this.closed) throw new Error(`DirRef ${JSON.stringify(this.rel)} used after close`);
    // Defence in depth: callers only pass validated single segments or readdir names.
    if (name === '' || name === '.' || name === '..' || name.includes('/') || name.includes('\0')) {
      throw new GrantPathError('path_invalid', joinRel(this.rel, name));
    }
    return this.viaProc ? `/proc/self/fd/${this.handle.fd}/${name}` : `${this.abs}/${name}`;
  }

  /** A path naming this directory itself (for readdir). */
  self(): string {
    if (this.closed) throw new Error(`DirRef ${JSON.stringify(this.rel)} used after close`);
    return this.viaProc ? `/proc/self/fd/${this.handle.fd}` : this.abs;
  }

  /**
   * Fallback mode only: check that our path string still leads to the directory we hold. Call
   * right before every syscall that uses {@link child}. A no-op with /proc (nothing to check: the
   * kernel resolves the fd, not the path).
   */
  async verify(): Promise<void> {
    if (this.viaProc) return;
    let st: BigIntStats | undefined;
    try {
      st = await fsp.lstat(this.abs, { bigint: true });
    } catch {
      st = undefined;
    }
    if (!st || !st.isDirectory() || st.dev !== this.dev || st.ino !== this.ino) {
      throw new GrantPathError('path_escape', this.rel, 'directory was replaced while in use');
    }
  }

  /** lstat of `name` in this directory; `undefined` when it does not exist. Never follows. */
  async lstatChild(name: string): Promise<BigIntStats | undefined> {
    await this.verify();
    try {
      return await fsp.lstat(this.child(name), { bigint: true });
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') return undefined;
      throw fsError(err, joinRel(this.rel, name));
    }
  }

  /**
   * Opens the subdirectory `name`, optionally creating it. Refuses symlinks (`path_escape`) and
   * anything that is not a directory (`not_a_directory`).
   */
  async openDir(name: string, create?: CreateDir): Promise<DirRef> {
    const rel = joinRel(this.rel, name);
    let st = await this.lstatChild(name);
    let created = false;
    if (!st && create) {
      try {
        await this.verify();
        await fsp.mkdir(this.child(name), create.mode);
        created = true;
      } catch (err) {
        // EEXIST: someone raced us; whatever is there now is checked below like anything else
        // (unless we need a directory nobody else could have prepared).
        if (errnoCode(err) !== 'EEXIST') throw fsError(err, rel);
        if (create.exclusive) throw new GrantPathError('conflict', rel, 'already exists');
      }
      st = await this.lstatChild(name);
    }
    if (!st) throw new GrantPathError('not_found', rel);
    if (st.isSymbolicLink()) throw new GrantPathError('path_escape', rel, 'is a symlink');
    if (!st.isDirectory()) throw new GrantPathError('not_a_directory', rel);
    let handle: FileHandle;
    try {
      await this.verify();
      handle = await fsp.open(this.child(name), O_DIR);
    } catch (err) {
      throw await openDirError(err, this.child(name), rel);
    }
    try {
      const stats = await handle.stat({ bigint: true });
      // The inode we opened must be the one we checked; otherwise it was swapped in between.
      if (stats.ino !== st.ino || stats.dev !== st.dev) {
        throw new GrantPathError('conflict', rel, 'directory was replaced while opening it');
      }
      if (created && create) {
        // Only a directory we just made: an existing one keeps its mode and owner. mkdir's mode is filtered by umask; set it exactly. fchmod/fchown act on the fd, never
        // on a path, so they cannot be redirected.
        await handle.chmod(create.mode);
        if (create.owner) await handle.chown(create.owner.uid, create.owner.gid);
      }
      const abs = this.viaProc ? '' : `${this.abs}/${name}`;
      return new DirRef(handle, abs, rel, stats, this.viaProc);
    } catch (err) {
      await handle.close();
      throw err;
    }
  }

  /**
   * Opens the regular file `name` for reading. It must be a plain file (see {@link assertPlain})
   * both by lstat before and by fstat after the open, and the same inode both times.
   */
  async openFile(name: string): Promise<{ fh: FileHandle; stats: BigIntStats }> {
    const rel = joinRel(this.rel, name);
    const st = await this.lstatChild(name);
    if (!st) throw new GrantPathError('not_found', rel);
    assertPlain(st, rel);
    if (st.isDirectory()) throw new GrantPathError('is_a_directory', rel);
    let fh: FileHandle;
    try {
      await this.verify();
      fh = await fsp.open(this.child(name), O_READ_FILE);
    } catch (err) {
      throw fsError(err, rel);
    }
    try {
      const stats = await fh.stat({ bigint: true });
      assertPlain(stats, rel);
      if (stats.ino !== st.ino || stats.dev !== st.dev || !stats.isFile()) {
        throw new GrantPathError('conflict', rel, 'file was replaced while opening it');
      }
      return { fh, stats };
    } catch (err) {
      await fh.close();
      throw err;
    }
  }

  /** Creates a fresh temp file (mode 0600, exclusive, no-follow) in this directory. */
  async createTemp(): Promise<{ name: string; fh: FileHandle }> {
    const name = `${TEMP_PREFIX}${randomBytes(12).toString('hex')}`;
    await this.verify();
    try {
      return { name, fh: await fsp.open(this.child(name), O_CREATE_TEMP, 0o600) };
    } catch (err) {
      throw fsError(err, joinRel(this.rel, name));
    }
  }

  /**
   * Renames `from` (in `fromDir`) to `name` in this directory. rename(2) never follows a symlink
   * in either final component: if a link was planted at the target it is replaced, not written
   * through. Both parents are resolved through their fds.
   */
  async renameFrom(fromDir: DirRef, from: string, name: string): Promise<void> {
    await fromDir.verify();
    await this.verify();
    try {
      await fsp.rename(fromDir.child(from), this.child(name));
    } catch (err) {
      throw fsError(err, joinRel(this.rel, name));
    }
  }

  /** unlink(2) of `name`: removes the entry, never what a symlink points to. */
  async unlinkChild(name: string): Promise<void> {
    await this.verify();
    try {
      await fsp.unlink(this.child(name));
    } catch (err) {
      throw fsError(err, joinRel(this.rel, name));
    }
  }

  /** rmdir(2) of `name`; returns false (and removes nothing) when it is not empty. */
  async rmdirChild(name: string): Promise<boolean> {
    await this.verify();
    try {
      await fsp.rmdir(this.child(name));
      return true;
    } catch (err) {
      const code = errnoCode(err);
      if (code === 'ENOTEMPTY' || code === 'EEXIST') return false;
      throw fsError(err, joinRel(this.rel, name));
    }
  }

  /**
   * Entry names of this directory as raw bytes. File names are bytes on Linux; Node decodes them
   * as UTF-8 and a name that is not valid UTF-8 would come back mangled, naming nothing (lstat:
   * ENOENT) — an entry we could neither describe nor delete. Callers decide: see {@link names}.
   */
  async rawNames(): Promise<Buffer[]> {
    await this.verify();
    try {
      return await fsp.readdir(this.self(), { encoding: 'buffer' });
    } catch (err) {
      throw fsError(err, this.rel);
    }
  }

  /**
   * Entry names, sorted by code unit (deterministic, locale-free). A name that is not valid UTF-8
   * is `path_invalid` with `strict` (a tree we must describe completely), else left out.
   */
  async names(opts: { strict?: boolean } = {}): Promise<string[]> {
    const out: string[] = [];
    for (const raw of await this.rawNames()) {
      const name = raw.toString('utf8');
      if (Buffer.from(name, 'utf8').equals(raw)) out.push(name);
      else if (opts.strict) {
        throw new GrantPathError(
          'path_invalid',
          joinRel(this.rel, name),
          'name is not valid UTF-8',
        );
      }
    }
    return out.sort(compareCodeUnits);
  }

  /** Creates the file `name` exclusively (`O_EXCL|O_NOFOLLOW`): never reuses or follows anything. */
  async createFile(name: string, mode = 0o600): Promise<FileHandle> {
    await this.verify();
    try {
      return await fsp.open(this.child(name), O_CREATE_TEMP, mode);
    } catch (err) {
      throw fsError(err, joinRel(this.rel, name));
    }
  }

  /** Creates and opens a fresh private (0700) directory with a temp name. mkdir is exclusive. */
  async createTempDir(): Promise<DirRef> {
    const name = `${TEMP_PREFIX}${randomBytes(12).toString('hex')}`;
    await this.verify();
    try {
      await fsp.mkdir(this.child(name), 0o700);
    } catch (err) {
      throw fsError(err, joinRel(this.rel, name));
    }
    return this.openDir(name);
  }

  /** The last component of this directory's name (for removing it from its parent). */
  get name(): string {
    return this.rel.slice(this.rel.lastIndexOf('/') + 1);
  }

  /** fchown of this directory (through the fd). */
  async setOwner(owner: Owner): Promise<void> {
    await this.handle.chown(owner.uid, owner.gid);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.handle.close();
  }

  /**
   * Walks down `segs` (already validated single names) from this directory and returns the last
   * one opened (or `this` for no segments). Intermediate handles are closed. The caller closes the
   * result unless it is `this`.
   */
  async walk(segs: readonly string[], create?: CreateDir): Promise<DirRef> {
    let dir: DirRef | undefined;
    for (const seg of segs) {
      const parent: DirRef = dir ?? this;
      try {
        dir = await parent.openDir(seg, create);
      } finally {
        if (parent !== this) await parent.close();
      }
    }
    return dir ?? this;
  }

  /**
   * Deletes `name` and, if it is a directory, everything in it, depth first, through fds. Unlike
   * `fs.rm({ recursive: true })` this cannot be redirected: Node's rimraf re-reads directories by
   * path, so a directory swapped for a symlink mid-way would make it delete the link's target's
   * contents (the CVE-2022-21658 class of bug). unlink never follows, so a symlink, FIFO or device
   * inside is removed as an entry, never acted on.
   */
  async removeTree(name: string): Promise<void> {
    await this.removeRaw(Buffer.from(name, 'utf8'));
  }

  /** {@link removeTree} by raw name bytes, so entries whose names are not UTF-8 go too. */
  private async removeRaw(raw: Buffer): Promise<void> {
    const rel = joinRel(this.rel, raw.toString('utf8'));
    const p = this.childRaw(raw);
    await this.verify();
    let st: BigIntStats;
    try {
      st = await fsp.lstat(p, { bigint: true });
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') return;
      throw fsError(err, rel);
    }
    try {
      if (!st.isDirectory()) {
        await this.verify();
        await fsp.unlink(p);
        return;
      }
      let handle: FileHandle;
      await this.verify();
      try {
        handle = await fsp.open(p, O_DIR);
      } catch (err) {
        throw await openDirError(err, p.toString(), rel);
      }
      const stats = await handle.stat({ bigint: true }).catch(async (err: unknown) => {
        await handle.close();
        throw err;
      });
      if (stats.ino !== st.ino || stats.dev !== st.dev) {
        await handle.close();
        throw new GrantPathError('conflict', rel, 'directory was replaced while removing it');
      }
      const sub = new DirRef(
        handle,
        this.viaProc ? '' : `${this.abs}/${raw.toString()}`,
        rel,
        stats,
        this.viaProc,
      );
      try {
        for (const child of await sub.rawNames()) await sub.removeRaw(child);
      } finally {
        await sub.close();
      }
      await this.verify();
      await fsp.rmdir(p);
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') return; // raced with another remover: gone is gone
      throw fsError(err, rel);
    }
  }

  /** {@link child} for a raw (possibly non-UTF-8) name from {@link rawNames}. */
  private childRaw(raw: Buffer): Buffer {
    if (
      raw.length === 0 ||
      raw.includes(0x2f) ||
      raw.includes(0) ||
      raw.equals(DOT) ||
      raw.equals(DOTDOT)
    ) {
      throw new GrantPathError('path_invalid', joinRel(this.rel, raw.toString()));
    }
    return Buffer.concat([Buffer.from(`${this.self()}/`), raw]);
  }
}

/** Code-unit order: what `Array.prototype.sort()` does, spelled out so intent is explicit. */
export function compareCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** What an lstat result is, in grant terms. */
export type EntryKind = 'file' | 'dir' | 'symlink' | 'special';
export function kindOf(st: BigIntStats): EntryKind {
  if (st.isSymbolicLink()) return 'symlink';
  if (st.isDirectory()) return 'dir';
  if (st.isFile()) return 'file';
  return 'special';
}

/**
 * Throws unless `st` (an lstat or fstat) is a plain directory or a plain file. Symlinks are
 * `path_escape` (following one is how a path leaves a grant); hard-linked files (nlink > 1: the
 * same inode is reachable from outside the grant, so reading leaks and writing in place would
 * modify the outside file), devices, FIFOs and sockets are `special_file`.
 */
export function assertPlain(st: BigIntStats, rel: string): void {
  if (st.isSymbolicLink()) throw new GrantPathError('path_escape', rel, 'is a symlink');
  if (st.isDirectory()) return;
  if (!st.isFile()) throw new GrantPathError('special_file', rel, 'device, FIFO or socket');
  if (st.nlink > 1n) throw new GrantPathError('special_file', rel, `hard link (nlink ${st.nlink})`);
}

/** Maps an fs errno to a GrantPathError; anything unexpected is rethrown as is. */
export function fsError(err: unknown, rel: string): Error {
  if (err instanceof GrantPathError) return err;
  switch (errnoCode(err)) {
    case 'ENOENT':
      return new GrantPathError('not_found', rel);
    case 'ENOTDIR':
      return new GrantPathError('not_a_directory', rel);
    case 'EISDIR':
      return new GrantPathError('is_a_directory', rel);
    case 'ELOOP':
      return new GrantPathError('path_escape', rel, 'is a symlink');
    case 'ENAMETOOLONG':
      return new GrantPathError('path_invalid', rel, 'name too long');
    case 'ENXIO':
      return new GrantPathError('special_file', rel);
    default:
      return err instanceof Error ? err : new Error(String(err));
  }
}

/** open(O_DIRECTORY|O_NOFOLLOW) reports a symlink as ENOTDIR on Linux: look again to say which. */
async function openDirError(err: unknown, p: string, rel: string): Promise<Error> {
  const code = errnoCode(err);
  if (code === 'ENOTDIR' || code === 'ELOOP') {
    const st = await fsp.lstat(p).catch(() => undefined);
    if (st?.isSymbolicLink() || code === 'ELOOP') {
      return new GrantPathError('path_escape', rel, 'is a symlink');
    }
  }
  return fsError(err, rel);
}
