/**
 * The hash chain and the leaves of a log, over the same bytes: the RFC 8785 canonical JSON of
 * an entry without `prevHash` and `hash` (its content, `seq` included).
 *   hash_n = SHA-256(hash_{n-1} ‖ content_n), hash_0 = 32 zero bytes;  leaf_n = SHA-256(0x00 ‖ content_n)
 */
import { fromHex, toHex } from './bytes.ts';
import { canonicalBytes } from './canonical-json.ts';
import type { SealedEntry } from './entry.ts';
import { hashLeaf } from './merkle-hash.ts';
import { sha256 } from './sha256.ts';

/** prevHash of the first entry of a log. */
export const GENESIS_HASH = '0'.repeat(64);

export type EntryContent = Omit<SealedEntry, 'prevHash' | 'hash'>;

export function entryContent(entry: SealedEntry): EntryContent {
  const { prevHash: _p, hash: _h, ...content } = entry;
  return content;
}

/** The bytes both the chain and the tree hash. */
export function contentBytes(content: EntryContent): Uint8Array {
  return canonicalBytes(content);
}

/** hash = SHA-256(prevHash ‖ content), hex. */
export function chainHash(prevHash: string, content: Uint8Array): string {
  return toHex(sha256(fromHex(prevHash), content));
}

/** Leaf hash of an entry's content bytes. */
export function entryLeafHash(content: Uint8Array): Uint8Array {
  return hashLeaf(content);
}

/** Seals content after `prevHash`: the entry as the log stores it, and its leaf hash. */
export function sealContent(content: EntryContent, prevHash: string): { entry: SealedEntry; leafHash: Uint8Array } {
  const bytes = contentBytes(content);
  return { entry: { ...content, prevHash, hash: chainHash(prevHash, bytes) }, leafHash: entryLeafHash(bytes) };
}
