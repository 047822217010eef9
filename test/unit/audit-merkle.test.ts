/**
 * The audit log's Merkle code (protocol/audit) against the Certificate Transparency test vectors
 * (the same as transparency-dev/merkle's proof/verify_test.go: 8 leaves, the roots of every
 * prefix, inclusion and consistency proofs) and against an independent implementation written
 * here (the RFC 9162 recursive definitions, hashed with node:crypto instead of @noble/hashes).
 * Pure: no services.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, test } from 'node:test';
import { fromHex, toHex } from '../../protocol/audit/bytes.ts';
import { EMPTY_RANGE, appendLeaf, rangeRoot, type CompactRange } from '../../protocol/audit/compact-range.ts';
import { verifyConsistency } from '../../protocol/audit/consistency-proof.ts';
import { rootFromInclusionProof, verifyInclusion } from '../../protocol/audit/inclusion-proof.ts';
import { EMPTY_ROOT, hashLeaf } from '../../protocol/audit/merkle-hash.ts';
import { MerkleTree } from '../../protocol/audit/merkle-tree.ts';

const LEAVES = ['', '00', '10', '2021', '3031', '40414243', '5051525354555657', '606162636465666768696a6b6c6d6e6f'].map(fromHex);
const ROOTS = [
  '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
  'fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125',
  'aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77',
  'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
  '4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4',
  '76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef',
  'ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c',
  '5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328',
];
const INCLUSION: [number, number, string[]][] = [
  [1, 1, []],
  [1, 8, ['96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7', '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e', '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4']],
  [6, 8, ['bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b', 'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0', 'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7']],
  [3, 3, ['fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125']],
  [2, 5, ['6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d', '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e', 'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b']],
];
const CONSISTENCY: [number, number, string[]][] = [
  [1, 1, []],
  [1, 8, ['96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7', '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e', '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4']],
  [6, 8, ['0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a', 'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0', 'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7']],
  [2, 5, ['5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e', 'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b']],
  [6, 7, ['0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a', 'b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f', 'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7']],
];

function treeOf(leaves: Uint8Array[]): MerkleTree {
  const t = new MerkleTree();
  for (const l of leaves) t.append(hashLeaf(l));
  return t;
}

/* An independent implementation: the RFC's recursive definitions, node:crypto SHA-256. */
const nodeSha = (...parts: Uint8Array[]) => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
};
const k2 = (n: number) => { let k = 1; while (k * 2 < n) k *= 2; return k; };
function mth(d: Uint8Array[]): Uint8Array {
  if (d.length === 0) return nodeSha();
  if (d.length === 1) return nodeSha(new Uint8Array([0]), d[0] as Uint8Array);
  const k = k2(d.length);
  return nodeSha(new Uint8Array([1]), mth(d.slice(0, k)), mth(d.slice(k)));
}
function path(m: number, d: Uint8Array[]): Uint8Array[] {
  if (d.length <= 1) return [];
  const k = k2(d.length);
  return m < k ? [...path(m, d.slice(0, k)), mth(d.slice(k))] : [...path(m - k, d.slice(k)), mth(d.slice(0, k))];
}
function subproof(m: number, d: Uint8Array[], b: boolean): Uint8Array[] {
  if (m === d.length) return b ? [] : [mth(d)];
  const k = k2(d.length);
  return m <= k ? [...subproof(m, d.slice(0, k), b), mth(d.slice(k))] : [...subproof(m - k, d.slice(k), false), mth(d.slice(0, k))];
}
const hexes = (xs: Uint8Array[]) => xs.map(toHex);

