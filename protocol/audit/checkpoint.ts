/**
 * C2SP tlog-checkpoint note text: origin line, decimal tree size, base64 root hash, each ending
 * in a newline. Extension lines are neither written nor accepted (the spec advises against
 * them, and a verifier that ignored them would sign off on bytes it never read).
 */
import { fromBase64, toBase64 } from './bytes.ts';
import { HASH_BYTES } from './merkle-hash.ts';
import { NoteError, isValidKeyName, openNote, signNote, type NoteSigner, type NoteVerifier } from './note.ts';

export interface Checkpoint {
  origin: string;
  size: number;
  rootHash: Uint8Array;
}

export function encodeCheckpoint(c: Checkpoint): string {
  if (!isValidKeyName(c.origin)) throw new NoteError(`invalid origin ${JSON.stringify(c.origin)}`);
  if (!Number.isSafeInteger(c.size) || c.size < 0) throw new NoteError('invalid tree size');
  if (c.rootHash.length !== HASH_BYTES) throw new NoteError('a root hash is 32 bytes');
  return `${c.origin}\n${c.size}\n${toBase64(c.rootHash)}\n`;
}

export function parseCheckpoint(text: string): Checkpoint {
  const lines = text.split('\n');
  if (lines.length !== 4 || lines[3] !== '') throw new NoteError('a checkpoint is exactly three lines');
  const [origin, size, root] = lines as [string, string, string, string];
  if (!isValidKeyName(origin)) throw new NoteError('invalid checkpoint origin');
  if (!/^(0|[1-9][0-9]{0,15})$/.test(size) || !Number.isSafeInteger(Number(size))) {
    throw new NoteError('invalid checkpoint tree size');
  }
  let rootHash: Uint8Array;
  try {
    rootHash = fromBase64(root);
  } catch {
    throw new NoteError('invalid checkpoint root hash');
  }
  if (rootHash.length !== HASH_BYTES) throw new NoteError('invalid checkpoint root hash');
  return { origin, size: Number(size), rootHash };
}

/** Signs a checkpoint with the log's signer (whose key name is the origin). */
export function signCheckpoint(c: Checkpoint, signer: NoteSigner): string {
  return signNote(encodeCheckpoint(c), [signer]);
}

/**
 * Opens a signed checkpoint: the note must verify with one of `verifiers`, and the origin must
 * equal the name of the key that signed it (the log's key name is its origin, tlog-checkpoint).
 */
export function openCheckpoint(note: string, verifiers: readonly NoteVerifier[]): Checkpoint {
  const opened = openNote(note, verifiers);
  const c = parseCheckpoint(opened.text);
  if (!opened.verifiedBy.some((v) => v.name === c.origin)) {
    throw new NoteError(`checkpoint of ${c.origin} is not signed by that log's key`);
  }
  return c;
}
