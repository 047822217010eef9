/**
 * Writes one sealed log (protocol/audit/layout.ts): assigns seq, chains, extends the tree,
 * buffers lines, leaf hashes and task index lines, and makes them durable on `sync()`.
 * Recovery: on open, anything past the last committed state (written but never committed) is cut
 * off, so it is sealed again from the stream, exactly once; a file *shorter* than the committed
 * state is refused (tampering or lost data: an operator must look).
 */
import { closeSync, existsSync, fstatSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, truncateSync, writeFileSync, writeSync } from 'node:fs';
import path from 'node:path';
import { fromHex, toHex } from '../protocol/audit/bytes.ts';
import { parseCheckpoint, signCheckpoint } from '../protocol/audit/checkpoint.ts';
import { GENESIS_HASH, sealContent, type EntryContent } from '../protocol/audit/chain.ts';
import { canonicalJson } from '../protocol/audit/canonical-json.ts';
import { appendLeaf, rangeLength, rangeRoot, type CompactRange } from '../protocol/audit/compact-range.ts';
import type { SealedEntry } from '../protocol/audit/entry.ts';
import { LAYOUT, formatTaskIndexLine, segmentName, taskIndexPath } from '../protocol/audit/layout.ts';
import { listSegments, logLines } from '../protocol/audit/log-dir.ts';
import type { NoteSigner } from '../protocol/audit/note.ts';

/** What the sealer's state records per log (only what is committed: fsynced). */
export interface LogState {
  size: number;
  prevHash: string;
  /** Compact range (hex), see protocol/audit/compact-range.ts. */
  range: string[];
  /** First seq of the segment being appended to, and its committed length. */
  segment: number;
  segmentBytes: number;
  /** Last signed checkpoint. */
  checkpoint: { size: number; root: string } | null;
  /** Entries up to this seq have durable task index lines. */
  indexed: number;
}

export class SealedLogError extends Error {
  override readonly name = 'SealedLogError';
}

const HASH_BYTES = 32;

export class LogWriter {
  readonly dir: string;
  readonly origin: string;
  readonly #segmentEntries: number;
  #size: number;
  #prevHash: string;
  #range: CompactRange;
  #segment: number;
  #segmentBytes: number;
  #checkpoint: { size: number; root: string } | null;
  #indexed: number;
  #segFd: number | null = null;
  #leavesFd: number | null = null;
  #lines: string[] = [];
  #pendingBytes = 0;
  #leaves: Uint8Array[] = [];
  #index = new Map<string, string[]>();
  /** Index files written since their last fsync. */
  readonly #unsyncedIndex = new Set<string>();
  lastAppendMs = 0;

  private constructor(dir: string, origin: string, segmentEntries: number, s: LogState) {
    this.dir = dir;
    this.origin = origin;
    this.#segmentEntries = segmentEntries;
    this.#size = s.size;
    this.#prevHash = s.prevHash;
    this.#range = { size: s.size, hashes: s.range.map(fromHex) };
    this.#segment = s.segment;
    this.#segmentBytes = s.segmentBytes;
    this.#checkpoint = s.checkpoint;
    this.#indexed = s.indexed;
  }

  /** Opens a log at its committed state (none: a new log), cutting uncommitted bytes off. */
  static open(dir: string, origin: string, segmentEntries: number, saved: LogState | undefined): LogWriter {
    mkdirSync(dir, { recursive: true });
    const state: LogState = saved ?? { size: 0, prevHash: GENESIS_HASH, range: [], segment: 1, segmentBytes: 0, checkpoint: null, indexed: 0 };
    if (rangeLength(state.size) !== state.range.length) throw new SealedLogError(`${dir}: state is corrupt`);
    const latest = readLatest(dir);
    if (latest && latest.size > state.size) {
      throw new SealedLogError(`${dir}: a checkpoint covers ${latest.size} entries but only ${state.size} are committed (state lost?)`);
    }
    if (latest && (!state.checkpoint || latest.size > state.checkpoint.size)) state.checkpoint = latest;
    // Segments begun after the last commit hold only uncommitted entries.
    for (const seg of listSegments(dir)) {
      if (seg.firstSeq > state.segment) rmSync(seg.file);
    }
    const seg = path.join(dir, segmentName(state.segment));
    cutTo(seg, state.segmentBytes, dir);
    cutTo(path.join(dir, LAYOUT.leaves), state.size * HASH_BYTES, dir);
    const w = new LogWriter(dir, origin, segmentEntries, state);
    if (w.#reindexFrom(state.indexed)) {
      w.#writeIndex();
      w.syncIndex();
    }
    return w;
  }

