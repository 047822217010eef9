/**
 * AES-256-GCM sealing of one credential value. The additional authenticated data binds the
 * ciphertext to its tenant and name: a sealed value copied under another name or tenant (by
 * anyone who can write Redis) fails to open instead of lending its secret to the wrong slot.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { VaultKeyring } from './vault-keys.ts';

export interface SealedValue {
  keyId: string;
  /** 12-byte nonce, base64. Random per seal (a key seals far fewer than 2^32 values). */
  iv: string;
  /** 16-byte GCM tag, base64. */
  tag: string;
  /** Ciphertext, base64. */
  ct: string;
}

const aad = (tenantId: string, name: string) => Buffer.from(`airlock-vault:v1:${tenantId}:${name}`, 'utf8');

export function seal(keys: VaultKeyring, tenantId: string, name: string, value: string): SealedValue {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', keys.current.key, iv);
  cipher.setAAD(aad(tenantId, name));
  const ct = Buffer.concat([cipher.update(value, 'utf8'), cipher.final()]);
  return { keyId: keys.current.id, iv: iv.toString('base64'), tag: cipher.getAuthTag().toString('base64'), ct: ct.toString('base64') };
}

/** Why a sealed value could not be opened (never the value, never the key). */
export class VaultOpenError extends Error {
  override readonly name = 'VaultOpenError';
}

export function open(keys: VaultKeyring, tenantId: string, name: string, sealed: SealedValue): string {
  const key = keys.byId.get(sealed.keyId);
  if (!key) throw new VaultOpenError(`credential ${name} was sealed with key ${sealed.keyId}, which AIRLOCK_VAULT_KEY no longer lists`);
  try {
    const decipher = createDecipheriv('aes-256-gcm', key.key, Buffer.from(sealed.iv, 'base64'));
    decipher.setAAD(aad(tenantId, name));
    decipher.setAuthTag(Buffer.from(sealed.tag, 'base64'));
    return Buffer.concat([decipher.update(Buffer.from(sealed.ct, 'base64')), decipher.final()]).toString('utf8');
  } catch {
    throw new VaultOpenError(`credential ${name} does not authenticate (altered, or moved from another name or tenant)`);
  }
}
