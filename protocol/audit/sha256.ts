/**
 * SHA-256 for the audit proof code: @noble/hashes (audited, pure JavaScript), so the sealer, the
 * harness, the offline verifier and a browser console compute the same bytes the same way.
 */
import { sha256 as nobleSha256 } from '@noble/hashes/sha2.js';

/** SHA-256 of the concatenation of `parts` (no copy into one buffer). */
export function sha256(...parts: Uint8Array[]): Uint8Array {
  if (parts.length === 1) return nobleSha256(parts[0] as Uint8Array);
  const h = nobleSha256.create();
  for (const p of parts) h.update(p);
  return h.digest();
}
