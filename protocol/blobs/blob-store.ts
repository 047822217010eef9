/**
 * Where the files a container task leaves under /out are kept: outside Redis (which keeps only
 * their metadata, `result.files`: path, size, SHA-256), in a blob store both the runner (writes)
 * and the harness (serves) reach. fs-blob-store.ts is the filesystem implementation (BLOB_DIR);
 * an S3-compatible store would implement this same interface (objects under
 * `tasks/<task>/<sha256>`, deleted by a lifecycle rule or the sweeper).
 *
 * Blobs are content-addressed within their task: a task's file is stored under the SHA-256 of
 * its bytes, in a namespace of that task alone. Nothing is shared between tasks (so between
 * tenants): no reference counting, no existence oracle across tenants, and a task's blobs go
 * with it (blob-sweeper.ts). Whoever serves a blob checks it against the task's record
 * ({@link verifiedBlob}): the store is not trusted to hand back the right bytes.
 */
import { createHash } from 'node:crypto';

export interface BlobStore {
  /** Stores `bytes` as a file of task `taskId`, named by their SHA-256. Idempotent. */
  put(taskId: string, bytes: Uint8Array): Promise<{ sha256: string; size: number }>;
  /** The bytes stored for `taskId` under `sha256` as they are (unchecked), or null when absent. */
  get(taskId: string, sha256: string): Promise<Buffer | null>;
  /** Removes every blob of a task. Idempotent. */
  deleteTask(taskId: string): Promise<void>;
  /** Tasks that have blobs, with the time (ms) their blobs were last written. */
  tasks(): AsyncIterable<{ taskId: string; writtenAt: number }>;
}

/** The stored bytes are not the file the task's record describes (tampered with, or corrupt). */
export class BlobIntegrityError extends Error {}

/**
 * A task's file from the store, only if its bytes are exactly the ones its record lists (size
 * and SHA-256); null when the store has no such blob. A runner (or anyone else with write access
 * to the store) that put other bytes there gets them refused, not served.
 */
export async function verifiedBlob(
  store: BlobStore,
  taskId: string,
  file: { path: string; size: number; sha256: string },
): Promise<Buffer | null> {
  const bytes = await store.get(taskId, file.sha256);
  if (bytes === null) return null;
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  if (bytes.length !== file.size || sha256 !== file.sha256) {
    throw new BlobIntegrityError(`stored bytes of ${file.path} (task ${taskId}) do not match its recorded SHA-256`);
  }
  return bytes;
}
