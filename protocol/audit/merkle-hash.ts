/**
 * RFC 9162 §2.1.1 Merkle tree hashing with SHA-256. The 0x00 / 0x01 prefixes separate leaves from
 * interior nodes, which blocks second-preimage forgeries (an interior node passed off as a leaf).
 */
import { fromBase64Into } from './bytes.ts';
import { sha256, sha256Base64, sha256TextBase64 } from './sha256.ts';

export const HASH_BYTES = 32;

/** MTH of the empty tree: SHA-256 of nothing. */
export const EMPTY_ROOT: Uint8Array = sha256(new Uint8Array(0));

/** Leaf hash: SHA-256(0x00 ‖ data). */
export function hashLeaf(data: Uint8Array): Uint8Array {
  const buf = new Uint8Array(data.length + 1);
  buf.set(data, 1);
  return sha256(buf);
}

/**
 * Leaf hash of the UTF-8 of `text`, as base64: SHA-256(0x00 ‖ text). U+0000 is the one byte
 * 0x00 in UTF-8, so the prefix rides along in the string (no byte array is made in Node).
 */
export function hashLeafTextBase64(text: string): string {
  return sha256TextBase64(`\u0000${text}`);
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

const nodeInputB64 = new Uint8Array(NODE_INPUT_BYTES);
nodeInputB64[0] = 0x01;

/**
 * Interior node hash of two base64 hashes, as base64 (for verifiers walking many proofs).
 * Throws unless both are strict base64 of exactly 32 bytes.
 */
export function hashChildrenBase64(left: string, right: string): string {
  // 44 characters may still decode to 31 bytes ("==" padding): check what was written.
  if (fromBase64Into(left, nodeInputB64, 1) !== HASH_BYTES || fromBase64Into(right, nodeInputB64, 1 + HASH_BYTES) !== HASH_BYTES) {
    throw new Error('not a base64 SHA-256 hash');
  }
  return sha256Base64(nodeInputB64);
}

/** The largest power of two strictly below `n` (n ≥ 2): where RFC 9162 splits a tree of n leaves. */
export function splitPoint(n: number): number {
  if (!Number.isSafeInteger(n) || n < 2) throw new Error(`no split point for ${n}`);
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}
