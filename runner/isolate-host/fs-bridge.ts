import { GrantPathError, createQuota, list, readFile, stat, writeFile, type Quota } from '../grants/safe-path.ts';

/** A grant as an isolate task sees it through the `fs` global. */
export interface BridgeMount {
  /** Absolute path prefix in the task's view, e.g. `/mnt/data`. */
  path: string;
  /** Host directory behind it: the real grant (ro) or its staged copy (rw). */
  root: string;
  mode: 'ro' | 'rw';
  maxBytes: number;
  /** Bytes already in the (staged) tree, for the write quota. */
  usedBytes: number;
}

/** Largest file `fs.read` returns, whatever the grant's size. */
const MAX_READ_BYTES = 8 * 1024 * 1024;

/**
 * The host side of the isolate's `fs` global. Every operation resolves the path inside one
 * mount with the symlink-proof functions of runner/grants/safe-path.ts, and answers with a
 * string the bootstrap decodes: `"1" + JSON` or `"0" + message`. Nothing else crosses back —
 * never a host object or a host error with its stack.
 */
export class FsBridge {
  readonly #mounts: { mount: BridgeMount; quota: Quota }[];

  constructor(mounts: readonly BridgeMount[]) {
    // Longest prefix first, so /mnt/a/b wins over /mnt/a.
    this.#mounts = [...mounts]
      .sort((a, b) => b.path.length - a.path.length)
      .map((mount) => ({ mount, quota: createQuota(mount.maxBytes, mount.usedBytes) }));
  }

  async call(op: unknown, path: unknown, arg: unknown): Promise<string> {
    try {
      if (typeof path !== 'string') throw new GrantPathError('path_invalid', '', 'path must be a string');
      const { mount, quota, rel } = this.#resolve(path);
      switch (op) {
        case 'read':
          return `1${JSON.stringify((await readFile(mount.root, rel, Math.min(mount.maxBytes, MAX_READ_BYTES))).toString('utf8'))}`;
        case 'write':
          if (mount.mode !== 'rw') return `0read_only: ${mount.path} is mounted read-only`;
          if (typeof arg !== 'string') return '0path_invalid: write needs string data';
          await writeFile(mount.root, rel, arg, quota);
          return '1null';
        case 'list':
          return `1${JSON.stringify(await list(mount.root, rel))}`;
        case 'stat': {
          const s = await stat(mount.root, rel);
          return `1${JSON.stringify({ type: s.type, size: s.size, mtimeMs: s.mtimeMs })}`;
        }
        default:
          return '0unsupported: unknown fs operation';
      }
    } catch (err) {
      if (err instanceof GrantPathError) return `0${err.code}: ${err.message}`;
      return '0io_error: the file operation failed';
    }
  }

  #resolve(path: string): { mount: BridgeMount; quota: Quota; rel: string } {
    for (const { mount, quota } of this.#mounts) {
      if (path === mount.path) return { mount, quota, rel: '' };
      if (path.startsWith(`${mount.path}/`)) return { mount, quota, rel: path.slice(mount.path.length + 1) };
    }
    throw new GrantPathError('not_found', path, 'no grant is mounted there');
  }
}
