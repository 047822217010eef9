import type { IdentityStore } from '../identity/identity-store.ts';
import { API_KEY_PREFIX } from '../identity/identity-store.ts';
import type { TokenService } from '../identity/token-service.ts';
import { bearerCredential, type ApiKeyAuthenticator } from './api-key-authenticator.ts';
import type { Authenticator, Principal } from './principal.ts';

/** Three base64url segments: a JWS in compact serialization (how a JWT looks on the wire). */
const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*$/;

export interface CredentialAuthenticatorOptions {
  /** Keys from config: AIRLOCK_AGENTS_FILE, AIRLOCK_DEV_API_KEY, AIRLOCK_ADMIN_API_KEY. */
  configKeys: ApiKeyAuthenticator;
  identity: IdentityStore;
  tokens: TokenService;
}

/**
 * Authenticates `Authorization: Bearer <credential>` — the header only: a credential in the
 * query string or body is never looked at. By shape:
 * - a JWT → the task-token verifier (user tokens and anything not `task+jwt` fail there),
 * - `ak_<keyId>_<secret>` → the identity store,
 * - anything else → the config keys.
 */
export class CredentialAuthenticator implements Authenticator {
  readonly #options: CredentialAuthenticatorOptions;

  constructor(options: CredentialAuthenticatorOptions) {
    this.#options = options;
  }

  async authenticate(authorization: string | undefined): Promise<Principal | null> {
    const credential = bearerCredential(authorization);
    if (credential === null) return null;
    if (JWT_SHAPE.test(credential)) return this.#options.tokens.verifyTaskToken(credential);
    if (credential.startsWith(API_KEY_PREFIX)) {
      const principal = await this.#options.identity.authenticateKey(credential);
      if (principal) return principal;
    }
    return this.#options.configKeys.lookup(credential);
  }
}
