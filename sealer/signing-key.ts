/** Loads (or, for development, creates once) the sealer's Ed25519 checkpoint signing key. */
import { createPrivateKey, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/** The 32-byte seed of a key given as base64/base64url (32 bytes) or PKCS8 PEM. */
export function parseSigningKey(text: string): Uint8Array {
  const trimmed = text.trim();
  if (trimmed.startsWith('-----BEGIN')) {
    const jwk = createPrivateKey(trimmed).export({ format: 'jwk' });
    if (jwk.kty !== 'OKP' || jwk.crv !== 'Ed25519' || !jwk.d) throw new Error('AUDIT_SIGNING_KEY is not an Ed25519 private key');
    return new Uint8Array(Buffer.from(jwk.d, 'base64url'));
  }
  const raw = Buffer.from(trimmed.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
  if (raw.length !== 32) throw new Error('AUDIT_SIGNING_KEY must be 32 bytes (base64) or a PKCS8 PEM');
  return new Uint8Array(raw);
}

export function loadSigningKey(
  options: { key?: string | undefined; file?: string | undefined },
  warn: (message: string) => void,
): Uint8Array {
  if (options.key) return parseSigningKey(options.key);
  const file = options.file;
  if (!file) throw new Error('no signing key configured');
  if (!existsSync(file)) {
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, `${randomBytes(32).toString('base64')}\n`, { mode: 0o600, flag: 'wx' });
    warn(
      `generated an audit signing key in ${file}: fine for development; in production set ` +
        'AUDIT_SIGNING_KEY from a secret store (whoever holds it can sign checkpoints)',
    );
  }
  return parseSigningKey(readFileSync(file, 'utf8'));
}
