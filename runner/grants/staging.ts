/**
 * Staged writable grants (DESIGN.md §6): the sandbox works on a private copy; the changes it made
 * are computed afterwards and applied to the real directory only if the task succeeded.
 *
 *   stage()   real grant ──copy (no-follow, plain files/dirs only)──▶ private dir + manifest
 *   (sandbox runs against staged.dir)
 *   diff()    private dir vs manifest ──▶ FileChange[]  (refuses links/specials, checks quota)
 *   apply()   FileChange[] ──▶ real grant   (task succeeded)
 *   discard() rm -r private dir             (always, after apply or instead of it)
 *
 * Invariant: nothing here reads or writes outside the real grant dir or the staging dir. Every
 * path is walked through directory fds with O_NOFOLLOW (dir-handle.ts); writes into the real
 * grant are temp-file + rename; deletions are unlink/rmdir of an entry, which never follow.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { BigIntStats } from 'node:fs';
import path from 'node:path';
import type { FileChange } from '../../protocol/task.ts';
import { DirRef, joinRel, type Owner } from './dir-handle.ts';
import { GrantPathError } from './errors.ts';
import {
  createQuota,
  DIR_MODE,
  EXEC_FILE_MODE,
  FILE_MODE,
  MAX_REL_PATH_LENGTH,
  splitRelPath,
  type Quota,
} from './safe-path.ts';
import {
  DEFAULT_MAX_ENTRIES,
  hashFile,
  manifestBytes,
  scanDir,
  specialFileError,
  type Manifest,
  type ManifestEntry,
} from './scan.ts';

/** The part of a resolved mount (protocol `ResolvedMount`) staging needs. */
export interface GrantSource {
  /** Grant name, echoed in every FileChange. */
  grant: string;
  /** Absolute host path of the real grant directory. */
  hostPath: string;
  /** Byte cap of the grant: the staged tree may not grow past it. */
  maxBytes: number;
}

export interface StageOptions {
  /**
   * Give the staging dir and everything in it to this owner — the container sandbox user
   * (uid 10001, see `SANDBOX_UID`) so a non-root container can write to its bind mount. The dir
   * stays mode 0700, so no other host user can look in.
   */
  owner?: Owner;
  /** Cap on entries in the grant and in the staged tree (default 100 000). */
  maxEntries?: number;
}

/** A grant copied for one task. Treat as opaque apart from `dir`, `original` and `quota`. */
export interface StagedGrant {
  readonly grant: string;
  /** The real grant directory. */
  readonly hostPath: string;
  readonly maxBytes: number;
  readonly maxEntries: number;
  /** Where the private dir was created. */
  readonly stagingRoot: string;
  /** The private copy (mode 0700): bind-mount it (containers) or use it as the `fs` root (isolates). */
  readonly dir: string;
  /** What was copied: the baseline `diff()` compares against. Files carry sha256. */
  readonly original: Manifest;
  /** Byte budget for `safe-path.writeFile` on `dir`, starting at the copied bytes. */
  readonly quota: Quota;
  /** Inode of `dir`, so a swapped staging dir is noticed. */
  readonly dirIno: bigint;
  readonly dirDev: bigint;
}

/** Prefix of staging dir names under the staging root. */
const STAGE_PREFIX = 'grant-';

/**
 * Copies the grant into a fresh private directory under `stagingRoot` and records what it copied.
 * Only plain files and directories are copied — a symlink, hard link, device, FIFO or socket
 * anywhere in the grant fails the whole stage with `special_file` (nothing is half-staged: the
 * private dir is removed). Content and mode bits are copied (normalized to 0644/0755, so a
 * world-writable or setuid file never comes back); owners, times and xattrs are not.
 * `quota_exceeded` if the grant already holds more than `maxBytes` or `maxEntries`.
 */
export async function stage(
  grant: GrantSource,
  stagingRoot: string,
  opts: StageOptions = {},
): Promise<StagedGrant> {
  // Under the grant lock: an apply from this process never runs while we copy.
  return withGrantLock(grant.hostPath, () => stageLocked(grant, stagingRoot, opts));
}

