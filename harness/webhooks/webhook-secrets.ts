/**
 * The per-tenant webhook signing secret, sealed at rest with the vault's keys (AES-256-GCM, the
 * tenant and a fixed name as associated data) in `airlock:webhooks:{tenant}`. Rotating makes a
 * new secret and shows it once; deliveries from then on are signed with it.
 */
import type { Redis } from 'ioredis';
import { open, seal, type SealedValue } from '../vault/vault-cipher.ts';
import type { VaultKeyring } from '../vault/vault-keys.ts';
import { newWebhookSecret } from './signature.ts';

/** The name the secret is sealed under (associated data): no credential can be opened as it. */
const SEALED_NAME = '$webhook-signing-secret';

export const webhookKey = (tenantId: string) => `airlock:webhooks:{${tenantId}}`;

export interface WebhookSecretInfo {
  configured: boolean;
  rotatedAt?: string;
}

export class WebhookSecrets {
  readonly #redis: Redis;
  readonly #keys: VaultKeyring;

  constructor(redis: Redis, keys: VaultKeyring) {
    this.#redis = redis;
    this.#keys = keys;
  }

  /** A new secret for the tenant; the old one stops signing at once. Returns it (shown once). */
  async rotate(tenantId: string): Promise<{ secret: string; rotatedAt: string }> {
    const secret = newWebhookSecret();
    const rotatedAt = new Date().toISOString();
    const sealed = seal(this.#keys, tenantId, SEALED_NAME, secret);
    await this.#redis.hset(webhookKey(tenantId), { sealed: JSON.stringify(sealed), rotatedAt });
    return { secret, rotatedAt };
  }

  async info(tenantId: string): Promise<WebhookSecretInfo> {
    const rotatedAt = await this.#redis.hget(webhookKey(tenantId), 'rotatedAt');
    return rotatedAt ? { configured: true, rotatedAt } : { configured: false };
  }

  /** The secret to sign with, or null when the tenant has none yet. */
  async reveal(tenantId: string): Promise<string | null> {
    const sealed = await this.#redis.hget(webhookKey(tenantId), 'sealed');
    return sealed ? open(this.#keys, tenantId, SEALED_NAME, JSON.parse(sealed) as SealedValue) : null;
  }
}
