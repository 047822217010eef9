/**
 * Where the harness asks Cedar: loads the tenant's policy sets, decides, records every decision
 * on the request (`request.authzDecisions`) and in the audit log (`onDecision`, awaited before
 * the decision is returned, so nothing acts on a decision that is not recorded) and logs shadow
 * disagreements.
 */
import type { FastifyRequest } from 'fastify';
import type { Principal } from '../auth/principal.ts';
import {
  Authorizer,
  REQUIRE_APPROVAL,
  type AuthzAction,
  type AuthzContext,
  type AuthzResource,
  type Decision,
  type Verdict,
} from './authorizer.ts';
import type { PolicyStore } from './policy-store.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** Every policy decision made for this request (policy ids + policy-set hash each). */
    authzDecisions?: Decision[];
  }
}

export interface PolicyGate {
  decide(
    request: FastifyRequest | null,
    principal: Principal,
    action: AuthzAction,
    resource: AuthzResource,
    context?: AuthzContext,
  ): Promise<Decision>;
}

/** Roles of a user of the tenant, or null when there is no such enabled user. */
export type UserRoles = (tenantId: string, userId: string) => Promise<readonly string[] | null>;

/** Records a decision (the audit log); a rejection fails the request (the decision is not used). */
export type DecisionRecorder = (
  request: FastifyRequest | null,
  principal: Principal,
  decision: Decision,
  resource: AuthzResource,
) => Promise<void>;

export class CedarPolicyGate implements PolicyGate {
  readonly #store: PolicyStore;
  readonly #authorizer: Authorizer;
  readonly #userRoles: UserRoles;
  readonly #log: (msg: string) => void;
  readonly #onDecision: DecisionRecorder | null;

  /**
   * `userRoles` serves delegation: a principal acting for a user (RFC 8693 `act`) is allowed
   * only what the policy allows both the agent and that user (decided twice). Without it, or
   * for an unknown or disabled user, a delegated request is denied.
   */
  constructor(
    store: PolicyStore,
    log: (msg: string) => void = () => {},
    userRoles: UserRoles = async () => null,
    onDecision: DecisionRecorder | null = null,
  ) {
    this.#store = store;
    this.#onDecision = onDecision;
    this.#userRoles = userRoles;
    this.#log = log;
    // Disagreements are logged here, not by the Authorizer: only the gate knows the tenant and
    // the principal, and a delegated request's verdict is the combination of both sides.
    this.#authorizer = new Authorizer();
  }

  async decide(
    request: FastifyRequest | null,
    principal: Principal,
    action: AuthzAction,
    resource: AuthzResource,
    context: AuthzContext = {},
  ): Promise<Decision> {
    const sets = await this.#store.forTenant(principal.tenantId);
    let decision = this.#authorizer.decide(sets, principal, action, resource, context);
    if (principal.actingFor !== undefined) decision = await this.#alsoForUser(decision, sets, principal, action, resource, context);
    if (request) (request.authzDecisions ??= []).push(decision);
    if (decision.shadow && decision.shadow.allowed !== decision.allowed) this.#logDisagreement(principal, decision);
    if (this.#onDecision) await this.#onDecision(request, principal, decision, resource);
    return decision;
  }

  /** One line per disagreement, with the tenant and principal (several tenants share a log). */
  #logDisagreement(principal: Principal, d: Decision): void {
    const shadow = d.shadow as Verdict;
    const who = `${principal.kind} ${principal.id}${principal.actingFor ? ` acting for user ${principal.actingFor}` : ''}`;
    const policies = shadow.policyIds.length > 0 ? `; shadow policies: ${shadow.policyIds.join(', ')}` : '';
    this.#log(
      `tenant ${principal.tenantId}: shadow policy set ${shadow.policySetHash.slice(0, 12)} would ` +
        `${shadow.allowed ? 'allow' : 'deny'} ${d.action} on ${d.resource} for ${who} ` +
        `(active set: ${d.allowed ? 'allow' : 'deny'}${policies})`,
    );
  }

  /**
   * The intersection: the user acted for must be allowed too (same owner: the acting agent).
   * For capabilities.requireApproval, whose "allow" asks for a human, it is the union instead:
   * approval is needed if either side needs it (and an unknown user means it is needed).
   */
  async #alsoForUser(
    agentSide: Decision,
    sets: Parameters<Authorizer['decide']>[0],
    principal: Principal,
    action: AuthzAction,
    resource: AuthzResource,
    context: AuthzContext,
  ): Promise<Decision> {
    const userId = principal.actingFor as string;
    const roles = await this.#userRoles(principal.tenantId, userId);
    const approval = action === REQUIRE_APPROVAL;
    if (roles === null) {
      return { ...agentSide, allowed: approval, errors: [...agentSide.errors, `user ${userId} acted for is unknown or disabled`] };
    }
    const both = (a: boolean, b: boolean) => (approval ? a || b : a && b);
    const user: Principal = { tenantId: principal.tenantId, agentId: principal.agentId, kind: 'user', id: userId, roles };
    const userSide = this.#authorizer.decide(sets, user, action, resource, context);
    // The shorter approval deadline either side's policies set.
    const timeouts = [agentSide.approvalTimeoutMs, userSide.approvalTimeoutMs].filter((ms) => ms !== undefined);
    return {
      ...agentSide,
      ...(timeouts.length > 0 ? { approvalTimeoutMs: Math.min(...timeouts) } : {}),
      allowed: both(agentSide.allowed, userSide.allowed),
      policyIds: [...new Set([...agentSide.policyIds, ...userSide.policyIds])],
      errors: [...agentSide.errors, ...userSide.errors],
      ...(agentSide.shadow && userSide.shadow
        ? { shadow: { ...agentSide.shadow, allowed: both(agentSide.shadow.allowed, userSide.shadow.allowed) } }
        : {}),
    };
  }
}
