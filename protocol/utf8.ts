/**
 * Output bytes and UTF-8: where a byte stream may be cut without splitting a character, and how
 * bytes are handed to clients (text when they are valid UTF-8, base64 otherwise; never lossy).
 */
import { isUtf8 } from 'node:buffer';

/**
 * The largest `n <= end` such that `bytes[0, n)` does not end inside a UTF-8 sequence that could
 * still be completed: a lead byte whose continuation bytes are (partly) beyond `end` is left
 * out with them. Bytes that cannot belong to a valid sequence (stray continuation bytes, 0xF8+)
 * are no character to protect: the cut stays at `end`. At most 3 bytes are given up.
 */
export function completeUtf8Length(bytes: Uint8Array, end: number = bytes.length): number {
  const stop = Math.max(0, end - 4);
  for (let i = end - 1; i >= stop; i--) {
    const b = bytes[i] ?? 0;
    if ((b & 0xc0) === 0x80) continue; // a continuation byte: look further back for its lead
    const need = b < 0x80 ? 1 : (b & 0xe0) === 0xc0 ? 2 : (b & 0xf0) === 0xe0 ? 3 : (b & 0xf8) === 0xf0 ? 4 : 1;
    return i + need > end ? i : end;
  }
  return end;
}

/** How output bytes are represented in JSON: absent = the text itself, `base64` = base64 of the bytes. */
export type OutputEncoding = 'base64';

/** Output bytes as JSON can carry them without loss: the text if they are valid UTF-8, else base64. */
export function encodeOutput(bytes: Uint8Array): { data: string; encoding?: OutputEncoding } {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return isUtf8(buf) ? { data: buf.toString('utf8') } : { data: buf.toString('base64'), encoding: 'base64' };
}

/** The bytes behind an encoded output (inverse of {@link encodeOutput}). */
export function decodeOutput(data: string, encoding?: OutputEncoding): Buffer {
  return encoding === 'base64' ? Buffer.from(data, 'base64') : Buffer.from(data, 'utf8');
}
