/**
 * RFC 9162 §2.1.1 Merkle tree hashing with SHA-256. The 0x00 / 0x01 prefixes separate leaves from
 * interior nodes, which blocks second-preimage forgeries (an interior node passed off as a leaf).
 */
import { sha256 } from './sha256.ts';

export const HASH_BYTES = 32;
const LEAF_PREFIX = new Uint8Array([0x00]);
const NODE_PREFIX = new Uint8Array([0x01]);

/** MTH of the empty tree: SHA-256 of nothing. */
export const EMPTY_ROOT: Uint8Array = sha256(new Uint8Array(0));

/** Leaf hash: SHA-256(0x00 ‖ data). */
export function hashLeaf(data: Uint8Array): Uint8Array {
  return sha256(LEAF_PREFIX, data);
}

/** Interior node hash: SHA-256(0x01 ‖ left ‖ right). */
export function hashChildren(left: Uint8Array, right: Uint8Array): Uint8Array {
  return sha256(NODE_PREFIX, left, right);
}

/** The largest power of two strictly below `n` (n ≥ 2): where RFC 9162 splits a tree of n leaves. */
export function splitPoint(n: number): number {
  if (!Number.isSafeInteger(n) || n < 2) throw new Error(`no split point for ${n}`);
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}
