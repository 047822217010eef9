/**
 * Byte helpers for the audit proof code: hex, standard base64 (RFC 4648 §4), UTF-8, concat and
 * equality. Pure and dependency-free, so the same code runs in Node and in a browser (no Buffer).
 */

const HEX = /^(?:[0-9a-f]{2})*$/;
const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

/** Lowercase hex of `bytes`. */
export function toHex(bytes: Uint8Array): string {
  let out = '';
  for (const b of bytes) out += b.toString(16).padStart(2, '0');
  return out;
}

/** Bytes of a lowercase hex string; throws on anything else (odd length, uppercase, junk). */
export function fromHex(hex: string): Uint8Array {
  if (!HEX.test(hex)) throw new Error('not lowercase hex');
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** Standard base64 with padding. */
export function toBase64(bytes: Uint8Array): string {
  let bin = '';
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin);
}

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const B64_VALUE = new Int16Array(128).fill(-1);
for (let i = 0; i < B64.length; i++) B64_VALUE[B64.charCodeAt(i)] = i;


/**
 * Bytes of standard, padded base64. Strict: a non-canonical encoding (other padding bits, missing
 * padding, whitespace, other characters) is refused, so one value has exactly one text form.
 */
export function fromBase64(text: string): Uint8Array {
  const out = new Uint8Array(base64Length(text));
  fromBase64Into(text, out, 0);
  return out;
}

/** How many bytes standard, padded base64 `text` decodes to; throws when its length cannot be that. */
function base64Length(text: string): number {
  const len = text.length;
  if (len % 4 !== 0) throw new Error('not standard padded base64');
  const pad = len > 0 && text.charCodeAt(len - 1) === 61 ? (text.charCodeAt(len - 2) === 61 ? 2 : 1) : 0;
  return (len / 4) * 3 - pad;
}

/**
 * Decodes standard, padded base64 `text` into `out` at `at` (as strict as fromBase64) and returns
 * how many bytes it wrote. For hot loops: no array per value (proof verification decodes
 * thousands of 44-character hashes into one scratch buffer).
 */
export function fromBase64Into(text: string, out: Uint8Array, at: number): number {
  const len = text.length;
  const bytes = base64Length(text);
  if (at + bytes > out.length) throw new Error('base64 value longer than its place');
  const pad = (len / 4) * 3 - bytes;
  // Whole groups first, inline.
  const full = pad === 0 ? len : len - 4;
  let o = at;
  for (let i = 0; i < full; i += 4) {
    const a = b64At(text, i);
    const b = b64At(text, i + 1);
    const c = b64At(text, i + 2);
    const d = b64At(text, i + 3);
    if ((a | b | c | d) < 0) throw new Error('not standard padded base64');
    const n = (a << 18) | (b << 12) | (c << 6) | d;
    out[o++] = n >>> 16;
    out[o++] = (n >>> 8) & 0xff;
    out[o++] = n & 0xff;
  }
  if (pad > 0) {
    const a = b64At(text, full);
    const b = b64At(text, full + 1);
    const c = pad === 2 ? 0 : b64At(text, full + 2);
    if ((a | b | c) < 0) throw new Error('not standard padded base64');
    const n = (a << 18) | (b << 12) | (c << 6);
    // Canonical: the bits the padding leaves unused must be zero.
    if ((pad === 2 && (n & 0xffff) !== 0) || (pad === 1 && (n & 0xff) !== 0)) throw new Error('non-canonical base64');
    out[o++] = n >>> 16;
    if (pad === 1) out[o++] = (n >>> 8) & 0xff;
  }
  return bytes;
}

/** The value of the base64 character at `i`, or -1 (also for `=` and anything past ASCII). */
function b64At(text: string, i: number): number {
  const c = text.charCodeAt(i);
  return c < 128 ? (B64_VALUE[c] as number) : -1;
}

export function utf8(text: string): Uint8Array {
  return encoder.encode(text);
}

/** Decodes UTF-8, throwing on invalid sequences (notes must be valid UTF-8). */
export function fromUtf8(bytes: Uint8Array): string {
  return decoder.decode(bytes);
}

export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Byte equality (not constant time: everything compared here is public). */
export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
