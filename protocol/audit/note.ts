/**
 * C2SP signed notes (signed-note.md; reference code golang.org/x/mod/sumdb/note) with Ed25519
 * keys: key ids, verifier key text `<name>+<hex key id>+<base64(0x01 ‖ public key)>`, signing and
 * opening. Byte-exact with the reference: the tests reproduce its published example note.
 */
import { ed25519 } from '@noble/curves/ed25519.js';
import { concatBytes, fromBase64, fromUtf8, toBase64, utf8 } from './bytes.ts';
import { sha256 } from './sha256.ts';

interface NodeEd25519 {
  createPublicKey(key: { key: { kty: 'OKP'; crv: 'Ed25519'; x: string }; format: 'jwk' }): unknown;
  verify(alg: null, data: Uint8Array, key: unknown, signature: Uint8Array): boolean;
}
/** node:crypto when running in Node (faster first use than a pure-JS curve), else @noble/curves. */
const nodeCrypto = (globalThis as { process?: { getBuiltinModule?: (id: string) => NodeEd25519 | undefined } }).process?.getBuiltinModule?.('node:crypto');

/** Ed25519 verification (RFC 8032); false for malformed input. */
export function ed25519Verify(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean {
  try {
    if (signature.length !== 64 || publicKey.length !== 32) return false;
    if (nodeCrypto) {
      const x = btoa(String.fromCharCode(...publicKey)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
      return nodeCrypto.verify(null, message, nodeCrypto.createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x }, format: 'jwk' }), signature);
    }
    return ed25519.verify(signature, message, publicKey);
  } catch {
    return false;
  }
}

/** Signature type byte of Ed25519 in key ids and verifier keys. */
const ALG_ED25519 = 0x01;
const SIG_PREFIX = '\u2014 ';
/** Signatures per note we look at (the spec: accept at least 16). */
const MAX_SIGNATURES = 100;

export class NoteError extends Error {
  override readonly name = 'NoteError';
}

export interface NoteVerifier {
  readonly name: string;
  readonly keyId: number;
  verify(message: Uint8Array, signature: Uint8Array): boolean;
}

export interface NoteSigner {
  readonly name: string;
  readonly keyId: number;
  sign(message: Uint8Array): Uint8Array;
}

/** Key names: non-empty, no Unicode spaces, no `+` (signed-note §Format). */
export function isValidKeyName(name: string): boolean {
  return name.length > 0 && !/[\s+\u0000-\u001f]/u.test(name);
}

/** First 4 bytes (big-endian uint32) of SHA-256(name ‖ 0x0A ‖ 0x01 ‖ public key). */
export function ed25519KeyId(name: string, publicKey: Uint8Array): number {
  const h = sha256(utf8(name), new Uint8Array([0x0a, ALG_ED25519]), publicKey);
  return (((h[0] as number) << 24) | ((h[1] as number) << 16) | ((h[2] as number) << 8) | (h[3] as number)) >>> 0;
}

function hex8(n: number): string {
  return n.toString(16).padStart(8, '0');
}

/** The verifier key text of an Ed25519 public key under `name`. */
export function encodeVerifierKey(name: string, publicKey: Uint8Array): string {
  if (!isValidKeyName(name)) throw new NoteError(`invalid key name ${JSON.stringify(name)}`);
  if (publicKey.length !== 32) throw new NoteError('an Ed25519 public key is 32 bytes');
  return `${name}+${hex8(ed25519KeyId(name, publicKey))}+${toBase64(concatBytes(new Uint8Array([ALG_ED25519]), publicKey))}`;
}

/** Parses verifier key text (strictly: a mismatching key id or algorithm is refused). */
export function parseVerifierKey(text: string): NoteVerifier & { publicKey: Uint8Array } {
  const parts = text.split('+');
  // The base64 part may itself contain '+': name and id are the first two fields.
  const [name, id, ...rest] = parts;
  const key64 = rest.join('+');
  if (name === undefined || id === undefined || !isValidKeyName(name) || !/^[0-9a-f]{8}$/.test(id)) {
    throw new NoteError('malformed verifier key');
  }
  let raw: Uint8Array;
  try {
    raw = fromBase64(key64);
  } catch {
    throw new NoteError('malformed verifier key');
  }
  if (raw.length !== 33 || raw[0] !== ALG_ED25519) throw new NoteError('not an Ed25519 verifier key');
  const publicKey = raw.subarray(1);
  const keyId = ed25519KeyId(name, publicKey);
  if (hex8(keyId) !== id) throw new NoteError('verifier key id does not match the key');
  return {
    name,
    keyId,
    publicKey,
    verify: (message, signature) => ed25519Verify(signature, message, publicKey),
  };
}

