/**
 * RFC 9162 §2.1.1 Merkle tree hashing with SHA-256. The 0x00 / 0x01 prefixes separate leaves from
 * interior nodes, which blocks second-preimage forgeries (an interior node passed off as a leaf).
 */
import { sha256 } from './sha256.ts';

export const HASH_BYTES = 32;

/** MTH of the empty tree: SHA-256 of nothing. */
export const EMPTY_ROOT: Uint8Array = sha256(new Uint8Array(0));

/** Leaf hash: SHA-256(0x00 ‖ data). */
export function hashLeaf(data: Uint8Array): Uint8Array {
  const buf = new Uint8Array(data.length + 1);
  buf.set(data, 1);
  return sha256(buf);
}

/** Interior node hash: SHA-256(0x01 ‖ left ‖ right). */
const NODE_INPUT_BYTES = 1 + 2 * HASH_BYTES;
const nodeInput = new Uint8Array(NODE_INPUT_BYTES);

export function hashChildren(left: Uint8Array, right: Uint8Array): Uint8Array {
  // One buffer, one hash call: proofs and trees make many of these. The usual 65 bytes go
  // through one scratch buffer (sha256 reads it synchronously): no allocation per node.
  const n = 1 + left.length + right.length;
  const buf = n === NODE_INPUT_BYTES ? nodeInput : new Uint8Array(n);
  buf[0] = 0x01;
  buf.set(left, 1);
  buf.set(right, 1 + left.length);
  return sha256(buf);
}

/** The largest power of two strictly below `n` (n ≥ 2): where RFC 9162 splits a tree of n leaves. */
export function splitPoint(n: number): number {
  if (!Number.isSafeInteger(n) || n < 2) throw new Error(`no split point for ${n}`);
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}
