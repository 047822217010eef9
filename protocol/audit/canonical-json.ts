/**
 * RFC 8785 JSON Canonicalization Scheme (JCS): object keys sorted by UTF-16 code units, no
 * whitespace, ECMAScript number serialization. Implemented by `canonicalize` (erdtman, the
 * implementation RFC 8785 itself points to); it refuses NaN, Infinity and lone surrogates.
 */
import canonicalize from 'canonicalize';
import { utf8 } from './bytes.ts';

/** The canonical JSON text of `value`; throws for values JSON cannot represent. */
export function canonicalJson(value: unknown): string {
  const text = canonicalize(value);
  if (text === undefined) throw new Error('value has no JSON form');
  return text;
}

/** UTF-8 bytes of the canonical JSON text (what the audit log hashes). */
export function canonicalBytes(value: unknown): Uint8Array {
  return utf8(canonicalJson(value));
}
