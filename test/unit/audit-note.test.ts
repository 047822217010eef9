/**
 * C2SP signed notes and checkpoints (protocol/audit/note.ts, checkpoint.ts) against the reference
 * implementation's published example (golang.org/x/mod/sumdb/note, note_test.go: the PeterNeumann
 * key and note). Ed25519 is deterministic, so signing must reproduce the note byte for byte.
 * Pure: no services.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { fromBase64 } from '../../protocol/audit/bytes.ts';
import { encodeCheckpoint, openCheckpoint, parseCheckpoint, signCheckpoint } from '../../protocol/audit/checkpoint.ts';
import { EMPTY_ROOT } from '../../protocol/audit/merkle-hash.ts';
import { ed25519Signer, encodeVerifierKey, openNote, parseVerifierKey, signNote } from '../../protocol/audit/note.ts';

const VKEY = 'PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW';
const SKEY = 'PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz';
const TEXT = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n";
const NOTE = `${TEXT}\n\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n`;
/** The seed inside the reference signer key: base64(0x01 ‖ 32-byte seed). */
const SEED = fromBase64(SKEY.split('+').slice(4).join('+')).subarray(1);

describe('signed note (Go reference vectors)', () => {
  test('key id, verifier key text and signature match the reference byte for byte', () => {
    const signer = ed25519Signer('PeterNeumann', SEED);
    assert.equal(encodeVerifierKey('PeterNeumann', signer.publicKey), VKEY);
    assert.equal(signer.keyId.toString(16), 'c74f20a3');
    assert.equal(signNote(TEXT, [signer]), NOTE);
  });

  test('the reference note opens with its verifier key; any edit does not', () => {
    const v = parseVerifierKey(VKEY);
    assert.equal(openNote(NOTE, [v]).text, TEXT);
    assert.throws(() => openNote(NOTE.replace('cryptography', 'cryptographY'), [v]), /invalid signature/);
    assert.throws(() => openNote(NOTE, []), /no signature by a known key/);
    // A signature by an unknown key is ignored; the known one still has to be there.
    const other = ed25519Signer('Other', new Uint8Array(32).fill(7));
    const two = signNote(TEXT, [other, ed25519Signer('PeterNeumann', SEED)]);
    assert.equal(openNote(two, [v]).verifiedBy.length, 1);
    assert.throws(() => openNote(signNote(TEXT, [other]), [v]), /no signature by a known key/);
  });

  test('mangled verifier keys are refused (as in the reference test)', () => {
    for (let i = 0; i < VKEY.length; i++) {
      const bumped = VKEY.slice(0, i) + String.fromCharCode(VKEY.charCodeAt(i) + 1) + VKEY.slice(i + 1);
      assert.throws(() => parseVerifierKey(bumped), Error, bumped);
    }
    for (const bad of [VKEY.slice(1), VKEY.slice(0, -1), 'PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW']) {
      assert.throws(() => parseVerifierKey(bad));
    }
  });

  test('texts without a final newline or with control characters are not signed', () => {
    const s = ed25519Signer('k', SEED);
    assert.throws(() => signNote('no newline', [s]));
    assert.throws(() => signNote('tab\there\n', [s]));
  });
});

describe('tlog-checkpoint', () => {
  const origin = 'airlock.test/audit/tenants/acme';
  const signer = ed25519Signer(origin, SEED);
  const verifier = parseVerifierKey(encodeVerifierKey(origin, signer.publicKey));

  test('encodes and parses the three lines exactly', () => {
    const text = encodeCheckpoint({ origin, size: 20852163, rootHash: EMPTY_ROOT });
    assert.equal(text, `${origin}\n20852163\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n`);
    assert.deepEqual(parseCheckpoint(text), { origin, size: 20852163, rootHash: EMPTY_ROOT });
    for (const bad of [`${origin}\n01\nx\n`, `${origin}\n1\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\next\n`, `${origin}\n1\n47DEQpj8HBSa\n`, `${origin}\n-1\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n`]) {
      assert.throws(() => parseCheckpoint(bad), Error, bad);
    }
  });

  test('a checkpoint opens only with the key named by its origin', () => {
    const note = signCheckpoint({ origin, size: 3, rootHash: EMPTY_ROOT }, signer);
    assert.equal(openCheckpoint(note, [verifier]).size, 3);
    // The same key under another name (another tenant's origin) does not open it.
    const otherName = parseVerifierKey(encodeVerifierKey('airlock.test/audit/tenants/globex', signer.publicKey));
    assert.throws(() => openCheckpoint(note, [otherName]));
    // Signed by another key under the right name: refused.
    const forged = signCheckpoint({ origin, size: 3, rootHash: EMPTY_ROOT }, ed25519Signer(origin, new Uint8Array(32).fill(9)));
    assert.throws(() => openCheckpoint(forged, [verifier]), /no signature by a known key/);
  });
});
