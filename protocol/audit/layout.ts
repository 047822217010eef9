/**
 * Where a sealed log lives under AUDIT_DIR (shared by the sealer that writes it, the harness
 * that reads it and the offline verifier). One directory per log (`tenants/<id>`, `system`):
 *   seg-<first seq, 12 digits>.jsonl  entries, one canonical JSON line each (append-only)
 *   leaves                             32-byte leaf hashes, one per entry (for proofs)
 *   checkpoints.jsonl                  every signed checkpoint `{"size":n,"note":"…"}`
 *   checkpoint                         the latest signed checkpoint note
 *   head.json                          `{"size":n,"hash":"…"}`: what is durably sealed
 *   tasks/<hh>/<sha256(task id)>       "<seq> <segment first seq> <offset> <length>" lines
 * and at the top: `public-key.json` (the sealer's public key and origin prefix).
 */
import { toHex, utf8 } from './bytes.ts';
import { sha256 } from './sha256.ts';

export const LAYOUT = {
  leaves: 'leaves',
  checkpoints: 'checkpoints.jsonl',
  checkpoint: 'checkpoint',
  head: 'head.json',
  publicKey: 'public-key.json',
  state: 'sealer-state.json',
} as const;

const SEGMENT = /^seg-(\d{12})\.jsonl$/;

export function segmentName(firstSeq: number): string {
  return `seg-${String(firstSeq).padStart(12, '0')}.jsonl`;
}

/** First seq of a segment file name, or null for other names. */
export function segmentFirstSeq(name: string): number | null {
  const m = SEGMENT.exec(name);
  return m ? Number(m[1]) : null;
}

/** Path of a task's index file, relative to its log directory. */
export function taskIndexPath(taskId: string): string {
  const h = toHex(sha256(utf8(taskId)));
  return `tasks/${h.slice(0, 2)}/${h}`;
}

export interface TaskIndexLine {
  seq: number;
  segment: number;
  offset: number;
  length: number;
}

export function formatTaskIndexLine(l: TaskIndexLine): string {
  return `${l.seq} ${l.segment} ${l.offset} ${l.length}\n`;
}

/** Parses an index file: unique lines by seq, ascending; malformed lines are skipped. */
export function parseTaskIndex(text: string): TaskIndexLine[] {
  const bySeq = new Map<number, TaskIndexLine>();
  for (const line of text.split('\n')) {
    const parts = line.split(' ').map(Number);
    if (parts.length !== 4 || parts.some((n) => !Number.isSafeInteger(n) || n < 0)) continue;
    const [seq, segment, offset, length] = parts as [number, number, number, number];
    bySeq.set(seq, { seq, segment, offset, length });
  }
  return [...bySeq.values()].sort((a, b) => a.seq - b.seq);
}

/** What the sealer publishes about its key at the top of AUDIT_DIR. */
export interface PublicKeyFile {
  algorithm: 'Ed25519';
  /** base64 of the 32-byte public key. */
  publicKey: string;
  /** Origins are `<originPrefix>/tenants/<id>` and `<originPrefix>/system`. */
  originPrefix: string;
}