async function stageLocked(
  grant: GrantSource,
  stagingRoot: string,
  opts: StageOptions,
): Promise<StagedGrant> {
  const maxEntries = opts.maxEntries ?? DEFAULT_MAX_ENTRIES;
  const src = await DirRef.openRoot(grant.hostPath);
  let parent: DirRef | undefined;
  let dst: DirRef | undefined;
  const name = `${STAGE_PREFIX}${randomBytes(12).toString('hex')}`;
  const mkdir = { mode: DIR_MODE, owner: opts.owner, exclusive: true };
  try {
    parent = await DirRef.openRoot(stagingRoot);
    // Exclusive: a name that already exists (planted, or a 1-in-2^96 collision) is never reused.
    dst = await parent.openDir(name, { ...mkdir, mode: 0o700 });
    const original: Manifest = new Map();
    let bytes = 0;

    const copyTree = async (from: DirRef, to: DirRef, prefix: string): Promise<void> => {
      for (const entry of await from.names({ strict: true })) {
        const rel = joinRel(prefix, entry);
        if (rel.length > MAX_REL_PATH_LENGTH)
          throw new GrantPathError('path_invalid', rel.slice(0, 64), 'path too long');
        const st = await from.lstatChild(entry);
        if (!st) continue; // deleted since readdir
        if (!(st.isDirectory() || (st.isFile() && st.nlink === 1n)))
          throw specialFileError(st, rel);
        if (original.size >= maxEntries) {
          throw new GrantPathError('quota_exceeded', rel, `more than ${maxEntries} entries`);
        }
        const base: Omit<ManifestEntry, 'type' | 'size'> = {
          mtimeMs: Number(st.mtimeMs),
          ino: st.ino,
          nlink: Number(st.nlink),
          mode: Number(st.mode & 0o7777n),
        };
        if (st.isDirectory()) {
          original.set(rel, { type: 'dir', size: 0, ...base });
          const a = await from.openDir(entry);
          try {
            const b = await to.openDir(entry, mkdir);
            try {
              await copyTree(a, b, rel);
            } finally {
              await b.close();
            }
          } finally {
            await a.close();
          }
        } else {
          const copied = await copyFile(from, entry, to, entry, {
            owner: opts.owner,
            maxBytes: grant.maxBytes - bytes,
            rel,
          });
          bytes += copied.size;
          original.set(rel, { type: 'file', size: copied.size, sha256: copied.sha256, ...base });
        }
      }
    };
    await copyTree(src, dst, '');

    return {
      grant: grant.grant,
      hostPath: path.resolve(grant.hostPath),
      maxBytes: grant.maxBytes,
      maxEntries,
      stagingRoot: path.resolve(stagingRoot),
      dir: path.join(path.resolve(stagingRoot), name),
      original,
      quota: createQuota(grant.maxBytes, bytes),
      dirIno: dst.ino,
      dirDev: dst.dev,
    };
  } catch (err) {
    // Never leave a half-staged copy behind (only ever remove the dir we created).
    if (parent && dst) {
      await dst.close();
      dst = undefined;
      await parent.removeTree(name).catch(() => undefined);
    }
    throw err;
  } finally {
    await dst?.close();
    await parent?.close();
    await src.close();
  }
}

/**
 * What the task changed: the staged tree compared with the manifest taken at stage time. Paths are
 * relative, sorted by code unit; for one path a deletion sorts before a creation (a file that
 * became a directory, or the reverse, is reported as both). Files carry size and sha256;
 * directories carry neither (a created directory is listed so an empty one is reproduced; a
 * deleted one so it is removed). Modified means different content: a mode-only change is not one.
 *
 * Throws, and nothing may be applied, when the staged tree holds anything but plain files and
 * directories (`special_file`: a symlink, hard link, FIFO… the code made), a name that is not a
 * valid relative path (`path_invalid`), more bytes than the grant's cap or more entries than
 * allowed (`quota_exceeded`).
 */
