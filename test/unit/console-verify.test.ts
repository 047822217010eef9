/**
 * The console's in-browser verifier (harness/console/static/verify.js, WebCrypto only) against
 * trace bundles made by the real protocol code (Merkle tree, C2SP checkpoint signed with Ed25519,
 * canonical entries) exactly as GET /v1/tasks/:id/trace?proofs=true makes them, and against the
 * offline verifier (protocol/audit/verify-bundle.ts) on the same bundles. Node's WebCrypto stands
 * in for the browser's here; test/integration/console-browser.test.ts runs it in Chromium.
 * Nothing is faked.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { toBase64, utf8 } from '../../protocol/audit/bytes.ts';
import { canonicalJson } from '../../protocol/audit/canonical-json.ts';
import { signCheckpoint } from '../../protocol/audit/checkpoint.ts';
import { entryLeafHash } from '../../protocol/audit/chain.ts';
import { MerkleTree } from '../../protocol/audit/merkle-tree.ts';
import { ed25519Signer, encodeVerifierKey, parseVerifierKey as nodeVerifierKey } from '../../protocol/audit/note.ts';
import { TRACE_BUNDLE_FORMAT, verifyTraceBundle } from '../../protocol/audit/verify-bundle.ts';
import { verifyTrace } from '../../harness/console/static/verify.js';

const ORIGIN = 'airlock.test/audit/acme';
const TASK = '3f1d2c4b-1111-4222-8333-444455556666';

function makeBundle(entryCount = 7, otherEvery = 2) {
  const seed = new Uint8Array(randomBytes(32));
  const signer = ed25519Signer(ORIGIN, seed);
  const tree = new MerkleTree();
  const texts: string[] = [];
  const ours: number[] = [];
  for (let seq = 1; seq <= entryCount; seq++) {
    const mine = seq % otherEvery === 1 || otherEvery === 1;
    const text = canonicalJson({ seq, time: new Date(seq * 1000).toISOString(), tenant: 'acme', action: mine ? 'task.created' : 'other', outcome: 'success', ...(mine ? { taskId: TASK } : { taskId: 'another' }) });
    tree.append(entryLeafHash(utf8(text)));
    texts.push(text);
    if (mine) ours.push(seq);
  }
  const size = tree.size;
  const note = signCheckpoint({ origin: ORIGIN, size, rootHash: tree.root(size) }, signer);
  const bundle = {
    format: TRACE_BUNDLE_FORMAT,
    taskId: TASK,
    origin: ORIGIN,
    checkpoint: note,
    entries: ours.map((seq) => texts[seq - 1] as string),
    proofs: ours.map((seq) => ({ seq, treeSize: size, hashes: tree.inclusionProof(seq - 1, size).map(toBase64) })),
    pending: 0,
  };
  return { bundle, key: encodeVerifierKey(ORIGIN, signer.publicKey) };
}

describe('console verify.js (WebCrypto) on real trace bundles', () => {
  test('an untouched bundle: checkpoint and every entry verified, as the offline verifier says', async () => {
    for (const [n, every] of [[1, 1], [7, 2], [33, 3], [64, 1]] as const) {
      const { bundle, key } = makeBundle(n, every);
      const result = await verifyTrace(bundle, key);
      assert.equal(result.checkpoint.ok, true, result.checkpoint.reason);
      assert.ok(result.entries.length > 0);
      assert.ok(result.entries.every((e) => e.ok), JSON.stringify(result.entries.filter((e) => !e.ok)));
      assert.deepEqual(result.entries.map((e) => e.entry?.['seq']), bundle.proofs.map((p) => p.seq));
      assert.equal(verifyTraceBundle(bundle, [nodeVerifierKey(key)]).ok, true);
    }
  });

  test('a tampered entry is unverified (and not read); the others stay verified', async () => {
    const { bundle, key } = makeBundle(9, 2);
    const tampered = { ...bundle, entries: bundle.entries.map((t, i) => (i === 1 ? t.replace('"success"', '"failure"') : t)) };
    assert.notEqual(tampered.entries[1], bundle.entries[1]);
    const result = await verifyTrace(tampered, key);
    assert.equal(result.checkpoint.ok, true);
    assert.deepEqual(result.entries.map((e) => e.ok), result.entries.map((_, i) => i !== 1));
    assert.equal(result.entries[1]?.entry, null, 'an unproven entry is not handed out to be shown');
    assert.match(result.entries[1]?.reason ?? '', /not in the signed log/);
    assert.equal(verifyTraceBundle(tampered, [nodeVerifierKey(key)]).firstBroken?.seq, bundle.proofs[1]?.seq);
  });

  test('a wrong proof hash, a wrong seq, another task, a proof of another size: unverified', async () => {
    const { bundle, key } = makeBundle(9, 2);
    const flip = (h: string) => toBase64(Uint8Array.from(Buffer.from(h, 'base64'), (b, i) => (i === 0 ? b ^ 1 : b)));
    const cases = [
      { ...bundle, proofs: bundle.proofs.map((p, i) => (i === 2 ? { ...p, hashes: [flip(p.hashes[0] as string), ...p.hashes.slice(1)] } : p)) },
      { ...bundle, proofs: bundle.proofs.map((p, i) => (i === 2 ? { ...p, seq: p.seq + 2 } : p)) },
      { ...bundle, proofs: bundle.proofs.map((p, i) => (i === 2 ? { ...p, treeSize: p.treeSize - 1 } : p)) },
      { ...bundle, proofs: bundle.proofs.map((p, i) => (i === 2 ? { ...p, hashes: ['not base64!'] } : p)) },
    ];
    for (const c of cases) {
      const result = await verifyTrace(c, key);
      assert.equal(result.entries[2]?.ok, false, JSON.stringify(result.entries[2]));
      assert.equal(verifyTraceBundle(c, [nodeVerifierKey(key)]).ok, false);
    }
  });

  test('a forged or re-signed checkpoint, or another key: nothing verifies', async () => {
    const { bundle, key } = makeBundle(5, 1);
    const other = makeBundle(5, 1);
    const lines = bundle.checkpoint.split('\n');
    const forgedSize = [lines[0], String(Number(lines[1]) + 1), ...lines.slice(2)].join('\n');
    for (const [b, k, why] of [
      [{ ...bundle, checkpoint: forgedSize }, key, /invalid signature/],
      [{ ...bundle, checkpoint: other.bundle.checkpoint }, key, /no signature by/],
      [bundle, other.key, /no signature by/],
      [{ ...bundle, origin: 'someone/else' }, key, /origin/],
    ] as const) {
      const result = await verifyTrace(b, k);
      assert.equal(result.checkpoint.ok, false);
      assert.match(result.checkpoint.reason, why);
      assert.ok(result.entries.every((e) => !e.ok && e.entry === null));
    }
  });
});
