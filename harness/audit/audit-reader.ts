/**
 * Reads the sealed logs under AUDIT_DIR for the API: a task's entries through its index file,
 * filtered scans, the latest checkpoint, proofs (from the `leaves` file, cached per tenant) and
 * the verification walk. The harness needs AUDIT_DIR on the same host as the sealer or on a
 * shared read-only volume; it never writes there, and it never sees the signing key (the
 * sealer keeps that outside AUDIT_DIR). Reads only what head.json says is durably sealed.
 */
import { closeSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import path from 'node:path';
import { fromBase64 } from '../../protocol/audit/bytes.ts';
import { parseCheckpoint, type Checkpoint } from '../../protocol/audit/checkpoint.ts';
import { SealedEntrySchema, auditLogId, auditOrigin, type SealedEntry } from '../../protocol/audit/entry.ts';
import { LAYOUT, parseTaskIndex, segmentName, taskIndexPath, type PublicKeyFile } from '../../protocol/audit/layout.ts';
import { checkpointNotes, listSegments, logLines, readHead, readLatestCheckpoint } from '../../protocol/audit/log-dir.ts';
import { MerkleTree } from '../../protocol/audit/merkle-tree.ts';
import { ed25519Verifier } from '../../protocol/audit/note.ts';
import { verifyLog, type LogVerification } from '../../protocol/audit/verify-log.ts';

export interface AuditKeyInfo {
  publicKey: Uint8Array;
  originPrefix: string;
}

export interface AuditFilter {
  taskId?: string | undefined;
  agentId?: string | undefined;
  userId?: string | undefined;
  action?: string | undefined;
  outcome?: string | undefined;
  /** ISO times, inclusive. */
  since?: string | undefined;
  until?: string | undefined;
}

/** Trees kept in memory (one per tenant recently asked for proofs). */
const MAX_CACHED_TREES = 16;
const HASH_BYTES = 32;

export class AuditReader {
  readonly #dir: string;
  readonly #trees = new Map<string, MerkleTree>();

  constructor(options: { dir: string }) {
    this.#dir = options.dir;
  }

  /** The sealer's public key and origin prefix, or null before the sealer first ran. */
  keyInfo(): AuditKeyInfo | null {
    try {
      const f = JSON.parse(readFileSync(path.join(this.#dir, LAYOUT.publicKey), 'utf8')) as PublicKeyFile;
      return { publicKey: fromBase64(f.publicKey), originPrefix: f.originPrefix };
    } catch {
      return null;
    }
  }

  origin(tenant: string): string | null {
    const k = this.keyInfo();
    return k ? auditOrigin(k.originPrefix, tenant) : null;
  }

  #logDir(tenant: string): string {
    return path.join(this.#dir, auditLogId(tenant));
  }

  /** Entries durably sealed in the tenant's log. */
  sealedSize(tenant: string): number {
    return readHead(this.#logDir(tenant)).size;
  }

  /** The latest signed checkpoint (not verified here: clients verify it with the public key). */
  latestCheckpoint(tenant: string): { note: string; checkpoint: Checkpoint } | null {
    const note = readLatestCheckpoint(this.#logDir(tenant));
    if (!note) return null;
    try {
      return { note, checkpoint: parseCheckpoint(note.slice(0, note.lastIndexOf('\n\n') + 1)) };
    } catch {
      return null;
    }
  }

  /** The sealed entries about a task, in order (through the task's index file). */
  taskEntries(tenant: string, taskId: string): SealedEntry[] {
    const dir = this.#logDir(tenant);
    let index: string;
    try {
      index = readFileSync(path.join(dir, taskIndexPath(taskId)), 'utf8');
    } catch {
      return [];
    }
    const size = readHead(dir).size;
    const out: SealedEntry[] = [];
    const fds = new Map<number, number>();
    try {
      for (const line of parseTaskIndex(index)) {
        if (line.seq > size) break;
        let fd = fds.get(line.segment);
        if (fd === undefined) fds.set(line.segment, (fd = openSync(path.join(dir, segmentName(line.segment)), 'r')));
        const buf = Buffer.alloc(line.length);
        readSync(fd, buf, 0, line.length, line.offset);
        const entry = parseEntry(buf.toString('utf8'));
        // An index line that does not lead to its entry is skipped (verify reports tampering).
        if (entry && entry.seq === line.seq && entry.taskId === taskId) out.push(entry);
      }
    } finally {
      for (const fd of fds.values()) closeSync(fd);
    }
    return out;
  }

  /**
   * Entries from seq `fromSeq` on that match `filter`, at most `limit`, looking at no more than
   * `maxScan` entries (so a request stays bounded). `nextSeq` is where to continue, or null at
   * the end of the sealed log.
   */
  scan(tenant: string, fromSeq: number, filter: AuditFilter, limit: number, maxScan: number): { items: SealedEntry[]; nextSeq: number | null } {
    if (filter.taskId !== undefined) {
      const all = this.taskEntries(tenant, filter.taskId).filter((e) => e.seq >= fromSeq && matches(e, filter));
      const items = all.slice(0, limit);
      return { items, nextSeq: all.length > limit ? (all[limit] as SealedEntry).seq : null };
    }
    const dir = this.#logDir(tenant);
    const size = readHead(dir).size;
    const first = listSegments(dir).filter((s) => s.firstSeq <= fromSeq).pop()?.firstSeq ?? 1;
    const items: SealedEntry[] = [];
    let scanned = 0;
    for (const line of logLines(dir, first)) {
      const entry = parseEntry(line.text);
      if (!entry || entry.seq < fromSeq) continue;
      if (entry.seq > size) break;
      if (matches(entry, filter)) {
        if (items.length === limit) return { items, nextSeq: entry.seq };
        items.push(entry);
      }
      if (++scanned >= maxScan) return { items, nextSeq: entry.seq < size ? entry.seq + 1 : null };
    }
    return { items, nextSeq: null };
  }

  /** The tenant's tree over at least its first `size` leaves (from the leaves file; cached, extended). */
  tree(tenant: string, size: number): MerkleTree {
    const tree = this.#trees.get(tenant) ?? new MerkleTree();
    this.#trees.delete(tenant);
    if (tree.size < size) {
      const file = path.join(this.#logDir(tenant), LAYOUT.leaves);
      const need = size - tree.size;
      if (statSync(file).size < size * HASH_BYTES) throw new Error(`the leaves file of ${tenant} has fewer than ${size} hashes`);
      const buf = Buffer.alloc(need * HASH_BYTES);
      const fd = openSync(file, 'r');
      try {
        readSync(fd, buf, 0, buf.length, tree.size * HASH_BYTES);
      } finally {
        closeSync(fd);
      }
      for (let i = 0; i < need; i++) tree.append(new Uint8Array(buf.subarray(i * HASH_BYTES, (i + 1) * HASH_BYTES)));
    }
    this.#trees.set(tenant, tree);
    while (this.#trees.size > MAX_CACHED_TREES) this.#trees.delete(this.#trees.keys().next().value as string);
    return tree;
  }

  /** Re-walks the tenant's whole log: chain, tree and every signed checkpoint. */
  verify(tenant: string): LogVerification {
    const key = this.keyInfo();
    const dir = this.#logDir(tenant);
    const origin = key ? auditOrigin(key.originPrefix, tenant) : '';
    const verifiers = key ? [ed25519Verifier(origin, key.publicKey)] : [];
    const lines = (function* () {
      for (const l of logLines(dir)) yield l.text;
    })();
    return verifyLog(lines, checkpointNotes(dir), { verifiers, origin });
  }
}

function parseEntry(text: string): SealedEntry | null {
  try {
    const r = SealedEntrySchema.safeParse(JSON.parse(text));
    return r.success ? r.data : null;
  } catch {
    return null;
  }
}

function matches(e: SealedEntry, f: AuditFilter): boolean {
  return (
    (f.taskId === undefined || e.taskId === f.taskId) &&
    (f.agentId === undefined || e.agentId === f.agentId) &&
    (f.userId === undefined || e.userId === f.userId) &&
    (f.action === undefined || e.action === f.action) &&
    (f.outcome === undefined || e.outcome === f.outcome) &&
    (f.since === undefined || Date.parse(e.time) >= Date.parse(f.since)) &&
    (f.until === undefined || Date.parse(e.time) <= Date.parse(f.until))
  );
}