export async function diff(staged: StagedGrant): Promise<FileChange[]> {
  const dir = await openStaged(staged);
  let current: Manifest;
  try {
    current = await scanDir(dir, {
      hash: true,
      refuseSpecial: true,
      maxEntries: staged.maxEntries,
    });
  } finally {
    await dir.close();
  }
  const total = manifestBytes(current);
  if (total > staged.maxBytes) {
    throw new GrantPathError(
      'quota_exceeded',
      '',
      `staged tree holds ${total} bytes, grant allows ${staged.maxBytes}`,
    );
  }

  const changes: FileChange[] = [];
  const entry = (p: string, change: FileChange['change'], e?: ManifestEntry): FileChange => {
    splitRelPath(p); // the sandbox named these: must be a valid protocol RelativePath
    const c: FileChange = { grant: staged.grant, path: p, change };
    if (e?.type === 'file') {
      c.size = e.size;
      c.sha256 = e.sha256;
    }
    return c;
  };
  for (const [p, cur] of current) {
    const orig = staged.original.get(p);
    if (!orig) changes.push(entry(p, 'created', cur));
    else if (orig.type !== cur.type) changes.push(entry(p, 'deleted'), entry(p, 'created', cur));
    else if (cur.type === 'file' && cur.sha256 !== orig.sha256)
      changes.push(entry(p, 'modified', cur));
  }
  for (const p of staged.original.keys()) if (!current.has(p)) changes.push(entry(p, 'deleted'));
  return changes.sort(compareChanges);
}

/**
 * Applies `changes` (from {@link diff}) to the real grant directory, under a per-grant lock.
 *
 * Each change is checked against the staged tree (content must hash to the change's sha256; a
 * deleted path must be gone from the copy), so a doctored list can do nothing the sandbox did not
 * do. The real tree is checked before anything is written: every existing parent component must
 * be a real directory and every existing target a plain file or directory — a symlink planted in
 * the real grant after staging is `path_escape`, a hard link or special file `special_file`, and
 * the apply stops with the real grant untouched.
 *
 * Then, in two phases: (1) all new content is written into a private temp dir inside the grant
 * root (same filesystem) and fsynced; (2) deletions are applied deepest first (unlink; rmdir only
 * when empty — a directory that holds files the task never saw is kept and left out of the
 * result), then directories are created and files renamed into place, shallowest first. Every
 * step re-walks through no-follow fds, so a link planted between the check and the step makes the
 * step fail rather than follow it.
 *
 * New entries get the owner of the grant root, replaced files keep their owner (when running as
 * root). Returns the changes actually applied.
 */
export async function apply(
  staged: StagedGrant,
  changes: readonly FileChange[],
): Promise<FileChange[]> {
  const plan = planChanges(staged, changes);
  if (plan.length === 0) return [];
  return withGrantLock(staged.hostPath, async () => {
    const real = await DirRef.openRoot(staged.hostPath);
    const copy = await openStaged(staged).catch(async (err: unknown) => {
      await real.close();
      throw err;
    });
    let temp: DirRef | undefined;
    try {
      const deleting = new Set(plan.filter((s) => s.c.change === 'deleted').map((s) => s.c.path));
      // ---- check: no writes yet ----
      for (const s of plan) await checkReal(real, s, deleting);
      for (const s of plan) await checkStagedAgrees(copy, s, plan);

      // ---- phase 1: content into a private temp dir in the grant root ----
      if (plan.some((s) => s.kind === 'file')) temp = await real.createTempDir();
      const asRoot = process.getuid?.() === 0;
      const rootOwner: Owner = { uid: Number(real.stats.uid), gid: Number(real.stats.gid) };
      for (const [i, s] of plan.entries()) {
        if (s.kind !== 'file') continue;
        const srcDir = await copy.walk(s.segs.slice(0, -1));
        try {
          const existing = asRoot ? await lstatReal(real, s.segs) : undefined;
          const copied = await copyFile(srcDir, s.segs.at(-1) as string, temp as DirRef, `f${i}`, {
            owner: asRoot
              ? existing?.isFile()
                ? { uid: Number(existing.uid), gid: Number(existing.gid) }
                : rootOwner
              : undefined,
            maxBytes: staged.maxBytes,
            rel: s.c.path,
            sync: true,
          });
          if (copied.sha256 !== s.c.sha256 || copied.size !== s.c.size) {
            throw new GrantPathError(
              'conflict',
              s.c.path,
              'staged content does not match the change list',
            );
          }
        } finally {
          if (srcDir !== copy) await srcDir.close();
        }
      }

      // ---- phase 2: deletions deepest first, then creations shallowest first ----
      const applied: FileChange[] = [];
      const deletions = plan.filter((s) => s.c.change === 'deleted').reverse();
      for (const s of deletions) if (await deleteReal(real, s)) applied.push(s.c);
      for (const [i, s] of plan.entries()) {
        if (s.c.change === 'deleted') continue;
        const dirOwner = asRoot ? rootOwner : undefined;
        if (s.kind === 'dir') {
          const d = await real.walk(s.segs, { mode: DIR_MODE, owner: dirOwner });
          if (d !== real) await d.close();
        } else {
          const parent = await real.walk(s.segs.slice(0, -1), { mode: DIR_MODE, owner: dirOwner });
          try {
            const name = s.segs.at(-1) as string;
            const st = await parent.lstatChild(name);
            if (st) assertReplaceable(st, s.c.path);
            await parent.renameFrom(temp as DirRef, `f${i}`, name);
          } finally {
            if (parent !== real) await parent.close();
          }
        }
        applied.push(s.c);
      }
      return applied.sort(compareChanges);
    } finally {
      if (temp) {
        const tempName = temp.name;
        await temp.close();
        await real.removeTree(tempName).catch(() => undefined);
      }
      await copy.close();
      await real.close();
    }
  });
}

