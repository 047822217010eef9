/**
 * BENCHMARK ONLY: the harness assembled WITHOUT its security path (no authentication, no rate
 * limits, no scope checks, no Cedar policy decisions; every request acts as the dev agent), so `npm run bench` can measure
 * what that path costs. It is a separate entry point under bench/, not a setting: the service
 * (harness/server.ts) always builds the app with the standard path and nothing an operator
 * configures can change that. Listens on loopback only.
 */
import { runComparisonHarness } from './comparison-process.ts';
import type { FastifyRequest } from 'fastify';
import type { SecurityPath } from '../harness/app.ts';
import type { Principal } from '../harness/auth/principal.ts';
import type { PolicyGate } from '../harness/policy/gate.ts';

const DEV_AGENT: Principal = Object.freeze({
  tenantId: 'dev',
  agentId: 'dev-agent',
  kind: 'agent',
  id: 'dev-agent',
  roles: [],
});

/** Every policy question answered "allow", without asking Cedar. */
const allowAll: PolicyGate = {
  decide: async (_request, _principal, action, resource) => ({
    action,
    resource: `${resource.type}::${resource.id}`,
    allowed: true,
    policyIds: [],
    errors: [],
    policySetHash: 'none',
  }),
};

const noSecurity: SecurityPath = (v1) => {
  v1.addHook('onRequest', async (request: FastifyRequest) => {
    request.principal = DEV_AGENT;
  });
};

// The service's whole assembly (API, broker listener, rollback), without the security path.
await runComparisonHarness('without security', { security: noSecurity, policyGate: allowAll });