describe('RFC 9162 Merkle tree: CT test vectors', () => {
  test('roots of every prefix of the 8 leaves, from the tree and from the compact range', () => {
    const t = treeOf(LEAVES);
    let range: CompactRange = EMPTY_RANGE;
    for (let n = 1; n <= 8; n++) {
      range = appendLeaf(range, hashLeaf(LEAVES[n - 1] as Uint8Array));
      assert.equal(toHex(t.root(n)), ROOTS[n - 1], `tree root of ${n}`);
      assert.equal(toHex(rangeRoot(range)), ROOTS[n - 1], `compact range root of ${n}`);
    }
    assert.equal(toHex(new MerkleTree().root()), 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    assert.equal(toHex(rangeRoot(EMPTY_RANGE)), toHex(EMPTY_ROOT));
  });

  test('inclusion proofs are generated as the vectors and verify; every corruption fails', () => {
    const t = treeOf(LEAVES);
    for (const [leaf, size, want] of INCLUSION) {
      const index = leaf - 1;
      const proof = t.inclusionProof(index, size);
      assert.deepEqual(hexes(proof), want, `proof ${leaf}/${size}`);
      const leafHash = hashLeaf(LEAVES[index] as Uint8Array);
      const root = fromHex(ROOTS[size - 1] as string);
      assert.ok(verifyInclusion(index, size, leafHash, proof, root));
      const probes: [number, number, Uint8Array, Uint8Array[], Uint8Array][] = [
        [index - 1, size, leafHash, proof, root],
        [index + 1, size, leafHash, proof, root],
        [index ^ 2, size, leafHash, proof, root],
        [index, size * 2, leafHash, proof, root],
        [index, Math.floor(size / 2), leafHash, proof, root],
        [index, size, hashLeaf(new Uint8Array([9])), proof, root],
        [index, size, leafHash, proof, EMPTY_ROOT],
        [index, size, leafHash, [...proof, root], root],
        [index, size, leafHash, [root, ...proof], root],
        [index, size, leafHash, [...proof, new Uint8Array(0)], root],
      ];
      if (proof.length > 0) probes.push([index, size, leafHash, proof.slice(0, -1), root]);
      for (let i = 0; i < proof.length; i++) {
        const bad = proof.map((p) => p.slice());
        const b = bad[i] as Uint8Array;
        b[0] = (b[0] as number) ^ 8;
        probes.push([index, size, leafHash, bad, root]);
      }
      for (const [i, s, l, p, r] of probes) {
        if (i === index && s === size && l === leafHash && p === proof && r === root) continue;
        assert.equal(verifyInclusion(i, s, l, p, r), false, `corrupted ${leaf}/${size}: index ${i} size ${s} proof ${p.length}`);
      }
    }
    assert.equal(rootFromInclusionProof(0, 0, EMPTY_ROOT, []), null);
    assert.equal(rootFromInclusionProof(2, 1, EMPTY_ROOT, []), null);
  });

  test('consistency proofs are generated as the vectors and verify; every corruption fails', () => {
    const t = treeOf(LEAVES);
    for (const [first, second, want] of CONSISTENCY) {
      const proof = t.consistencyProof(first, second);
      assert.deepEqual(hexes(proof), want, `proof ${first}→${second}`);
      const r1 = fromHex(ROOTS[first - 1] as string);
      const r2 = fromHex(ROOTS[second - 1] as string);
      assert.ok(verifyConsistency(first, second, proof, r1, r2), `verify ${first}→${second}`);
      if (proof.length === 0) continue;
      const probes: [number, number, Uint8Array[], Uint8Array, Uint8Array][] = [
        [first - 1, second, proof, r1, r2], [first + 1, second, proof, r1, r2], [first ^ 2, second, proof, r1, r2],
        [first, second * 2, proof, r1, r2], [first, Math.floor(second / 2), proof, r1, r2],
        [first, second, proof, EMPTY_ROOT, r2], [first, second, proof, r1, EMPTY_ROOT], [first, second, proof, r2, r1],
        [first, second, [], r1, r2], [first, second, [...proof, r1], r1, r2], [first, second, [r2, ...proof], r1, r2],
        [first, second, [proof[0] as Uint8Array, ...proof], r1, r2], [first, second, proof.slice(0, -1), r1, r2],
      ];
      for (let i = 0; i < proof.length; i++) {
        const bad = proof.map((p) => p.slice());
        const b = bad[i] as Uint8Array;
        b[0] = (b[0] as number) ^ 16;
        probes.push([first, second, bad, r1, r2]);
      }
      for (const [f, s, p, a, b] of probes) {
        assert.equal(verifyConsistency(f, s, p, a, b), false, `corrupted ${first}→${second}: ${f}→${s}, ${p.length} hashes`);
      }
    }
    // The edge cases of transparency-dev's TestVerifyConsistency.
    const a = new Uint8Array(32).fill(1);
    const b = new Uint8Array(32).fill(2);
    assert.ok(verifyConsistency(0, 0, [], a, a));
    assert.ok(verifyConsistency(0, 1, [], a, b));
    assert.ok(verifyConsistency(1, 1, [], b, b));
    assert.equal(verifyConsistency(1, 1, [], a, b), false);
    assert.equal(verifyConsistency(1, 0, [], a, b), false);
    assert.equal(verifyConsistency(1, 2, [], a, b), false);
    assert.equal(verifyConsistency(1, 1, [EMPTY_ROOT], EMPTY_ROOT, EMPTY_ROOT), false);
  });
});

describe('RFC 9162 Merkle tree: against an independent implementation', () => {
  const leaves = Array.from({ length: 70 }, (_, i) => new TextEncoder().encode(`leaf ${i} ${'x'.repeat(i % 7)}`));
  const t = treeOf(leaves);

  test('every root, every inclusion proof of trees up to 70 leaves', () => {
    for (let n = 1; n <= leaves.length; n++) {
      const root = mth(leaves.slice(0, n));
      assert.equal(toHex(t.root(n)), toHex(root), `root ${n}`);
      for (let m = 0; m < n; m++) {
        const want = path(m, leaves.slice(0, n));
        const got = t.inclusionProof(m, n);
        assert.deepEqual(hexes(got), hexes(want), `path ${m}/${n}`);
        assert.ok(verifyInclusion(m, n, hashLeaf(leaves[m] as Uint8Array), got, root));
      }
    }
  });

  test('every consistency proof between trees up to 70 leaves', () => {
    for (let n = 1; n <= leaves.length; n++) {
      for (let m = 1; m < n; m++) {
        const want = subproof(m, leaves.slice(0, n), true);
        const got = t.consistencyProof(m, n);
        assert.deepEqual(hexes(got), hexes(want), `proof ${m}→${n}`);
        assert.ok(verifyConsistency(m, n, got, t.root(m), t.root(n)), `verify ${m}→${n}`);
        assert.equal(verifyConsistency(m, n, got, t.root(m === 1 ? 2 : m - 1), t.root(n)), false);
      }
    }
  });
});
