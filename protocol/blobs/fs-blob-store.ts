/**
 * The blob store on a filesystem: `<root>/tasks/<base64url(task id)>/<sha256>`. Across hosts
 * (harness and runners on different machines) `root` must be one shared directory (NFS, a
 * shared volume), the same for all of them; otherwise use an object store behind BlobStore.
 *
 * Files are written to a temporary name and renamed into place, so a reader never sees half a
 * blob. Directories are 0755 and files 0644 below the root: the harness may run as another user
 * than the runner (docker-compose.yml), and who may enter the root is the operator's choice (it
 * is created 0750 when missing; docs/deploy.md).
 */
import { createHash, randomUUID } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { BlobStore } from './blob-store.ts';

const SHA256_HEX = /^[0-9a-f]{64}$/;

export class FsBlobStore implements BlobStore {
  readonly #tasksDir: string;
  readonly #root: string;

  /** @param root absolute path of the blob directory (BLOB_DIR). */
  constructor(root: string) {
    if (!path.isAbsolute(root)) throw new Error(`blob directory must be an absolute path: ${root}`);
    this.#root = root;
    this.#tasksDir = path.join(root, 'tasks');
  }

  /** Creates the root (0750) and its `tasks` folder if missing. */
  async init(): Promise<void> {
    await mkdir(this.#root, { recursive: true, mode: 0o750 });
    await mkdir(this.#tasksDir, { recursive: true, mode: 0o755 });
  }

  // Task ids come from our own records, but a path is built from them: base64url keeps any id
  // one plain path segment (no `/`, no `..`), and stays reversible for the sweeper.
  #dir(taskId: string): string {
    return path.join(this.#tasksDir, Buffer.from(taskId, 'utf8').toString('base64url'));
  }

  async put(taskId: string, bytes: Uint8Array): Promise<{ sha256: string; size: number }> {
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    const dir = this.#dir(taskId);
    await mkdir(dir, { recursive: true, mode: 0o755 });
    const tmp = path.join(dir, `.${sha256}.${randomUUID()}.tmp`);
    try {
      await writeFile(tmp, bytes, { mode: 0o644, flag: 'wx' });
      await rename(tmp, path.join(dir, sha256));
    } finally {
      await rm(tmp, { force: true });
    }
    return { sha256, size: bytes.byteLength };
  }

  async get(taskId: string, sha256: string): Promise<Buffer | null> {
    if (!SHA256_HEX.test(sha256)) return null;
    try {
      return await readFile(path.join(this.#dir(taskId), sha256));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
  }

  async deleteTask(taskId: string): Promise<void> {
    await rm(this.#dir(taskId), { recursive: true, force: true });
  }

  async *tasks(): AsyncIterable<{ taskId: string; writtenAt: number }> {
    let names: string[];
    try {
      names = await readdir(this.#tasksDir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
    for (const name of names) {
      const info = await stat(path.join(this.#tasksDir, name)).catch(() => null);
      if (!info?.isDirectory()) continue;
      yield { taskId: Buffer.from(name, 'base64url').toString('utf8'), writtenAt: info.mtimeMs };
    }
  }
}