/** Removes the staging dir and everything in it (through fds: see DirRef.removeTree). Idempotent. */
export async function discard(staged: StagedGrant): Promise<void> {
  const parent = await DirRef.openRoot(staged.stagingRoot);
  try {
    await parent.removeTree(path.basename(staged.dir));
  } finally {
    await parent.close();
  }
}

// ---------------------------------------------------------------------------------------------
// Per-grant in-process lock

// Module state on purpose (STYLE otherwise avoids it): the lock must be process-wide, because
// both backends of one runner (isolate and docker) stage and apply the same grants.
const grantLocks = new Map<string, Promise<void>>();

/**
 * Runs `fn` with the lock for one grant directory held: applies to the same grant from this
 * process run one after another. (Runners on other hosts are not covered; see the report.)
 */
export async function withGrantLock<T>(hostPath: string, fn: () => Promise<T>): Promise<T> {
  const key = path.resolve(hostPath);
  const prev = grantLocks.get(key) ?? Promise.resolve();
  let release!: () => void;
  const mine = new Promise<void>((resolve) => {
    release = resolve;
  });
  const tail = prev.then(() => mine);
  grantLocks.set(key, tail);
  await prev; // never rejects: the chain is made only of `mine` promises
  try {
    return await fn();
  } finally {
    release();
    if (grantLocks.get(key) === tail) grantLocks.delete(key);
  }
}

// ---------------------------------------------------------------------------------------------
// Internals

interface Step {
  c: FileChange;
  segs: string[];
  kind: 'file' | 'dir' | 'delete';
}

/** Validates a change list and orders it by path (deletion before creation for one path). */
function planChanges(staged: StagedGrant, changes: readonly FileChange[]): Step[] {
  const seen = new Map<string, Set<string>>();
  const plan: Step[] = [];
  for (const c of changes) {
    if (c.grant !== staged.grant)
      throw new GrantPathError(
        'conflict',
        c.path,
        `change is for grant ${JSON.stringify(c.grant)}`,
      );
    const segs = splitRelPath(c.path);
    const kinds = seen.get(c.path) ?? new Set<string>();
    // One path may be deleted and re-created (type change), nothing else twice.
    if (
      kinds.has(c.change) ||
      (kinds.size > 0 && !(kinds.has('deleted') || c.change === 'deleted'))
    ) {
      throw new GrantPathError('conflict', c.path, 'path listed twice');
    }
    kinds.add(c.change);
    seen.set(c.path, kinds);
    const isFile = typeof c.sha256 === 'string' && typeof c.size === 'number';
    if (c.change === 'deleted') plan.push({ c, segs, kind: 'delete' });
    else if (isFile) plan.push({ c, segs, kind: 'file' });
    else if (c.change === 'created' && c.sha256 === undefined && c.size === undefined)
      plan.push({ c, segs, kind: 'dir' });
    else throw new GrantPathError('conflict', c.path, 'malformed change');
  }
  return plan.sort((a, b) => compareChanges(a.c, b.c));
}

