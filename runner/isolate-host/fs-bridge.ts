import { GrantPathError, createQuota, list, readFile, stat, writeFile, type Quota } from '../grants/safe-path.ts';
import type { ChannelHandler, ChannelReply } from './request-channel.ts';

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
 * The host side of the isolate's `fs` global, the first client of the request/reply channel
 * (request-channel.ts). Every operation resolves the path inside one mount with the
 * symlink-proof functions of runner/grants/safe-path.ts, and answers with a value or
 * `{ code, message }`, which the bootstrap turns into an Error of the isolate's realm.
 */
export class FsBridge {
  readonly #mounts: { mount: BridgeMount; quota: Quota }[];

  constructor(mounts: readonly BridgeMount[]) {
    // Longest prefix first, so /mnt/a/b wins over /mnt/a.
    this.#mounts = [...mounts]
      .sort((a, b) => b.path.length - a.path.length)
      .map((mount) => ({ mount, quota: createQuota(mount.maxBytes, mount.usedBytes) }));
  }

  /** The channel handler: the body is the JSON array `[path, data]` the bootstrap sends. */
  readonly handle: ChannelHandler = async (op, body) => {
    let args: unknown;
    try {
      args = JSON.parse(body);
    } catch {
      args = null;
    }
    if (!Array.isArray(args)) return { ok: false, code: 'bad_request', message: 'malformed fs request' };
    return this.call(op, args[0], args[1]);
  };

  /** One operation. Never rejects. */
  async call(op: unknown, path: unknown, arg: unknown): Promise<ChannelReply> {
    try {
      if (typeof path !== 'string') throw new GrantPathError('path_invalid', '', 'path must be a string');
      const { mount, quota, rel } = this.#resolve(path);
      switch (op) {
        case 'read':
          return ok((await readFile(mount.root, rel, Math.min(mount.maxBytes, MAX_READ_BYTES))).toString('utf8'));
        case 'write':
          if (mount.mode !== 'rw') return fail('read_only', `${mount.path} is mounted read-only`);
          if (typeof arg !== 'string') return fail('path_invalid', 'write needs string data');
          await writeFile(mount.root, rel, arg, quota);
          return ok(null);
        case 'list':
          return ok(await list(mount.root, rel));
        case 'stat': {
          const s = await stat(mount.root, rel);
          return ok({ type: s.type, size: s.size, mtimeMs: s.mtimeMs });
        }
        default:
          return fail('unsupported', 'unknown fs operation');
      }
    } catch (err) {
      // The message already starts with the code; the bootstrap shows `code: message`, as before.
      if (err instanceof GrantPathError) return fail(err.code, err.message);
      return fail('io_error', 'the file operation failed');
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

function ok(value: unknown): ChannelReply {
  return { ok: true, value };
}

function fail(code: string, message: string): ChannelReply {
  return { ok: false, code, message };
}
