/**
 * SHA-256 for the audit proof code. In Node it is node:crypto (reached through
 * process.getBuiltinModule, so this file has no Node import and still loads in a browser); in a
 * browser, @noble/hashes (audited, pure JavaScript). Both give the same bytes (unit-tested):
 * the sealer, the harness, the offline verifier and a browser console hash alike.
 */
import { sha256 as nobleSha256 } from '@noble/hashes/sha2.js';
import { toBase64, utf8 } from './bytes.ts';

/** node:crypto's one-shot `hash` (Node ≥ 20.12): no Hash object per call, so little garbage. */
interface NodeCrypto {
  hash(alg: 'sha256', data: Uint8Array | string, encoding: 'buffer'): Uint8Array;
  hash(alg: 'sha256', data: Uint8Array | string, encoding: 'base64'): string;
}
const nodeCrypto = (
  globalThis as { process?: { getBuiltinModule?: (id: string) => NodeCrypto | undefined } }
).process?.getBuiltinModule?.('node:crypto');

/** SHA-256 of the concatenation of `parts`, with @noble/hashes (any JavaScript runtime). */
export function nobleSha256Of(...parts: Uint8Array[]): Uint8Array {
  if (parts.length === 1) return nobleSha256(parts[0] as Uint8Array);
  const h = nobleSha256.create();
  for (const p of parts) h.update(p);
  return h.digest();
}

/** SHA-256 of the concatenation of `parts`. */
export function sha256(...parts: Uint8Array[]): Uint8Array {
  if (!nodeCrypto || typeof nodeCrypto.hash !== 'function') return nobleSha256Of(...parts);
  let data: Uint8Array;
  if (parts.length === 1) data = parts[0] as Uint8Array;
  else {
    data = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of parts) {
      data.set(p, at);
      at += p.length;
    }
  }
  // A plain Uint8Array view, as in a browser (a Buffer compares unequal to one in deepEqual).
  const d = nodeCrypto.hash('sha256', data, 'buffer');
  return new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
}

const hasNodeHash = typeof nodeCrypto?.hash === 'function';

/**
 * SHA-256 of `data`, as standard base64. For verifiers that hash thousands of nodes: in Node a
 * digest as a string costs a third of one as bytes (no ArrayBuffer per digest, far less garbage).
 */
export function sha256Base64(data: Uint8Array): string {
  return hasNodeHash ? (nodeCrypto as NodeCrypto).hash('sha256', data, 'base64') : toBase64(nobleSha256Of(data));
}

/** SHA-256 of the UTF-8 of `text` (lone surrogates as U+FFFD, as TextEncoder), as standard base64. */
export function sha256TextBase64(text: string): string {
  return hasNodeHash ? (nodeCrypto as NodeCrypto).hash('sha256', text, 'base64') : toBase64(nobleSha256Of(utf8(text)));
}
