// Audit trace verification in the browser, with WebCrypto only (Ed25519 and SHA-256): the
// same checks as protocol/audit/verify-bundle.ts (the offline verifier), entry by entry.
// Formats: C2SP signed-note and tlog-checkpoint (protocol/audit/note.ts, checkpoint.ts), RFC
// 9162 leaf/node hashes and inclusion proofs (protocol/audit/merkle-hash.ts,
// inclusion-proof.ts). Keep in sync with those files; test/unit/console-verify.test.ts checks
// this module against bundles they make. Pure: no DOM, no network.

const enc = new TextEncoder();
const SIG_PREFIX = '\u2014 ';
const ALG_ED25519 = 0x01;

export class VerifyError extends Error {}

/** Strict standard base64 (padded); throws on anything else. */
export function fromBase64(text) {
  if (typeof text !== 'string' || text.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(text)) {
    throw new VerifyError('not standard padded base64');
  }
  const bin = atob(text);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

export async function sha256(...parts) {
  return new Uint8Array(await crypto.subtle.digest('SHA-256', concat(...parts)));
}

function equal(a, b) {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i] ^ b[i];
  return d === 0;
}

const isValidKeyName = (name) => name.length > 0 && !/[\s+\u0000-\u001f]/u.test(name);
const hex8 = (n) => n.toString(16).padStart(8, '0');

async function keyId(name, publicKey) {
  const h = await sha256(enc.encode(name), new Uint8Array([0x0a, ALG_ED25519]), publicKey);
  return ((h[0] << 24) | (h[1] << 16) | (h[2] << 8) | h[3]) >>> 0;
}

/** Parses verifier key text `<name>+<hex key id>+<base64(0x01 ‖ key)>` (the key id must match). */
export async function parseVerifierKey(text) {
  const [name, id, ...rest] = String(text).split('+');
  if (name === undefined || id === undefined || !isValidKeyName(name) || !/^[0-9a-f]{8}$/.test(id)) {
    throw new VerifyError('malformed verifier key');
  }
  const raw = fromBase64(rest.join('+'));
  if (raw.length !== 33 || raw[0] !== ALG_ED25519) throw new VerifyError('not an Ed25519 verifier key');
  const publicKey = raw.subarray(1);
  const kid = await keyId(name, publicKey);
  if (hex8(kid) !== id) throw new VerifyError('verifier key id does not match the key');
  const key = await crypto.subtle.importKey('raw', publicKey, { name: 'Ed25519' }, false, ['verify']);
  return {
    name,
    keyId: kid,
    verify: async (message, signature) =>
      signature.length === 64 && crypto.subtle.verify({ name: 'Ed25519' }, key, signature, message).catch(() => false),
  };
}

/** Opens a signed checkpoint note: the log's own signature must verify; returns origin, size, root. */
export async function openCheckpoint(note, verifier) {
  const split = note.lastIndexOf('\n\n');
  if (split < 0) throw new VerifyError('malformed note: no blank line before the signatures');
  const text = note.slice(0, split + 1);
  if (/[\u0000-\u0009\u000b-\u001f]/.test(text)) throw new VerifyError('note text has control characters');
  const sigBlock = note.slice(split + 2);
  if (!sigBlock.endsWith('\n')) throw new VerifyError('malformed note: signatures must end in a newline');
  const message = enc.encode(text);
  let verified = false;
  for (const line of sigBlock.slice(0, -1).split('\n')) {
    if (!line.startsWith(SIG_PREFIX)) throw new VerifyError('malformed signature line');
    const rest = line.slice(SIG_PREFIX.length);
    const space = rest.indexOf(' ');
    if (space <= 0) throw new VerifyError('malformed signature line');
    const name = rest.slice(0, space);
    const sig = fromBase64(rest.slice(space + 1));
    if (sig.length < 5) throw new VerifyError('malformed signature line');
    const kid = ((sig[0] << 24) | (sig[1] << 16) | (sig[2] << 8) | sig[3]) >>> 0;
    if (name !== verifier.name || kid !== verifier.keyId) continue; // unknown keys are ignored
    if (!(await verifier.verify(message, sig.subarray(4)))) throw new VerifyError(`invalid signature by ${name}`);
    verified = true;
  }
  if (!verified) throw new VerifyError('no signature by the tenant’s audit key');
  const lines = text.split('\n');
  if (lines.length !== 4 || lines[3] !== '') throw new VerifyError('a checkpoint is exactly three lines');
  const [origin, size, root] = lines;
  if (origin !== verifier.name) throw new VerifyError(`checkpoint of ${origin} is not signed by that log's key`);
  if (!/^(0|[1-9][0-9]{0,15})$/.test(size) || !Number.isSafeInteger(Number(size))) throw new VerifyError('invalid tree size');
  const rootHash = fromBase64(root);
  if (rootHash.length !== 32) throw new VerifyError('invalid root hash');
  return { origin, size: Number(size), rootHash };
}

