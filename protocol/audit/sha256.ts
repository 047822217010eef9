/**
 * SHA-256 for the audit proof code. In Node it is node:crypto (reached through
 * process.getBuiltinModule, so this file has no Node import and still loads in a browser); in a
 * browser, @noble/hashes (audited, pure JavaScript). Both give the same bytes (unit-tested):
 * the sealer, the harness, the offline verifier and a browser console hash alike.
 */
import { sha256 as nobleSha256 } from '@noble/hashes/sha2.js';

interface NodeHash {
  update(data: Uint8Array): NodeHash;
  digest(): Uint8Array;
}
const nodeCrypto = (
  globalThis as { process?: { getBuiltinModule?: (id: string) => { createHash(alg: string): NodeHash } | undefined } }
).process?.getBuiltinModule?.('node:crypto');

/** SHA-256 of the concatenation of `parts`, with @noble/hashes (any JavaScript runtime). */
export function nobleSha256Of(...parts: Uint8Array[]): Uint8Array {
  if (parts.length === 1) return nobleSha256(parts[0] as Uint8Array);
  const h = nobleSha256.create();
  for (const p of parts) h.update(p);
  return h.digest();
}

/** SHA-256 of the concatenation of `parts` (no copy into one buffer). */
export function sha256(...parts: Uint8Array[]): Uint8Array {
  if (!nodeCrypto) return nobleSha256Of(...parts);
  const h = nodeCrypto.createHash('sha256');
  for (const p of parts) h.update(p);
  const d = h.digest();
  return new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
}
