/**
 * The audit primitives that have two implementations or a fast path: SHA-256 (node:crypto in
 * Node, @noble/hashes elsewhere) and Ed25519 verification (node:crypto / @noble/curves) must
 * agree; strict base64; and the batch inclusion verifier, which skips nodes already proven,
 * must still refuse every corrupted proof once it is warm. Pure: no services.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { ed25519 } from '@noble/curves/ed25519.js';
import { MAX_DRAFT_BYTES, buildAuditDraftJson } from '../../protocol/audit/entry.ts';
import { fromBase64, fromBase64Into, toBase64, utf8 } from '../../protocol/audit/bytes.ts';
import { InclusionBatch, inclusionPathLength, verifyInclusion } from '../../protocol/audit/inclusion-proof.ts';
import { hashChildren, hashChildrenBase64, hashLeaf, hashLeafTextBase64 } from '../../protocol/audit/merkle-hash.ts';
import { MerkleTree } from '../../protocol/audit/merkle-tree.ts';
import { ed25519Verify } from '../../protocol/audit/note.ts';
import { TRACE_BUNDLE_FORMAT, TraceBundleSchema, asTraceBundle } from '../../protocol/audit/verify-bundle.ts';
import { findSecret } from '../../protocol/audit/secret-guard.ts';
import { AUDIT_SHARDS, auditShard } from '../../protocol/redis-keys.ts';
import { nobleSha256Of, sha256, sha256Base64, sha256TextBase64 } from '../../protocol/audit/sha256.ts';

describe('two implementations agree', () => {
  test('SHA-256: node:crypto and @noble/hashes, on random inputs split in parts', () => {
    for (let i = 0; i < 200; i++) {
      const a = new Uint8Array(randomBytes(i));
      const b = new Uint8Array(randomBytes(i % 7));
      assert.deepEqual(sha256(a, b), nobleSha256Of(a, b));
    }
  });

  test('SHA-256 as base64 text: the same digest, of bytes and of the UTF-8 of a string', () => {
    for (let i = 0; i < 100; i++) {
      const a = new Uint8Array(randomBytes(i));
      assert.equal(sha256Base64(a), toBase64(nobleSha256Of(a)));
    }
    // Non-ASCII, astral and a lone surrogate (encoded as U+FFFD by both).
    for (const text of ['', 'abc', 'é ü 漢字', '😀 \u{1F600}', 'lone \ud800 surrogate', '{"a":"\u0000"}']) {
      assert.equal(sha256TextBase64(text), toBase64(nobleSha256Of(utf8(text))), JSON.stringify(text));
      assert.equal(hashLeafTextBase64(text), toBase64(hashLeaf(utf8(text))), JSON.stringify(text));
    }
  });

  test('node hash of base64 children: the same as of the bytes; anything but strict 32-byte base64 refused', () => {
    for (let i = 0; i < 50; i++) {
      const l = new Uint8Array(randomBytes(32));
      const r = new Uint8Array(randomBytes(32));
      assert.equal(hashChildrenBase64(toBase64(l), toBase64(r)), toBase64(hashChildren(l, r)));
    }
    const ok = toBase64(new Uint8Array(32));
    const short = `${toBase64(new Uint8Array(31)).slice(0, -2)}==`; // 44 characters, 31 bytes
    assert.equal(short.length, 44);
    const nonCanonical = `${ok.slice(0, 42)}B=`; // padding bits set
    for (const bad of [short, nonCanonical, ok.slice(1), `${ok}A`, ok.replace('A', '-')]) {
      assert.throws(() => hashChildrenBase64(bad, ok), Error, bad);
      assert.throws(() => hashChildrenBase64(ok, bad), Error, bad);
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
    const out = new Uint8Array(6).fill(7);
    assert.equal(fromBase64Into('QUI=', out, 3), 2);
    assert.deepEqual(out, new Uint8Array([7, 7, 7, 0x41, 0x42, 7]));
    assert.throws(() => fromBase64Into('QUJD', out, 4), Error, 'past the end');
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
    const batch = new InclusionBatch(size, tree.root());
    for (let i = 0; i < size; i += 2) assert.ok(batch.verify(i, toBase64(tree.leaf(i)), proofs[i] as string[]), `leaf ${i}`);
    for (let i = 1; i < size; i += 2) {
      const proof = proofs[i] as string[];
      assert.equal(batch.verify(i, toBase64(hashLeaf(new Uint8Array([1, 2, 3]))), proof), false, `wrong leaf ${i}`);
      assert.equal(batch.verify(i - 1, toBase64(tree.leaf(i)), proof), false, `wrong index ${i}`);
      assert.equal(batch.verify(i, toBase64(tree.leaf(i)), proof.slice(0, -1)), false, `short proof ${i}`);
      assert.equal(batch.verify(i, toBase64(tree.leaf(i)), [...proof, proof[0] as string]), false, `long proof ${i}`);
      const flipped = proof.map((p, k) => (k === 0 ? toBase64(fromBase64(p).map((x, j) => (j === 0 ? x ^ 1 : x))) : p));
      assert.equal(batch.verify(i, toBase64(tree.leaf(i)), flipped), false, `flipped sibling ${i}`);
      assert.equal(batch.verify(i, toBase64(tree.leaf(i)), proof), true, `then the right proof ${i}`);
    }
    assert.equal(new InclusionBatch(size, hashLeaf(new Uint8Array(0))).verify(0, toBase64(tree.leaf(0)), proofs[0] as string[]), false);
  });

  test('in order, as a bundle gives leaves: genuine leaves pass, forged leaves and used forged siblings fail', () => {
    let seed = 7;
    const rand = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) % n);
    for (let round = 0; round < 20; round++) {
      const batch = new InclusionBatch(size, tree.root());
      for (let i = rand(3); i < size; i += 1 + rand(4)) {
        let proof = proofs[i] as string[];
        let leaf = tree.leaf(i);
        const corrupt = rand(4);
        const k = rand(proof.length);
        if (corrupt === 1) proof = proof.map((p, j) => (j === k ? toBase64(fromBase64(p).map((x, b) => (b === 3 ? x ^ 0x10 : x))) : p));
        if (corrupt === 2) leaf = leaf.map((x, b) => (b === 0 ? x ^ 1 : x));
        const got = batch.verify(i, toBase64(leaf), proof);
        const where = `round ${round} leaf ${i} corrupt ${corrupt} at ${k}`;
        if (corrupt === 2) assert.equal(got, false, where);
        // The leaf's own sibling is always used; a sibling above the node where this path met an
        // earlier, proven one is not read, and either answer is sound there (the leaf is the tree's).
        else if (corrupt === 1 && k === 0) assert.equal(got, false, where);
        else if (corrupt !== 1) assert.equal(got, verifyInclusion(i, size, leaf, proof.map(fromBase64), tree.root()), where);
        if (corrupt === 0) assert.equal(got, true, where);
      }
    }
  });
});

describe('trace bundle shape', () => {
  const proof = { seq: 1, treeSize: 3, hashes: [toBase64(new Uint8Array(32))] };
  const good = { format: TRACE_BUNDLE_FORMAT, taskId: 't', origin: 'o', checkpoint: 'c', entries: ['{}'], proofs: [proof] };
  const cases: [string, unknown][] = [
    ['a bundle', good],
    ['with pending', { ...good, pending: 2 }],
    ['no proofs', { ...good, entries: [], proofs: [] }],
    ['null', null],
    ['an array', [good]],
    ['a string', 'bundle'],
    ['another format', { ...good, format: 'airlock-audit-trace/v2' }],
    ['an extra key', { ...good, extra: 1 }],
    ['a missing key', { format: good.format, taskId: 't', origin: 'o', checkpoint: 'c', entries: [] }],
    ['taskId a number', { ...good, taskId: 1 }],
    ['checkpoint null', { ...good, checkpoint: null }],
    ['an entry object', { ...good, entries: [{}] }],
    ['entries a string', { ...good, entries: '{}' }],
    ['negative pending', { ...good, pending: -1 }],
    ['fractional pending', { ...good, pending: 1.5 }],
    ['pending a string', { ...good, pending: '1' }],
    ['seq 0', { ...good, proofs: [{ ...proof, seq: 0 }] }],
    ['seq fractional', { ...good, proofs: [{ ...proof, seq: 1.5 }] }],
    ['seq unsafe', { ...good, proofs: [{ ...proof, seq: 2 ** 60 }] }],
    ['treeSize a string', { ...good, proofs: [{ ...proof, treeSize: '3' }] }],
    ['a proof key extra', { ...good, proofs: [{ ...proof, x: 1 }] }],
    ['a proof key missing', { ...good, proofs: [{ seq: 1, treeSize: 3 }] }],
    ['a hash a number', { ...good, proofs: [{ ...proof, hashes: [1] }] }],
    ['65 hashes', { ...good, proofs: [{ ...proof, hashes: Array(65).fill('x') }] }],
    ['64 hashes', { ...good, proofs: [{ ...proof, hashes: Array(64).fill('x') }] }],
    ['a proof null', { ...good, proofs: [null] }],
    ['a proof an array', { ...good, proofs: [[1, 3, []]] }],
    ['__proto__ key in a proof', { ...good, proofs: [JSON.parse('{"seq":1,"treeSize":3,"hashes":[],"__proto__":{"x":1}}')] }],
  ];
  test('checked in place, it accepts exactly what the schema accepts', () => {
    for (const [name, input] of cases) {
      const viaJson: unknown = JSON.parse(JSON.stringify(input) ?? 'null');
      for (const value of [input, viaJson]) {
        assert.equal(asTraceBundle(value) !== null, TraceBundleSchema.safeParse(value).success, name);
      }
    }
    assert.equal(asTraceBundle(good), good, 'the input itself, not a copy');
  });
});

describe('producer side', () => {
  test('an id routes to the shard of the first 4 bytes of its SHA-256, big-endian (streams already written stay where they are)', () => {
    for (const id of ['system', 'acme', '0193a1b2-c3d4-7e5f-8a9b-000000000001', 'é']) {
      assert.equal(auditShard(id), createHash('sha256').update(id).digest().readUInt32BE(0) % AUDIT_SHARDS, id);
    }
  });

  test('the secret guard names where the secret is, however deep; clean entries pass', () => {
    assert.equal(findSecret({ a: 1, b: ['x', { c: null }] }), null);
    assert.equal(findSecret({ details: { apiKey: 'x' } }), '$.details.apiKey: field name names a secret');
    assert.equal(findSecret({ details: { list: ['ok', { note: 'Bearer abcdefghijkl' }] } }), '$.details.list[1].note: looks like a bearer credential');
    let deep: unknown = 'x';
    for (let i = 0; i < 40; i++) deep = [deep];
    assert.match(findSecret({ d: deep }) ?? '', /^\$\.d(\[0\])+: nested too deeply$/);
  });

  test('a draft is appended as the JSON that was size-checked; multi-byte text counts in UTF-8 bytes', () => {
    const { draft, json } = buildAuditDraftJson({ action: 'task.created', outcome: 'success', details: { note: 'é' } });
    assert.equal(json, JSON.stringify(draft));
    const units = Math.floor(MAX_DRAFT_BYTES / 2); // fits as UTF-16 units, not as UTF-8 (2 bytes each)
    assert.throws(() => buildAuditDraftJson({ action: 'task.created', outcome: 'success', details: { note: 'é'.repeat(units) } }), /larger than/);
    assert.doesNotThrow(() => buildAuditDraftJson({ action: 'task.created', outcome: 'success', details: { note: 'e'.repeat(units) } }));
  });
});