const hashLeaf = (data) => sha256(new Uint8Array([0x00]), data);
const hashChildren = (l, r) => sha256(new Uint8Array([0x01]), l, r);

/** RFC 9162 §2.1.3.2: the root an inclusion proof leads to, or null when it cannot be valid. */
export async function rootFromInclusionProof(index, size, leafHash, proof) {
  if (!(Number.isSafeInteger(index) && Number.isSafeInteger(size)) || index < 0 || index >= size) return null;
  let fn = index;
  let sn = size - 1;
  let r = leafHash;
  for (const p of proof) {
    if (p.length !== 32 || sn === 0) return null;
    if (fn % 2 === 1 || fn === sn) {
      r = await hashChildren(p, r);
      while (fn % 2 === 0 && fn !== 0) {
        fn = Math.floor(fn / 2);
        sn = Math.floor(sn / 2);
      }
    } else {
      r = await hashChildren(r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 ? r : null;
}

/**
 * Verifies a trace bundle (GET /v1/tasks/:id/trace?proofs=true) against verifier key text:
 * the checkpoint's signature once, then each entry's inclusion. Returns the checkpoint verdict
 * and one verdict per entry (`entry` is the parsed JSON of exactly the text that was proven, or
 * null when it was not proven: an unproven entry is never shown as if it were).
 */
export async function verifyTrace(bundle, verifierKeyText) {
  const out = { checkpoint: { ok: false, reason: '' }, entries: [], pending: Number(bundle?.pending ?? 0) };
  const texts = Array.isArray(bundle?.entries) ? bundle.entries : [];
  const proofs = Array.isArray(bundle?.proofs) ? bundle.proofs : [];
  let cp = null;
  try {
    if (bundle?.format !== 'airlock-audit-trace/v1') throw new VerifyError('not a trace bundle');
    const verifier = await parseVerifierKey(verifierKeyText);
    const opened = await openCheckpoint(String(bundle.checkpoint), verifier);
    if (opened.origin !== bundle.origin) throw new VerifyError(`checkpoint origin ${opened.origin} is not the bundle's ${bundle.origin}`);
    if (proofs.length !== texts.length) throw new VerifyError('one proof per entry expected');
    cp = opened; // only a checkpoint that passed every check proves anything
    out.checkpoint = { ok: true, reason: '', origin: cp.origin, size: cp.size };
  } catch (err) {
    out.checkpoint = { ok: false, reason: `checkpoint does not verify: ${err.message}` };
  }
  let lastSeq = 0;
  for (let i = 0; i < texts.length; i++) {
    const text = String(texts[i]);
    const proof = proofs[i] ?? {};
    const seq = Number(proof.seq);
    const verdict = { seq, ok: false, reason: '', entry: null };
    out.entries.push(verdict);
    if (!cp) {
      verdict.reason = 'the checkpoint does not verify';
      continue;
    }
    try {
      const hashes = (Array.isArray(proof.hashes) ? proof.hashes : [null]).map((h) => fromBase64(h));
      const root = await rootFromInclusionProof(seq - 1, cp.size, await hashLeaf(enc.encode(text)), hashes);
      if (proof.treeSize !== cp.size || root === null || !equal(root, cp.rootHash)) {
        verdict.reason = `entry ${seq} is not in the signed log (edited, or a wrong proof)`;
        continue;
      }
    } catch {
      verdict.reason = `entry ${seq} has a malformed proof`;
      continue;
    }
    let entry;
    try {
      entry = JSON.parse(text);
    } catch {
      verdict.reason = `entry ${seq} is not JSON`;
      continue;
    }
    if (entry.seq !== seq) verdict.reason = `entry ${seq} carries seq ${entry.seq}`;
    else if (entry.taskId !== bundle.taskId) verdict.reason = `entry ${seq} is not about task ${bundle.taskId}`;
    else if (seq <= lastSeq) verdict.reason = `entry ${seq} is out of order`;
    else {
      verdict.ok = true;
      verdict.entry = entry;
      lastSeq = seq;
    }
  }
  return out;
}
