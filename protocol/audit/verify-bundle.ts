/**
 * A task's trace bundle (`GET /v1/tasks/:id/trace?proofs=true`) and its offline verification:
 * the checkpoint's signature, then each entry's inclusion in that checkpoint's tree at index
 * seq − 1. Needs nothing but the log's verifier key. Pure.
 *
 * Each entry travels as the exact text its leaf hashes: the RFC 8785 canonical JSON of its
 * content (the entry without `prevHash` and `hash`; those chain fields cannot be checked without
 * the other tasks' entries between them). The verifier hashes the text it got, and only then
 * reads it: what it shows is what it verified, with no second serialization to disagree.
 */
import { z } from 'zod';
import { openCheckpoint, type Checkpoint } from './checkpoint.ts';
import { InclusionBatch } from './inclusion-proof.ts';
import { hashLeafTextBase64 } from './merkle-hash.ts';
import type { NoteVerifier } from './note.ts';
import type { Broken } from './verify-log.ts';

export const TRACE_BUNDLE_FORMAT = 'airlock-audit-trace/v1' as const;

export const InclusionProofSchema = z.strictObject({
  seq: z.number().int().min(1),
  treeSize: z.number().int().min(1),
  /** Sibling hashes, leaf first, base64. */
  hashes: z.array(z.string()).max(64),
});
export type InclusionProofJson = z.infer<typeof InclusionProofSchema>;

export const TraceBundleSchema = z.strictObject({
  format: z.literal(TRACE_BUNDLE_FORMAT),
  taskId: z.string(),
  origin: z.string(),
  /** The signed checkpoint every proof leads to. */
  checkpoint: z.string(),
  /** Canonical JSON of each entry's content, in seq order. */
  entries: z.array(z.string()),
  proofs: z.array(InclusionProofSchema),
  /** Entries of the task sealed after the checkpoint (not in this bundle yet). */
  pending: z.number().int().min(0).optional(),
});
export type TraceBundle = z.infer<typeof TraceBundleSchema>;

export interface BundleVerification {
  ok: boolean;
  entries: number;
  checkpoint?: { origin: string; size: number };
  firstBroken?: Broken;
}

const BUNDLE_KEYS = new Set(['format', 'taskId', 'origin', 'checkpoint', 'entries', 'proofs', 'pending']);
const PROOF_KEYS = 3;

/**
 * `input` as a trace bundle when it has exactly the shape TraceBundleSchema describes, else null.
 * Checked in place: a schema parse would copy the 10 000 proofs of a large bundle (and their hash
 * arrays) only to read them once, which costs more than verifying them. Unit-tested against the
 * schema.
 */
export function asTraceBundle(input: unknown): TraceBundle | null {
  if (!isRecord(input)) return null;
  for (const key of Object.keys(input)) if (!BUNDLE_KEYS.has(key)) return null;
  const { format, taskId, origin, checkpoint, entries, proofs, pending } = input;
  if (format !== TRACE_BUNDLE_FORMAT || typeof taskId !== 'string' || typeof origin !== 'string' || typeof checkpoint !== 'string') return null;
  if (pending !== undefined && !(Number.isSafeInteger(pending) && (pending as number) >= 0)) return null;
  if (!Array.isArray(entries) || !Array.isArray(proofs)) return null;
  for (const e of entries) if (typeof e !== 'string') return null;
  for (const p of proofs) {
    if (!isRecord(p)) return null;
    const { seq, treeSize, hashes } = p;
    if (!(Number.isSafeInteger(seq) && (seq as number) >= 1 && Number.isSafeInteger(treeSize) && (treeSize as number) >= 1)) return null;
    if (!Array.isArray(hashes) || hashes.length > 64) return null;
    for (const h of hashes) if (typeof h !== 'string') return null;
    let keys = 0;
    for (const _ in p) keys++;
    if (keys !== PROOF_KEYS) return null;
  }
  return input as TraceBundle;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && Object.getPrototypeOf(v) === Object.prototype;
}

export function verifyTraceBundle(input: unknown, verifiers: readonly NoteVerifier[]): BundleVerification {
  const bundle = asTraceBundle(input);
  if (bundle === null) return { ok: false, entries: 0, firstBroken: { seq: 0, reason: 'not a trace bundle' } };
  let cp: Checkpoint;
  try {
    cp = openCheckpoint(bundle.checkpoint, verifiers);
  } catch (err) {
    return { ok: false, entries: 0, firstBroken: { seq: 0, reason: `checkpoint does not verify: ${(err as Error).message}` } };
  }
  const fail = (i: number, seq: number, reason: string): BundleVerification => ({
    ok: false, entries: i, checkpoint: { origin: cp.origin, size: cp.size }, firstBroken: { seq, reason },
  });
  if (cp.origin !== bundle.origin) return fail(0, 0, `checkpoint origin ${cp.origin} is not the bundle's ${bundle.origin}`);
  if (bundle.proofs.length !== bundle.entries.length) return fail(0, 0, 'one proof per entry expected');
  const batch = new InclusionBatch(cp.size, cp.rootHash);
  let lastSeq = 0;
  for (let i = 0; i < bundle.entries.length; i++) {
    const text = bundle.entries[i] as string;
    const proof = bundle.proofs[i] as InclusionProofJson;
    // Proven first, read after: the leaf is the hash of exactly this text.
    const leaf = hashLeafTextBase64(text);
    if (proof.treeSize !== cp.size || !batch.verify(proof.seq - 1, leaf, proof.hashes)) {
      return fail(i, proof.seq, `entry ${proof.seq} is not in the signed log (edited, or a wrong proof)`);
    }
    let entry: { seq?: unknown; taskId?: unknown };
    try {
      entry = JSON.parse(text) as typeof entry;
    } catch {
      return fail(i, proof.seq, `entry ${proof.seq} is not JSON`);
    }
    if (entry.seq !== proof.seq) return fail(i, proof.seq, `entry ${proof.seq} carries seq ${String(entry.seq)}`);
    if (entry.taskId !== bundle.taskId) return fail(i, proof.seq, `entry ${proof.seq} is not about task ${bundle.taskId}`);
    if (proof.seq <= lastSeq) return fail(i, proof.seq, `entry ${proof.seq} is out of order`);
    lastSeq = proof.seq;
  }
  return { ok: true, entries: bundle.entries.length, checkpoint: { origin: cp.origin, size: cp.size } };
}
