/**
 * Who is calling. Everything downstream (ownership, idempotency scope, task records, policy
 * decisions) keys on this, never on the raw credential.
 *
 * Where a principal comes from:
 * - an API key of an agent or user in the identity store (`ak_<keyId>_<secret>`),
 * - a key from config (AIRLOCK_AGENTS_FILE, AIRLOCK_DEV_API_KEY, AIRLOCK_ADMIN_API_KEY),
 * - a task token (`task+jwt`) minted by `POST /v1/tokens` — always an agent, never an admin.
 */
export interface Principal {
  tenantId: string;
  /**
   * Owner id of the tasks this principal creates and reads: the agent id for an agent, the user
   * id for a user (ids of store principals carry `agt_`/`usr_` prefixes, so they never collide).
   */
  agentId: string;
  /**
   * Roles within the tenant: `admin` (admin API), `approver`, `member`; `bootstrap` marks the
   * config bootstrap admin, the only one that may create tenants. Empty for task tokens.
   */
  roles: readonly string[];
  /** Machine identity or human. */
  kind: 'agent' | 'user';
  /** Id of the agent or user (equals `agentId`; for a delegated token, the acting agent). */
  id: string;
  /** Id of the API key used, or of the key the task token was minted from. */
  keyId?: string;
  /**
   * What this credential may do (see harness/auth/scopes.ts): `tasks:create`, `tasks:read`,
   * `tasks:cancel`, `admin`, `runtime:<runtime>`, `grant:<name>`. `undefined` = unrestricted
   * (an API key without scopes): the role and policy decide alone.
   */
  scopes?: readonly string[];
  /** RFC 8693 delegation: the user (id) this agent acts for; scopes are already the intersection. */
  actingFor?: string;
  /** `jti` of the task token used, when the caller authenticated with one. */
  tokenId?: string;
}

/** Turns an `Authorization` header into a principal, or null when it is missing or invalid. */
export interface Authenticator {
  authenticate(authorization: string | undefined): Promise<Principal | null>;
}
