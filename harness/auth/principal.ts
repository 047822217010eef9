/**
 * Who is calling. Everything downstream (ownership, idempotency scope, task records) keys on
 * this, never on the raw credential — the seam the identity issue replaces.
 */
export interface Principal {
  tenantId: string;
  /** Machine identity of the calling agent (or the admin's id). */
  agentId: string;
  /** Roles within the tenant; `admin` may manage grants. */
  roles: readonly string[];
}

/** Turns an `Authorization` header into a principal, or null when it is missing or invalid. */
export interface Authenticator {
  authenticate(authorization: string | undefined): Promise<Principal | null>;
}
