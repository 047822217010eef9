/**
 * RFC 9162 §2.1.3 inclusion proofs: generation over a node-hash source, and verification that
 * needs nothing but the proof (pure; the verifier's correctness is the product — see the immudb
 * advisory GHSA-672p-m5jq-mrh8, where a client accepted a malicious server's proof).
 */
import { equalBytes } from './bytes.ts';
import { HASH_BYTES, hashChildren, splitPoint } from './merkle-hash.ts';

/** MTH of leaves [start, end) of a tree: what proof generation needs from the tree. */
export type RangeHasher = (start: number, end: number) => Uint8Array;

/** PATH(m, D[0:n]) of RFC 9162 §2.1.3.1: sibling hashes from the leaf up. */
export function inclusionProof(index: number, size: number, mth: RangeHasher): Uint8Array[] {
  if (!(Number.isSafeInteger(index) && Number.isSafeInteger(size) && index >= 0 && index < size)) {
    throw new Error(`no inclusion proof for leaf ${index} in a tree of ${size}`);
  }
  const path: Uint8Array[] = [];
  let start = 0;
  let end = size;
  // Walk down; the siblings come out root-first, the proof lists them leaf-first.
  while (end - start > 1) {
    const k = splitPoint(end - start);
    if (index < start + k) {
      path.push(mth(start + k, end));
      end = start + k;
    } else {
      path.push(mth(start, start + k));
      start += k;
    }
  }
  return path.reverse();
}

/**
 * The root a proof leads to (RFC 9162 §2.1.3.2), or null when the proof cannot be valid for
 * this index and size (wrong length, wrong hash sizes, index out of range).
 */
export function rootFromInclusionProof(
  index: number,
  size: number,
  leafHash: Uint8Array,
  proof: readonly Uint8Array[],
): Uint8Array | null {
  if (!(Number.isSafeInteger(index) && Number.isSafeInteger(size)) || index < 0 || index >= size) return null;
  if (leafHash.length !== HASH_BYTES) return null;
  let fn = index;
  let sn = size - 1;
  let r = leafHash;
  for (const p of proof) {
    if (p.length !== HASH_BYTES) return null;
    if (sn === 0) return null;
    if (fn % 2 === 1 || fn === sn) {
      r = hashChildren(p, r);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn = Math.floor(fn / 2);
          sn = Math.floor(sn / 2);
        }
      }
    } else {
      r = hashChildren(r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 ? r : null;
}

/** True when `proof` shows the leaf at `index` is in the tree of `size` leaves with `root`. */
export function verifyInclusion(
  index: number,
  size: number,
  leafHash: Uint8Array,
  proof: readonly Uint8Array[],
  root: Uint8Array,
): boolean {
  const got = rootFromInclusionProof(index, size, leafHash, proof);
  return got !== null && equalBytes(got, root);
}