/** A verifier for a raw Ed25519 public key under `name`. */
export function ed25519Verifier(name: string, publicKey: Uint8Array): NoteVerifier {
  return parseVerifierKey(encodeVerifierKey(name, publicKey));
}

/** A signer from a 32-byte Ed25519 seed (RFC 8032 private key). */
export function ed25519Signer(name: string, seed: Uint8Array): NoteSigner & { publicKey: Uint8Array } {
  if (seed.length !== 32) throw new NoteError('an Ed25519 private key (seed) is 32 bytes');
  if (!isValidKeyName(name)) throw new NoteError(`invalid key name ${JSON.stringify(name)}`);
  const publicKey = ed25519.getPublicKey(seed);
  return { name, keyId: ed25519KeyId(name, publicKey), publicKey, sign: (m) => ed25519.sign(m, seed) };
}

/** The public key of a seed. */
export function ed25519PublicKey(seed: Uint8Array): Uint8Array {
  return ed25519.getPublicKey(seed);
}

function checkText(text: string): void {
  if (!text.endsWith('\n')) throw new NoteError('note text must end in a newline');
  // No control characters but newline (the spec), which also keeps a text from faking signatures.
  if (/[\u0000-\u0009\u000b-\u001f]/.test(text)) throw new NoteError('note text has control characters');
}

/** Signs `text` (ending in a newline) with each signer: text, blank line, signature lines. */
export function signNote(text: string, signers: readonly NoteSigner[]): string {
  checkText(text);
  const message = utf8(text);
  let out = `${text}\n`;
  for (const s of signers) {
    const id = new Uint8Array([s.keyId >>> 24, (s.keyId >>> 16) & 0xff, (s.keyId >>> 8) & 0xff, s.keyId & 0xff]);
    out += `${SIG_PREFIX}${s.name} ${toBase64(concatBytes(id, s.sign(message)))}\n`;
  }
  return out;
}

export interface OpenedNote {
  text: string;
  /** The known keys whose signatures verified. */
  verifiedBy: NoteVerifier[];
}

/**
 * Opens a signed note: splits text and signatures at the last blank line, ignores signatures of
 * unknown keys (name and id must both match a verifier), rejects the note if a known key's
 * signature fails or if no known key signed it.
 */
export function openNote(note: string, verifiers: readonly NoteVerifier[]): OpenedNote {
  try {
    fromUtf8(utf8(note));
  } catch {
    throw new NoteError('note is not valid UTF-8');
  }
  const split = note.lastIndexOf('\n\n');
  if (split < 0) throw new NoteError('malformed note: no blank line before the signatures');
  const text = note.slice(0, split + 1);
  checkText(text);
  const sigBlock = note.slice(split + 2);
  if (!sigBlock.endsWith('\n')) throw new NoteError('malformed note: signatures must end in a newline');
  const lines = sigBlock.slice(0, -1).split('\n');
  if (lines.length > MAX_SIGNATURES) throw new NoteError('too many signatures');
  const message = utf8(text);
  const verifiedBy: NoteVerifier[] = [];
  for (const line of lines) {
    if (!line.startsWith(SIG_PREFIX)) throw new NoteError('malformed signature line');
    const rest = line.slice(SIG_PREFIX.length);
    const space = rest.indexOf(' ');
    const name = rest.slice(0, space);
    if (space <= 0 || !isValidKeyName(name)) throw new NoteError('malformed signature line');
    let sig: Uint8Array;
    try {
      sig = fromBase64(rest.slice(space + 1));
    } catch {
      throw new NoteError('malformed signature line');
    }
    if (sig.length < 5) throw new NoteError('malformed signature line');
    const keyId = (((sig[0] as number) << 24) | ((sig[1] as number) << 16) | ((sig[2] as number) << 8) | (sig[3] as number)) >>> 0;
    const verifier = verifiers.find((v) => v.name === name && v.keyId === keyId);
    if (!verifier) continue;
    if (!verifier.verify(message, sig.subarray(4))) throw new NoteError(`invalid signature by ${name}`);
    if (!verifiedBy.includes(verifier)) verifiedBy.push(verifier);
  }
  if (verifiedBy.length === 0) throw new NoteError('no signature by a known key');
  return { text, verifiedBy };
}