  get size(): number {
    return this.#size;
  }

  get dirty(): boolean {
    return this.#lines.length > 0;
  }

  /** Seals one entry (buffered until `flush`). */
  append(content: Omit<EntryContent, 'seq'>, nowMs: number): SealedEntry {
    if (this.#size > 0 && this.#size % this.#segmentEntries === 0 && this.#size + 1 !== this.#segment) this.#rollSegment();
    const seq = this.#size + 1;
    const { entry, leafHash } = sealContent({ ...content, seq } as EntryContent, this.#prevHash);
    const line = `${canonicalJson(entry)}\n`;
    const length = Buffer.byteLength(line);
    if (entry.taskId !== undefined) {
      const rel = taskIndexPath(entry.taskId);
      const lines = this.#index.get(rel) ?? [];
      lines.push(formatTaskIndexLine({ seq, segment: this.#segment, offset: this.#segmentBytes + this.#pendingBytes, length }));
      this.#index.set(rel, lines);
    }
    this.#lines.push(line);
    this.#pendingBytes += length;
    this.#leaves.push(leafHash);
    this.#range = appendLeaf(this.#range, leafHash);
    this.#prevHash = entry.hash;
    this.#size = seq;
    this.lastAppendMs = nowMs;
    return entry;
  }

  /** Writes and fsyncs the buffered entries and leaf hashes. After it, the state may say so. */
  sync(): void {
    if (this.#lines.length === 0) return;
    this.#flushSegment();
    this.#leavesFd ??= openSync(path.join(this.dir, LAYOUT.leaves), 'a');
    const leaves = Buffer.concat(this.#leaves);
    writeSync(this.#leavesFd, leaves);
    fsyncSync(this.#leavesFd);
    this.#leaves = [];
  }

  /** After the state is committed: task index lines (not fsynced: see syncIndex) and head.json. */
  afterCommit(): void {
    this.#writeIndex();
    writeAtomic(path.join(this.dir, LAYOUT.head), `${JSON.stringify({ size: this.#size, hash: this.#prevHash })}\n`);
  }

  #writeIndex(): void {
    for (const [rel, lines] of this.#index) {
      const file = path.join(this.dir, rel);
      mkdirSync(path.dirname(file), { recursive: true });
      writeFileSync(file, lines.join(''), { flag: 'a' });
      this.#unsyncedIndex.add(file);
    }
    this.#index.clear();
  }

  /** Fsyncs the index files written since the last call; the state then records `indexed`. */
  syncIndex(): void {
    for (const file of this.#unsyncedIndex) {
      const fd = openSync(file, 'r');
      fsyncSync(fd);
      closeSync(fd);
    }
    this.#unsyncedIndex.clear();
    this.#indexed = this.#size;
  }

  /**
   * Signs a checkpoint of the committed tree when it grew since the last one, and publishes it
   * (history fsynced first, then the `checkpoint` file). Call only after the entries are
   * committed. Returns the note, or null when there was nothing new.
   */
  checkpoint(signer: NoteSigner): string | null {
    const last = this.#checkpoint;
    if (this.#size === 0 || (last && last.size >= this.#size)) return null;
    const root = rangeRoot(this.#range);
    const note = signCheckpoint({ origin: this.origin, size: this.#size, rootHash: root }, signer);
    const hist = openSync(path.join(this.dir, LAYOUT.checkpoints), 'a');
    try {
      writeSync(hist, `${JSON.stringify({ size: this.#size, note })}\n`);
      fsyncSync(hist);
    } finally {
      closeSync(hist);
    }
    writeAtomic(path.join(this.dir, LAYOUT.checkpoint), note);
    this.#checkpoint = { size: this.#size, root: toHex(root) };
    return note;
  }

  state(): LogState {
    return {
      size: this.#size,
      prevHash: this.#prevHash,
      range: this.#range.hashes.map(toHex),
      segment: this.#segment,
      segmentBytes: this.#segmentBytes,
      checkpoint: this.#checkpoint,
      indexed: this.#indexed,
    };
  }

  /** Closes the open files (reopened on the next append). Idempotent. */
  close(): void {
    if (this.#segFd !== null) closeSync(this.#segFd);
    if (this.#leavesFd !== null) closeSync(this.#leavesFd);
    this.#segFd = null;
    this.#leavesFd = null;
  }

  #flushSegment(): void {
    if (this.#lines.length === 0) return;
    this.#segFd ??= openSync(path.join(this.dir, segmentName(this.#segment)), 'a');
    writeSync(this.#segFd, this.#lines.join(''));
    fsyncSync(this.#segFd);
    this.#segmentBytes += this.#pendingBytes;
    this.#lines = [];
    this.#pendingBytes = 0;
  }

  #rollSegment(): void {
    this.#flushSegment();
    if (this.#segFd !== null) closeSync(this.#segFd);
    this.#segFd = null;
    this.#segment = this.#size + 1;
    this.#segmentBytes = 0;
  }

  /** Re-writes the task index lines of entries after `indexed` (lost if the machine went down). */
  #reindexFrom(indexed: number): boolean {
    if (indexed >= this.#size) return false;
    const first = listSegments(this.dir).filter((s) => s.firstSeq <= indexed + 1).pop()?.firstSeq ?? 1;
    for (const line of logLines(this.dir, first)) {
      let entry: { seq?: unknown; taskId?: unknown };
      try {
        entry = JSON.parse(line.text) as typeof entry;
      } catch {
        continue;
      }
      if (typeof entry.seq !== 'number' || entry.seq <= indexed || typeof entry.taskId !== 'string') continue;
      const rel = taskIndexPath(entry.taskId);
      const lines = this.#index.get(rel) ?? [];
      lines.push(formatTaskIndexLine({ seq: entry.seq, segment: line.segment, offset: line.offset, length: line.length }));
      this.#index.set(rel, lines);
    }
    return true;
  }
}

function readLatest(dir: string): { size: number; root: string } | null {
  try {
    const note = readFileSync(path.join(dir, LAYOUT.checkpoint), 'utf8');
    const c = parseCheckpoint(note.slice(0, note.lastIndexOf('\n\n') + 1));
    return { size: c.size, root: toHex(c.rootHash) };
  } catch {
    return null;
  }
}

/** Cuts `file` to `bytes` (uncommitted tail); refuses when it is shorter than that. */
function cutTo(file: string, bytes: number, dir: string): void {
  if (!existsSync(file)) {
    if (bytes > 0) throw new SealedLogError(`${dir}: ${path.basename(file)} is missing but ${bytes} bytes are committed`);
    return;
  }
  const fd = openSync(file, 'r+');
  try {
    const size = fstatSync(fd).size;
    if (size < bytes) throw new SealedLogError(`${dir}: ${path.basename(file)} has ${size} bytes, ${bytes} are committed (tampered or lost)`);
    if (size > bytes) {
      truncateSync(file, bytes);
      fsyncSync(fd);
    }
  } finally {
    closeSync(fd);
  }
}

/** Replaces a small file atomically (write aside, rename). */
export function writeAtomic(file: string, text: string): void {
  const tmp = `${file}.tmp`;
  writeFileSync(tmp, text);
  renameSync(tmp, file);
}

