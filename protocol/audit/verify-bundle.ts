/**
 * A task's trace bundle (`GET /v1/tasks/:id/trace?proofs=true`) and its offline verification:
 * the checkpoint's signature, then each entry's inclusion in that checkpoint's tree at index
 * seq − 1. Needs nothing but the log's verifier key. Pure.
 *
 * The chain fields (`prevHash`, `hash`) of a bundle's entries cannot be checked alone (their
 * neighbours are other tasks' entries); the tree binds each entry's content and position.
 */
import { z } from 'zod';
import { equalBytes, fromBase64 } from './bytes.ts';
import { openCheckpoint, type Checkpoint } from './checkpoint.ts';
import { contentBytes, entryContent, entryLeafHash } from './chain.ts';
import { SealedEntrySchema } from './entry.ts';
import { rootFromInclusionProof } from './inclusion-proof.ts';
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
  entries: z.array(z.unknown()),
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

export function verifyTraceBundle(input: unknown, verifiers: readonly NoteVerifier[]): BundleVerification {
  const parsed = TraceBundleSchema.safeParse(input);
  if (!parsed.success) return { ok: false, entries: 0, firstBroken: { seq: 0, reason: 'not a trace bundle' } };
  const bundle = parsed.data;
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
  let lastSeq = 0;
  for (let i = 0; i < bundle.entries.length; i++) {
    const raw = bundle.entries[i] as { seq?: unknown };
    const at = typeof raw?.seq === 'number' ? raw.seq : lastSeq + 1;
    const e = SealedEntrySchema.safeParse(raw);
    if (!e.success) return fail(i, at, `entry ${at} is not a valid entry (edited)`);
    const entry = e.data;
    if (entry.taskId !== bundle.taskId) return fail(i, entry.seq, `entry ${entry.seq} is not about task ${bundle.taskId}`);
    if (entry.seq <= lastSeq) return fail(i, entry.seq, `entry ${entry.seq} is out of order`);
    const proof = bundle.proofs[i] as InclusionProofJson;
    if (proof.seq !== entry.seq || proof.treeSize !== cp.size) return fail(i, entry.seq, `the proof of entry ${entry.seq} is for another entry or tree`);
    let hashes: Uint8Array[];
    try {
      hashes = proof.hashes.map(fromBase64);
    } catch {
      return fail(i, entry.seq, `the proof of entry ${entry.seq} is malformed`);
    }
    const leaf = entryLeafHash(contentBytes(entryContent(entry)));
    const root = rootFromInclusionProof(entry.seq - 1, cp.size, leaf, hashes);
    if (!root || !equalBytes(root, cp.rootHash)) {
      return fail(i, entry.seq, `entry ${entry.seq} is not in the signed log (edited, or a wrong proof)`);
    }
    lastSeq = entry.seq;
  }
  return { ok: true, entries: bundle.entries.length, checkpoint: { origin: cp.origin, size: cp.size } };
}
