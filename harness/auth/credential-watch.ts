import type { Principal } from './principal.ts';

/**
 * Re-runs the authentication of a request with the credential it came with and says whether it
 * still names the same principal: false once the agent or user is disabled, the API key or the
 * key a token came from is revoked, the token's `jti` is revoked, or the token has expired.
 * May reject (e.g. Redis down); callers treat that as false (fail closed).
 */
export type CredentialCheck = () => Promise<boolean>;

/** For an app assembled without authentication (bench only): there is no credential to lose. */
export const alwaysAuthenticated: CredentialCheck = async () => true;

/**
 * How often an open long answer (SSE stream, POST `wait`) re-checks its credential, in ms: a
 * revocation ends it within about this long (plus one authentication round trip). One check per
 * open answer per interval costs what one request's authentication costs.
 */
export const CREDENTIAL_RECHECK_MS = 1000;

/** Whether `after` (the re-authentication) is the same principal as `before` (the request's). */
export function samePrincipal(before: Principal, after: Principal | null): boolean {
  return (
    after !== null &&
    after.tenantId === before.tenantId &&
    after.kind === before.kind &&
    after.id === before.id &&
    after.agentId === before.agentId &&
    after.keyId === before.keyId &&
    after.tokenId === before.tokenId &&
    after.actingFor === before.actingFor
  );
}

export interface CredentialWatchOptions {
  check: CredentialCheck;
  /** Called once, when a check first fails. */
  onRevoked: () => void;
  /** @defaultValue {@link CREDENTIAL_RECHECK_MS} */
  intervalMs?: number;
}

/**
 * Watches the credential of a request that stays open (SSE, `wait`): re-checks it every
 * `intervalMs` while idle, and `stillValid()` re-checks it before anything is sent if the last
 * check is older than that. Once a check fails the verdict never goes back. Call `stop()` when
 * the answer ends (idempotent).
 */
export class CredentialWatch {
  readonly #check: CredentialCheck;
  readonly #onRevoked: () => void;
  readonly #intervalMs: number;
  readonly #timer: NodeJS.Timeout;
  /** The request was authenticated just before the watch started. */
  #checkedAt = Date.now();
  #valid = true;
  #inFlight: Promise<boolean> | null = null;

  constructor(options: CredentialWatchOptions) {
    this.#check = options.check;
    this.#onRevoked = options.onRevoked;
    this.#intervalMs = options.intervalMs ?? CREDENTIAL_RECHECK_MS;
    this.#timer = setInterval(() => void this.#recheck(), this.#intervalMs);
    this.#timer.unref();
  }

  /** False once the credential stopped being valid; re-checks first if the verdict is stale. */
  async stillValid(): Promise<boolean> {
    if (!this.#valid) return false;
    if (Date.now() - this.#checkedAt < this.#intervalMs) return true;
    return this.#recheck();
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  /** One check at a time; concurrent callers share it. */
  #recheck(): Promise<boolean> {
    this.#inFlight ??= this.#run().finally(() => (this.#inFlight = null));
    return this.#inFlight;
  }

  async #run(): Promise<boolean> {
    let ok: boolean;
    try {
      ok = await this.#check();
    } catch {
      ok = false; // fail closed: a credential that cannot be checked is not trusted
    }
    this.#checkedAt = Date.now();
    if (!ok && this.#valid) {
      this.#valid = false;
      this.#onRevoked();
    }
    return this.#valid;
  }
}
