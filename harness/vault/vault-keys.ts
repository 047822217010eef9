/**
 * The keys that encrypt the credentials vault at rest. `AIRLOCK_VAULT_KEY` lists one or more
 * 256-bit keys (base64 or base64url, comma-separated): the first encrypts every value written
 * from now on, all of them decrypt. Each stored value names the key that sealed it (its key id,
 * derived from the key, never the key itself), so a key is rotated by putting the new one first,
 * keeping the old one listed until every credential was written again, then dropping it.
 */
import { createHash, randomBytes } from 'node:crypto';

export interface VaultKey {
  /** `k` + 16 hex: SHA-256 of a label and the key, so it names the key without revealing it. */
  id: string;
  key: Buffer;
}

export interface VaultKeyring {
  /** The key new values are sealed with. */
  current: VaultKey;
  /** Every key, by id. */
  byId: ReadonlyMap<string, VaultKey>;
  /** True when no key was configured and one was made for this process only. */
  ephemeral: boolean;
}

export function vaultKeyId(key: Buffer): string {
  return `k${createHash('sha256').update('airlock-vault-key-id\n').update(key).digest('hex').slice(0, 16)}`;
}

/** Parses one key: 32 bytes as base64 or base64url (padding optional). Throws with the reason. */
function parseKey(text: string, index: number): Buffer {
  const t = text.trim();
  if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(t)) throw new Error(`AIRLOCK_VAULT_KEY entry ${index + 1} is not base64`);
  const key = Buffer.from(t.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
  if (key.length !== 32) {
    throw new Error(`AIRLOCK_VAULT_KEY entry ${index + 1} must be 32 bytes (256 bits) of base64, it is ${key.length} bytes`);
  }
  return key;
}

/**
 * The keyring from `AIRLOCK_VAULT_KEY`; without it, a random key for this process (`ephemeral`):
 * the caller warns, since credentials stored then cannot be read after a restart.
 */
export function loadVaultKeyring(setting: string | undefined): VaultKeyring {
  const texts = (setting ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  const ephemeral = texts.length === 0;
  const keys = ephemeral ? [randomBytes(32)] : texts.map(parseKey);
  const list = keys.map((key) => ({ id: vaultKeyId(key), key }));
  const byId = new Map(list.map((k) => [k.id, k]));
  if (byId.size !== list.length) throw new Error('AIRLOCK_VAULT_KEY lists the same key twice');
  return { current: list[0] as VaultKey, byId, ephemeral };
}
