/**
 * The right edge of a Merkle tree ("compact range" from 0): the roots of the perfect subtrees that
 * make up a tree of `size` leaves, left to right, one per set bit of `size`. Enough to append a
 * leaf and to compute the root in O(log n) memory: what the sealer keeps per tenant, and what a
 * verifier walking a whole log uses.
 */
import { EMPTY_ROOT, hashChildren } from './merkle-hash.ts';

export interface CompactRange {
  readonly size: number;
  /** Roots of the perfect subtrees, largest (leftmost) first. */
  readonly hashes: readonly Uint8Array[];
}

export const EMPTY_RANGE: CompactRange = { size: 0, hashes: [] };

/** The range after appending one leaf hash (a new value; the input is not changed). */
export function appendLeaf(range: CompactRange, leafHash: Uint8Array): CompactRange {
  const hashes = range.hashes.slice();
  let node = leafHash;
  // Each trailing 1 bit of the old size is a perfect subtree the same size as `node`: merge.
  for (let s = range.size; s % 2 === 1; s = Math.floor(s / 2)) {
    const left = hashes.pop();
    if (!left) throw new Error('compact range does not match its size');
    node = hashChildren(left, node);
  }
  hashes.push(node);
  return { size: range.size + 1, hashes };
}

/** MTH of the tree: the subtree roots folded from the right (RFC 9162 §2.1.1). */
export function rangeRoot(range: CompactRange): Uint8Array {
  const hs = range.hashes;
  if (hs.length === 0) return EMPTY_ROOT;
  let root = hs[hs.length - 1] as Uint8Array;
  for (let i = hs.length - 2; i >= 0; i--) root = hashChildren(hs[i] as Uint8Array, root);
  return root;
}

/** Number of set bits: how many hashes a valid range of `size` leaves holds. */
export function rangeLength(size: number): number {
  let n = 0;
  for (let s = size; s > 0; s = Math.floor(s / 2)) n += s % 2;
  return n;
}
