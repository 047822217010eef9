/**
 * Reading a sealed log directory (layout.ts) from disk: segments in order, their lines with byte
 * offsets, the checkpoint history. Used by the harness's reader, the offline verifier and the
 * sealer's recovery. Node only (fs); the proof code it feeds stays pure.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { LAYOUT, segmentFirstSeq } from './layout.ts';

export interface SegmentFile {
  firstSeq: number;
  file: string;
}

export interface LogLine {
  /** The line without its newline (a cut last line is returned as it is). */
  text: string;
  segment: number;
  offset: number;
  /** Bytes including the newline (if any). */
  length: number;
}

/** Segment files of a log, by first seq. */
export function listSegments(dir: string): SegmentFile[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .map((name) => ({ name, firstSeq: segmentFirstSeq(name) }))
    .filter((s): s is { name: string; firstSeq: number } => s.firstSeq !== null)
    .sort((a, b) => a.firstSeq - b.firstSeq)
    .map((s) => ({ firstSeq: s.firstSeq, file: path.join(dir, s.name) }));
}

/** Every line of every segment, in order (one segment in memory at a time). */
export function* logLines(dir: string, fromSegment = 0): Generator<LogLine> {
  for (const seg of listSegments(dir)) {
    if (seg.firstSeq < fromSegment) continue;
    const buf = readFileSync(seg.file);
    let at = 0;
    while (at < buf.length) {
      const nl = buf.indexOf(0x0a, at);
      const end = nl < 0 ? buf.length : nl;
      yield { text: buf.toString('utf8', at, end), segment: seg.firstSeq, offset: at, length: (nl < 0 ? end : end + 1) - at };
      at = end + 1;
    }
  }
}

/** The signed checkpoint notes of a log's history (unparsable lines are returned as they are). */
export function checkpointNotes(dir: string): string[] {
  const file = path.join(dir, LAYOUT.checkpoints);
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => {
      try {
        const v = JSON.parse(l) as { note?: unknown };
        return typeof v.note === 'string' ? v.note : l;
      } catch {
        return l;
      }
    });
}

/** What the sealer says is durably sealed: `{ size, hash }` (size 0 when nothing is). */
export function readHead(dir: string): { size: number; hash: string | null } {
  try {
    const v = JSON.parse(readFileSync(path.join(dir, LAYOUT.head), 'utf8')) as { size?: unknown; hash?: unknown };
    if (typeof v.size === 'number' && Number.isSafeInteger(v.size) && v.size >= 0) return { size: v.size, hash: typeof v.hash === 'string' ? v.hash : null };
  } catch {
    /* no head yet */
  }
  return { size: 0, hash: null };
}

/** The latest signed checkpoint note, or null. */
export function readLatestCheckpoint(dir: string): string | null {
  try {
    return readFileSync(path.join(dir, LAYOUT.checkpoint), 'utf8');
  } catch {
    return null;
  }
}
