/**
 * The audit primitives that have two implementations or a fast path: SHA-256 (node:crypto in
 * Node, @noble/hashes elsewhere) and Ed25519 verification (node:crypto / @noble/curves) must
 * agree; strict base64; and the batch inclusion verifier, which skips nodes already proven,
 * must still refuse every corrupted proof once it is warm. Pure: no services.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { ed25519 } from '@noble/curves/ed25519.js';
import { fromBase64, toBase64 } from '../../protocol/audit/bytes.ts';
import { InclusionBatch, inclusionPathLength } from '../../protocol/audit/inclusion-proof.ts';
import { hashLeaf } from '../../protocol/audit/merkle-hash.ts';
import { MerkleTree } from '../../protocol/audit/merkle-tree.ts';
import { ed25519Verify } from '../../protocol/audit/note.ts';
import { nobleSha256Of, sha256 } from '../../protocol/audit/sha256.ts';

describe('two implementations agree', () => {
  test('SHA-256: node:crypto and @noble/hashes, on random inputs split in parts', () => {
    for (let i = 0; i < 200; i++) {
      const a = new Uint8Array(randomBytes(i));
      const b = new Uint8Array(randomBytes(i % 7));
      assert.deepEqual(sha256(a, b), nobleSha256Of(a, b));
    }
  });

  test('Ed25519: signatures from @noble/curves verify through node:crypto, tampered ones do not', () => {
    for (let i = 0; i < 20; i++) {
      const seed = new Uint8Array(randomBytes(32));
      const msg = new Uint8Array(randomBytes(50 + i));
      const sig = ed25519.sign(msg, seed);
      const pub = ed25519.getPublicKey(seed);
      assert.equal(ed25519Verify(sig, msg, pub), true);
      const bad = sig.slice();
      bad[i] = (bad[i] as number) ^ 1;
      assert.equal(ed25519Verify(bad, msg, pub), false);
      assert.equal(ed25519Verify(sig.subarray(1), msg, pub), false);
    }
  });
});

describe('strict base64', () => {
  test('round trips, and refuses non-canonical padding bits, missing padding and foreign characters', () => {
    for (let n = 0; n < 40; n++) {
      const b = new Uint8Array(randomBytes(n));
      assert.deepEqual(fromBase64(toBase64(b)), b);
    }
    for (const bad of ['QQ', 'QR==', 'QUJ=', 'QU=J', 'Q Q==', 'QQ==\n', 'QQ-_', 'é===']) assert.throws(() => fromBase64(bad), Error, bad);
    assert.deepEqual(fromBase64('QQ=='), new Uint8Array([0x41]));
  });
});

describe('batch inclusion verification', () => {
  const size = 300;
  const tree = new MerkleTree();
  for (let i = 0; i < size; i++) tree.append(hashLeaf(new Uint8Array([i % 256, i >> 8])));
  const proofs = Array.from({ length: size }, (_, i) => tree.inclusionProof(i).map(toBase64));

  test('proof lengths match the generator for every index', () => {
    for (let i = 0; i < size; i++) assert.equal(inclusionPathLength(i, size), (proofs[i] as string[]).length);
  });

  test('a warm batch still refuses wrong leaves, wrong indices, flipped or missing hashes', () => {
    const batch = new InclusionBatch(size, tree.root(), fromBase64);
    for (let i = 0; i < size; i += 2) assert.ok(batch.verify(i, tree.leaf(i), proofs[i] as string[]), `leaf ${i}`);
    for (let i = 1; i < size; i += 2) {
      const proof = proofs[i] as string[];
      assert.equal(batch.verify(i, hashLeaf(new Uint8Array([1, 2, 3])), proof), false, `wrong leaf ${i}`);
      assert.equal(batch.verify(i - 1, tree.leaf(i), proof), false, `wrong index ${i}`);
      assert.equal(batch.verify(i, tree.leaf(i), proof.slice(0, -1)), false, `short proof ${i}`);
      assert.equal(batch.verify(i, tree.leaf(i), [...proof, proof[0] as string]), false, `long proof ${i}`);
      const flipped = proof.map((p, k) => (k === 0 ? toBase64(fromBase64(p).map((x, j) => (j === 0 ? x ^ 1 : x))) : p));
      assert.equal(batch.verify(i, tree.leaf(i), flipped), false, `flipped sibling ${i}`);
      assert.equal(batch.verify(i, tree.leaf(i), proof), true, `then the right proof ${i}`);
    }
    assert.equal(new InclusionBatch(size, hashLeaf(new Uint8Array(0)), fromBase64).verify(0, tree.leaf(0), proofs[0] as string[]), false);
  });
});