/** Path order; for one path: deleted, created, modified. Parents sort before their children. */
function compareChanges(a: FileChange, b: FileChange): number {
  if (a.path !== b.path) return a.path < b.path ? -1 : 1;
  const rank = { deleted: 0, created: 1, modified: 2 } as const;
  return rank[a.change] - rank[b.change];
}

/** Opens the staging dir through its parent and checks it is still the one we created. */
async function openStaged(staged: StagedGrant): Promise<DirRef> {
  const parent = await DirRef.openRoot(staged.stagingRoot);
  try {
    const dir = await parent.openDir(path.basename(staged.dir));
    if (dir.ino !== staged.dirIno || dir.dev !== staged.dirDev) {
      await dir.close();
      throw new GrantPathError('conflict', '', 'staging dir was replaced');
    }
    return dir;
  } finally {
    await parent.close();
  }
}

/**
 * Preflight in the real grant, lstat only: walks the parent chain (stopping where it no longer
 * exists, or at a plain file this apply deletes) and checks the target can be acted on safely.
 */
async function checkReal(real: DirRef, s: Step, deleting: ReadonlySet<string>): Promise<void> {
  let dir = real;
  try {
    for (let i = 0; i < s.segs.length; i++) {
      const seg = s.segs[i] as string;
      const rel = s.segs.slice(0, i + 1).join('/');
      const st = await dir.lstatChild(seg);
      if (!st) return; // absent from here down: will be created
      const last = i === s.segs.length - 1;
      if (st.isSymbolicLink())
        throw new GrantPathError('path_escape', rel, 'symlink in the real grant');
      if (!st.isDirectory() && !(st.isFile() && st.nlink === 1n)) throw specialFileError(st, rel);
      if (last) {
        if (s.kind === 'file' && st.isDirectory() && !deleting.has(rel))
          throw new GrantPathError('is_a_directory', rel);
        if (s.kind === 'file' && st.isDirectory()) {
          // A directory that becomes a file: it must end up empty, or the rename would fail
          // half-way through phase 2. Everything in it must be deleted by this apply too.
          const sub = await dir.openDir(seg);
          try {
            await assertAllDeleted(sub, deleting);
          } finally {
            await sub.close();
          }
        }
        if (s.kind === 'dir' && st.isFile() && !deleting.has(rel))
          throw new GrantPathError('not_a_directory', rel);
        return;
      }
      if (st.isFile()) {
        if (deleting.has(rel)) return; // replaced by a directory in this apply
        throw new GrantPathError('not_a_directory', rel);
      }
      const next = await dir.openDir(seg);
      if (dir !== real) await dir.close();
      dir = next;
    }
  } finally {
    if (dir !== real) await dir.close();
  }
}

/** Every entry under `dir` is in `deleting` (recursively), or `conflict`. */
async function assertAllDeleted(dir: DirRef, deleting: ReadonlySet<string>): Promise<void> {
  for (const name of await dir.names({ strict: true })) {
    const rel = joinRel(dir.rel, name);
    if (!deleting.has(rel))
      throw new GrantPathError(
        'conflict',
        rel,
        'not deleted, but its directory is replaced by a file',
      );
    const st = await dir.lstatChild(name);
    if (st?.isDirectory()) {
      const sub = await dir.openDir(name);
      try {
        await assertAllDeleted(sub, deleting);
      } finally {
        await sub.close();
      }
    }
  }
}

/**
 * The change must be what the staged copy holds: a file's content hashes to its sha256 (checked
 * here, before anything touches the real grant, and again while copying, in case it changes in
 * between); a created directory is a directory; a deleted path is gone (or now the other type).
 */
