/**
 * Re-walks a whole sealed log: every entry's seq, chain link and hash, the Merkle tree over the
 * entries, and every signed checkpoint against that tree. Pure (the caller supplies the lines and
 * the notes), used by `GET /v1/audit/verify` and the offline verifier alike. Names the first
 * broken entry:
 * - an edited entry: its hash no longer matches its content (or it is no longer JSON);
 * - a deleted, swapped or duplicated entry: a seq out of place;
 * - a truncated log: a checkpoint covers entries that are not there;
 * - a rewritten, re-chained stretch: the chain holds, but the tree does not match the signed
 *   checkpoint; reported at the first entry after the last checkpoint that still matched.
 */
import { equalBytes, toBase64 } from './bytes.ts';
import { openCheckpoint, parseCheckpoint, type Checkpoint } from './checkpoint.ts';
import { GENESIS_HASH, chainHash, contentBytes, entryContent, entryLeafHash } from './chain.ts';
import { EMPTY_RANGE, appendLeaf, rangeRoot, type CompactRange } from './compact-range.ts';
import { SealedEntrySchema } from './entry.ts';
import { NoteError, type NoteVerifier } from './note.ts';

export interface Broken {
  seq: number;
  reason: string;
}

export interface LogVerification {
  ok: boolean;
  /** Entries walked (up to the first broken one). */
  entries: number;
  /** Signed checkpoints that verified. */
  checkpoints: number;
  firstBroken?: Broken;
}

export interface VerifyLogOptions {
  verifiers: readonly NoteVerifier[];
  /** The log's origin; checkpoints of another origin are broken. */
  origin?: string;
}

function earliest(a: Broken | undefined, b: Broken | undefined): Broken | undefined {
  if (!a) return b;
  if (!b) return a;
  return b.seq < a.seq ? b : a;
}

/** Opens every checkpoint note; returns the good ones by size and the first bad one. */
function checkCheckpoints(notes: Iterable<string>, options: VerifyLogOptions): { bySize: Map<number, Checkpoint>; broken?: Broken; count: number } {
  const bySize = new Map<number, Checkpoint>();
  let broken: Broken | undefined;
  let count = 0;
  for (const note of notes) {
    let c: Checkpoint;
    try {
      c = openCheckpoint(note, options.verifiers);
      if (options.origin !== undefined && c.origin !== options.origin) throw new NoteError(`origin ${c.origin} is not ${options.origin}`);
    } catch (err) {
      let claimed = 0;
      try {
        claimed = parseCheckpoint(note.slice(0, note.lastIndexOf('\n\n') + 1)).size;
      } catch {
        /* unparsable: reported at 0 */
      }
      broken = earliest(broken, { seq: claimed, reason: `checkpoint of size ${claimed} does not verify: ${(err as Error).message}` });
      continue;
    }
    const same = bySize.get(c.size);
    if (same && !equalBytes(same.rootHash, c.rootHash)) {
      broken = earliest(broken, { seq: c.size, reason: `two signed checkpoints of size ${c.size} with different roots` });
    }
    bySize.set(c.size, c);
    count++;
  }
  return { bySize, ...(broken ? { broken } : {}), count };
}

export function verifyLog(lines: Iterable<string>, checkpointNotes: Iterable<string>, options: VerifyLogOptions): LogVerification {
  const cps = checkCheckpoints(checkpointNotes, options);
  let range: CompactRange = EMPTY_RANGE;
  let prevHash = GENESIS_HASH;
  let lastGoodCheckpoint = 0;
  let broken: Broken | undefined;
  let walked = 0;
  for (const line of lines) {
    const expected = walked + 1;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      broken = { seq: expected, reason: `entry ${expected} is not valid JSON (edited or cut)` };
      break;
    }
    const parsed = SealedEntrySchema.safeParse(value);
    if (!parsed.success) {
      broken = { seq: expected, reason: `entry ${expected} is not a valid entry (edited)` };
      break;
    }
    const entry = parsed.data;
    if (entry.seq !== expected) {
      broken = {
        seq: expected,
        reason: entry.seq > expected
          ? `entry ${expected} is missing or out of place (entry ${entry.seq} follows entry ${expected - 1})`
          : `entry ${entry.seq} appears where entry ${expected} belongs (moved or duplicated)`,
      };
      break;
    }
    if (entry.prevHash !== prevHash) {
      broken = { seq: expected, reason: `entry ${expected}: prevHash is not the hash of entry ${expected - 1}` };
      break;
    }
    const bytes = contentBytes(entryContent(entry));
    if (chainHash(prevHash, bytes) !== entry.hash) {
      broken = { seq: expected, reason: `entry ${expected}: hash does not match its content (edited)` };
      break;
    }
    prevHash = entry.hash;
    range = appendLeaf(range, entryLeafHash(bytes));
    walked = expected;
    const cp = cps.bySize.get(walked);
    if (cp) {
      if (!equalBytes(rangeRoot(range), cp.rootHash)) {
        broken = {
          seq: lastGoodCheckpoint + 1,
          reason: `entries ${lastGoodCheckpoint + 1}..${walked} do not match the signed checkpoint of size ${walked} (rewritten; root ${toBase64(rangeRoot(range))})`,
        };
        break;
      }
      lastGoodCheckpoint = walked;
    }
  }
  if (!broken) {
    const beyond = [...cps.bySize.keys()].filter((s) => s > walked);
    if (beyond.length > 0) {
      broken = { seq: walked + 1, reason: `the log ends at entry ${walked} but a signed checkpoint covers ${Math.max(...beyond)} entries (truncated or deleted)` };
    }
  }
  const firstBroken = earliest(broken, cps.broken);
  return { ok: !firstBroken, entries: walked, checkpoints: cps.count, ...(firstBroken ? { firstBroken } : {}) };
}
