/**
 * RFC 9162 §2.1.3 inclusion proofs: generation over a node-hash source, and verification that
 * needs nothing but the proof (pure; the verifier's correctness is the product — see the immudb
 * advisory GHSA-672p-m5jq-mrh8, where a client accepted a malicious server's proof).
 */
import { equalBytes, toBase64 } from './bytes.ts';
import { HASH_BYTES, hashChildren, hashChildrenBase64, splitPoint } from './merkle-hash.ts';

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

/**
 * Verifies many inclusion proofs against one tree head, faster than one by one: a node that an
 * earlier, fully verified proof showed to lead to the root is not walked again. When a proof
 * reaches such a node (same position, same hash) its leaf is in the tree: that node's path to
 * the root was already checked. The nodes remembered are those of the last path verified, one
 * per level: for leaves given in order (as a bundle gives them) the path of the next leaf meets
 * the earlier ones first at a node of that path, so nothing more is needed; in any other order
 * the batch is merely slower, never less strict. Hashes stay base64 text throughout (digests as
 * strings are much cheaper than as byte arrays in Node; base64 is canonical, so equal text is
 * equal bytes). Proof hashes are decoded only as far as they are used; each used one must be
 * strict base64 of exactly 32 bytes, and the proof exactly as long as its path.
 */
export class InclusionBatch {
  readonly #size: number;
  readonly #root: string;
  /** Per level (number of shifts): index and base64 hash of the last verified path's node; -1 = none. */
  readonly #provenIndex: number[] = [];
  readonly #provenHash: string[] = [];

  constructor(size: number, root: Uint8Array) {
    this.#size = size;
    this.#root = root.length === HASH_BYTES ? toBase64(root) : '';
  }

  // The path being walked, reused from proof to proof (no arrays made per proof: a bundle has
  // thousands): level (number of shifts), node index and hash of each node passed.
  readonly #walkLevel: number[] = [];
  readonly #walkIndex: number[] = [];
  readonly #walkHash: string[] = [];

  /** `leafHash`: the leaf's hash as base64 (hashLeafTextBase64); `proof`: base64 siblings, leaf first. */
  verify(index: number, leafHash: string, proof: readonly string[]): boolean {
    const size = this.#size;
    if (!(Number.isSafeInteger(index) && index >= 0 && index < size) || leafHash.length !== 44) return false;
    const length = proof.length;
    if (length !== inclusionPathLength(index, size)) return false;
    for (let i = 0; i < length; i++) if ((proof[i] as string).length !== 44) return false;
    let fn = index;
    let sn = size - 1;
    let shifts = 0;
    let r = leafHash;
    let walked = 0;
    for (let i = 0; i < length; i++) {
      if (this.#provenIndex[shifts] === fn) {
        if (this.#provenHash[shifts] !== r) return false;
        // Proven too: they lead to a proven node.
        this.#remember(walked);
        return true;
      }
      this.#walkLevel[walked] = shifts;
      this.#walkIndex[walked] = fn;
      this.#walkHash[walked] = r;
      walked++;
      if (sn === 0) return false;
      const p = proof[i] as string;
      try {
        if (fn % 2 === 1 || fn === sn) {
          r = hashChildrenBase64(p, r);
          while (fn % 2 === 0 && fn !== 0) {
            fn = Math.floor(fn / 2);
            sn = Math.floor(sn / 2);
            shifts++;
          }
        } else {
          r = hashChildrenBase64(r, p);
        }
      } catch {
        return false; // not strict base64 of 32 bytes
      }
      fn = Math.floor(fn / 2);
      sn = Math.floor(sn / 2);
      shifts++;
    }
    if (sn !== 0 || r !== this.#root) return false;
    this.#remember(walked);
    return true;
  }

  /**
   * Records the first `walked` nodes of the path just checked as proven. The levels above stay:
   * they hold the proven node this path met and its ancestors, which are this path's too.
   */
  #remember(walked: number): void {
    for (let i = 0; i < walked; i++) {
      const level = this.#walkLevel[i] as number;
      this.#provenIndex[level] = this.#walkIndex[i] as number;
      this.#provenHash[level] = this.#walkHash[i] as string;
    }
  }
}

/** How many hashes the inclusion proof of leaf `index` in a tree of `size` has. */
export function inclusionPathLength(index: number, size: number): number {
  let n = 0;
  let start = 0;
  let end = size;
  while (end - start > 1) {
    const k = splitPoint(end - start);
    if (index < start + k) end = start + k;
    else start += k;
    n++;
  }
  return n;
}
