/**
 * Where the harness asks Cedar: loads the tenant's policy sets, decides, records every decision
 * on the request (`request.authzDecisions`, for the audit log) and logs shadow disagreements.
 */
import type { FastifyRequest } from 'fastify';
import type { Principal } from '../auth/principal.ts';
import { Authorizer, type AuthzAction, type AuthzContext, type AuthzResource, type Decision } from './authorizer.ts';
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

export class CedarPolicyGate implements PolicyGate {
  readonly #store: PolicyStore;
  readonly #authorizer: Authorizer;

  constructor(store: PolicyStore, log: (msg: string) => void = () => {}) {
    this.#store = store;
    this.#authorizer = new Authorizer({
      onShadowDisagrees: (d) =>
        log(
          `shadow policy set ${d.shadow?.policySetHash.slice(0, 12)} would ${d.shadow?.allowed ? 'allow' : 'deny'} ` +
            `${d.action} on ${d.resource} (active set: ${d.allowed ? 'allow' : 'deny'})`,
        ),
    });
  }

  async decide(
    request: FastifyRequest | null,
    principal: Principal,
    action: AuthzAction,
    resource: AuthzResource,
    context: AuthzContext = {},
  ): Promise<Decision> {
    const sets = await this.#store.forTenant(principal.tenantId);
    const decision = this.#authorizer.decide(sets, principal, action, resource, context);
    if (request) (request.authzDecisions ??= []).push(decision);
    return decision;
  }
}
