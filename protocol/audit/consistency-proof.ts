/**
 * RFC 9162 §2.1.4 consistency proofs: the tree of size `second` extends the tree of size `first`
 * (nothing in the first was changed or removed). Generation over a node-hash source; pure
 * verification.
 */
import { equalBytes } from './bytes.ts';
import type { RangeHasher } from './inclusion-proof.ts';
import { HASH_BYTES, hashChildren, splitPoint } from './merkle-hash.ts';

function isPowerOfTwo(n: number): boolean {
  let x = n;
  while (x > 1 && x % 2 === 0) x /= 2;
  return x === 1;
}

/** PROOF(m, D[0:n]) of RFC 9162 §2.1.4.1 (empty for m = 0 or m = n). */
export function consistencyProof(first: number, second: number, mth: RangeHasher): Uint8Array[] {
  if (!(Number.isSafeInteger(first) && Number.isSafeInteger(second) && first >= 0 && first <= second)) {
    throw new Error(`no consistency proof from ${first} to ${second}`);
  }
  if (first === 0 || first === second) return [];
  const out: Uint8Array[] = [];
  // SUBPROOF(m, D[start:end], b), iteratively; the nodes come out root-first.
  let m = first;
  let start = 0;
  let end = second;
  let whole = true;
  for (;;) {
    const n = end - start;
    if (m === n) {
      if (!whole) out.push(mth(start, end));
      break;
    }
    const k = splitPoint(n);
    if (m <= k) {
      out.push(mth(start + k, end));
      end = start + k;
    } else {
      out.push(mth(start, start + k));
      m -= k;
      start += k;
      whole = false;
    }
  }
  return out.reverse();
}

/**
 * RFC 9162 §2.1.4.2. True when `proof` shows the tree of `second` leaves with `secondRoot`
 * extends the tree of `first` leaves with `firstRoot`.
 */
export function verifyConsistency(
  first: number,
  second: number,
  proof: readonly Uint8Array[],
  firstRoot: Uint8Array,
  secondRoot: Uint8Array,
): boolean {
  if (!(Number.isSafeInteger(first) && Number.isSafeInteger(second)) || first < 0 || second < first) return false;
  if (proof.some((p) => p.length !== HASH_BYTES)) return false;
  if (first === second) return proof.length === 0 && equalBytes(firstRoot, secondRoot);
  if (first === 0) return proof.length === 0;
  if (proof.length === 0) return false;
  const path = [...proof];
  // A first tree that is a perfect subtree is its own first node.
  if (isPowerOfTwo(first)) path.unshift(firstRoot);
  let fn = first - 1;
  let sn = second - 1;
  while (fn % 2 === 1) {
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  let fr = path[0] as Uint8Array;
  let sr = fr;
  for (const c of path.slice(1)) {
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      fr = hashChildren(c, fr);
      sr = hashChildren(c, sr);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn = Math.floor(fn / 2);
          sn = Math.floor(sn / 2);
        }
      }
    } else {
      sr = hashChildren(sr, c);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 && equalBytes(fr, firstRoot) && equalBytes(sr, secondRoot);
}