async function checkStagedAgrees(copy: DirRef, s: Step, plan: readonly Step[]): Promise<void> {
  if (s.kind === 'file') {
    const dir = await copy.walk(s.segs.slice(0, -1));
    try {
      const h = await hashFile(dir, s.segs.at(-1) as string);
      if (h.sha256 !== s.c.sha256 || h.size !== s.c.size) {
        throw new GrantPathError(
          'conflict',
          s.c.path,
          'staged content does not match the change list',
        );
      }
    } finally {
      if (dir !== copy) await dir.close();
    }
    return;
  }
  const st = await lstatReal(copy, s.segs);
  if (s.kind === 'dir') {
    if (!st?.isDirectory())
      throw new GrantPathError('conflict', s.c.path, 'not a directory in the staged copy');
    return;
  }
  const recreated = plan.some((o) => o !== s && o.c.path === s.c.path);
  if (st && !recreated)
    throw new GrantPathError('conflict', s.c.path, 'still present in the staged copy');
}

/** lstat of a nested path, walking parents through no-follow fds; undefined when a parent is
 * missing or not a directory. A symlink on the way still throws `path_escape`. */
async function lstatReal(root: DirRef, segs: readonly string[]): Promise<BigIntStats | undefined> {
  let dir: DirRef;
  try {
    dir = await root.walk(segs.slice(0, -1));
  } catch (err) {
    if (
      err instanceof GrantPathError &&
      (err.code === 'not_found' || err.code === 'not_a_directory')
    )
      return undefined;
    throw err;
  }
  try {
    return await dir.lstatChild(segs.at(-1) as string);
  } finally {
    if (dir !== root) await dir.close();
  }
}

/** Applies one deletion; false when it was a directory that still holds entries (kept). */
async function deleteReal(real: DirRef, s: Step): Promise<boolean> {
  let dir: DirRef;
  try {
    dir = await real.walk(s.segs.slice(0, -1));
  } catch (err) {
    // Parent already gone: so is the target.
    if (err instanceof GrantPathError && err.code === 'not_found') return true;
    throw err;
  }
  try {
    const name = s.segs.at(-1) as string;
    const st = await dir.lstatChild(name);
    if (!st) return true;
    if (st.isSymbolicLink())
      throw new GrantPathError('path_escape', s.c.path, 'symlink in the real grant');
    if (st.isDirectory()) return await dir.rmdirChild(name);
    if (!(st.isFile() && st.nlink === 1n)) throw specialFileError(st, s.c.path);
    await dir.unlinkChild(name);
    return true;
  } finally {
    if (dir !== real) await dir.close();
  }
}

/** An existing target a rename may replace: a plain file only. */
function assertReplaceable(st: BigIntStats, rel: string): void {
  if (st.isSymbolicLink())
    throw new GrantPathError('path_escape', rel, 'symlink in the real grant');
  if (st.isDirectory()) throw new GrantPathError('is_a_directory', rel);
  if (!(st.isFile() && st.nlink === 1n)) throw specialFileError(st, rel);
}

/**
 * Copies plain file `fromName` in `from` to a new file `toName` in `to` (exclusive create,
 * no-follow), hashing as it goes. Mode: 0755 if any execute bit was set, else 0644. Refuses
 * (`quota_exceeded`) past `maxBytes`, measured on the bytes actually read.
 */
async function copyFile(
  from: DirRef,
  fromName: string,
  to: DirRef,
  toName: string,
  o: { owner?: Owner; maxBytes: number; rel: string; sync?: boolean },
): Promise<{ sha256: string; size: number }> {
  const { fh: src, stats } = await from.openFile(fromName);
  try {
    const dst = await to.createFile(toName, 0o600);
    try {
      const h = createHash('sha256');
      const buf = Buffer.allocUnsafe(64 * 1024);
      let size = 0;
      for (;;) {
        const { bytesRead } = await src.read(buf, 0, buf.length, null);
        if (bytesRead === 0) break;
        size += bytesRead;
        if (size > o.maxBytes)
          throw new GrantPathError('quota_exceeded', o.rel, 'grant is over its byte cap');
        h.update(buf.subarray(0, bytesRead));
        let off = 0;
        while (off < bytesRead) off += (await dst.write(buf, off, bytesRead - off)).bytesWritten;
      }
      await dst.chmod((stats.mode & 0o111n) !== 0n ? EXEC_FILE_MODE : FILE_MODE);
      if (o.owner) await dst.chown(o.owner.uid, o.owner.gid);
      if (o.sync) await dst.sync();
      return { sha256: h.digest('hex'), size };
    } finally {
      await dst.close();
    }
  } finally {
    await src.close();
  }
}
