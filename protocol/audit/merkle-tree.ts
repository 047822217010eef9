/**
 * An in-memory RFC 9162 tree over leaf hashes that answers MTH of any range in O(log n), for
 * generating inclusion and consistency proofs. It stores every complete perfect subtree (level k
 * holds the roots of aligned runs of 2^k leaves), 32 bytes per node in one growing buffer per
 * level: about 64 bytes per leaf. Pure data structure, no I/O.
 */
import { consistencyProof } from './consistency-proof.ts';
import { inclusionProof } from './inclusion-proof.ts';
import { EMPTY_ROOT, HASH_BYTES, hashChildren, splitPoint } from './merkle-hash.ts';

class Level {
  #buf = new Uint8Array(HASH_BYTES * 64);
  count = 0;

  push(hash: Uint8Array): void {
    if ((this.count + 1) * HASH_BYTES > this.#buf.length) {
      const next = new Uint8Array(this.#buf.length * 2);
      next.set(this.#buf);
      this.#buf = next;
    }
    this.#buf.set(hash, this.count * HASH_BYTES);
    this.count++;
  }

  at(i: number): Uint8Array {
    return this.#buf.subarray(i * HASH_BYTES, (i + 1) * HASH_BYTES);
  }
}

export class MerkleTree {
  readonly #levels: Level[] = [new Level()];

  /** Number of leaves. */
  get size(): number {
    return (this.#levels[0] as Level).count;
  }

  /** Appends a leaf hash and completes the perfect subtrees it closes. */
  append(leafHash: Uint8Array): void {
    if (leafHash.length !== HASH_BYTES) throw new Error('a leaf hash is 32 bytes');
    (this.#levels[0] as Level).push(leafHash);
    for (let k = 0; ; k++) {
      const level = this.#levels[k] as Level;
      if (level.count % 2 !== 0) break;
      const up = (this.#levels[k + 1] ??= new Level());
      up.push(hashChildren(level.at(level.count - 2), level.at(level.count - 1)));
    }
  }

  /** Hash of leaf `index`. */
  leaf(index: number): Uint8Array {
    if (index < 0 || index >= this.size) throw new Error(`no leaf ${index}`);
    return (this.#levels[0] as Level).at(index);
  }

  /** MTH(D[start:end]) for 0 ≤ start < end ≤ size (RFC 9162 §2.1.1). */
  rangeHash(start: number, end: number): Uint8Array {
    if (!(start >= 0 && start < end && end <= this.size)) throw new Error(`no range [${start}, ${end})`);
    const n = end - start;
    // A perfect, aligned subtree is stored.
    let k = 0;
    while (2 ** k < n) k++;
    if (2 ** k === n && start % n === 0) return (this.#levels[k] as Level).at(start / n);
    const split = splitPoint(n);
    return hashChildren(this.rangeHash(start, start + split), this.rangeHash(start + split, end));
  }

  /** Root of the tree made of the first `size` leaves (default: all). */
  root(size = this.size): Uint8Array {
    return size === 0 ? EMPTY_ROOT : this.rangeHash(0, size);
  }

  inclusionProof(index: number, size = this.size): Uint8Array[] {
    if (size > this.size) throw new Error(`the tree has only ${this.size} leaves`);
    return inclusionProof(index, size, (s, e) => this.rangeHash(s, e));
  }

  consistencyProof(first: number, second = this.size): Uint8Array[] {
    if (second > this.size) throw new Error(`the tree has only ${this.size} leaves`);
    return consistencyProof(first, second, (s, e) => this.rangeHash(s, e));
  }
}
