/**
 * When Cedar's answer to `capabilities.requireApproval` is known without asking it: a deny
 * naming no policy, with no error. Every capability call asks it after `capabilities.invoke`
 * allowed the call, and most calls need no approval — yet each question costs as much as the
 * first (cedar-wasm parses the request's entities again: ~0.1 ms).
 *
 * That answer is certain for a request when BOTH hold:
 * 1. Every policy of the set that could apply to the action is, for this principal and
 *    resource, not satisfied *and evaluates without error*. Proven only from forms whose
 *    evaluation cannot error: a scope that excludes the request (`principal == …`,
 *    `principal is …`, `resource == …`, `resource is …` naming another entity or type; scope
 *    constraints never error), or a first condition `when { resource.risk == "<other>" … }`
 *    whose leftmost conjunct is that comparison (Cedar evaluates `&&` left to right and stops
 *    at false; `risk` is always an attribute of the capability entity). Any other policy that
 *    could apply (its action scope allows the action) keeps Cedar in the loop. With no policy
 *    satisfied, Cedar denies and names none; with none evaluated, there is no error.
 * 2. The very same request (entities, principal, resource, context) was already answered
 *    without failure by Cedar for an action whose `appliesTo` is the same (checked on the
 *    schema): request validation and entity parsing — the only other source of a `failure`,
 *    which would make the answer "approval required" — depend on nothing else.
 * Otherwise Cedar is asked, as always.
 */
import * as cedar from '@cedar-policy/cedar-wasm/nodejs';
import type { Principal } from '../auth/principal.ts';
import { SCHEMA_TEXT, type PolicySet } from './policy-set.ts';

const NS = 'Airlock';

type Scope = { op: 'All' } | { op: '=='; entity: { type: string; id: string } } | { op: 'is'; entity_type: string } | { op: string };

interface PolicyJson {
  principal: Scope;
  action: { op: string; entity?: { type: string; id: string }; entities?: { type: string; id: string }[] };
  resource: Scope;
  conditions: { kind: 'when' | 'unless'; body: unknown }[];
}

/** What rules a policy out for a request: any one that matches does. */
interface Exclusion {
  /** The principal's uid (`Airlock::Agent::"id"` as type and id) must be this one… */
  principalIs?: { type: string; id: string };
  /** …or of this type. */
  principalType?: string;
  resourceIs?: { type: string; id: string };
  resourceType?: string;
  /** `resource.risk == risk` is the first thing the conditions evaluate. */
  risk?: string;
}

const schema = cedar.schemaToJson(SCHEMA_TEXT);
if (schema.type === 'failure') throw new Error(`Cedar schema: ${schema.errors.map((e) => e.message).join('; ')}`);
const actions = (schema.json as Record<string, { actions: Record<string, { appliesTo?: unknown; memberOf?: unknown[] }> }>)[NS]?.actions ?? {};
/** With action groups, `action in …` could reach an action it does not name: then no policy is ruled out by its action scope. */
const ACTION_GROUPS = Object.values(actions).some((a) => (a.memberOf ?? []).length > 0);

/** The actions whose requests are validated the same way as `action`'s (same `appliesTo`). */
export function sameRequestShape(action: string): Set<string> {
  const mine = JSON.stringify(actions[action]?.appliesTo ?? null);
  return new Set(Object.entries(actions).filter(([, a]) => a.appliesTo !== undefined && JSON.stringify(a.appliesTo) === mine).map(([name]) => name));
}

/** Per policy set: the exclusions of the policies that could apply to an action, or null (one cannot be ruled out this way). */
const analyses = new WeakMap<PolicySet, Map<string, Exclusion[] | null>>();

function exclusionsFor(set: PolicySet, action: string): Exclusion[] | null {
  let perAction = analyses.get(set);
  if (!perAction) analyses.set(set, (perAction = new Map()));
  if (perAction.has(action)) return perAction.get(action) ?? null;
  let out: Exclusion[] | null = [];
  for (const text of Object.values(set.policies)) {
    const json = cedar.policyToJson(text);
    if (json.type === 'failure') {
      out = null;
      break;
    }
    const policy = json.json as unknown as PolicyJson;
    if (!mayApplyToAction(policy.action, action)) continue;
    const exclusion = exclusionOf(policy);
    if (!exclusion) {
      out = null;
      break;
    }
    out.push(exclusion);
  }
  perAction.set(action, out);
  return out;
}

function mayApplyToAction(scope: PolicyJson['action'], action: string): boolean {
  const named = (e: { type: string; id: string }) => e.type === `${NS}::Action` && e.id === action;
  if (scope.op === '==' && scope.entity) return named(scope.entity);
  if (scope.op === 'in' && !ACTION_GROUPS) {
    if (scope.entity) return named(scope.entity);
    if (scope.entities) return scope.entities.some(named);
  }
  return true;
}

function exclusionOf(policy: PolicyJson): Exclusion | null {
  const e: Exclusion = {};
  const p = policy.principal as { op: string; entity?: { type: string; id: string }; entity_type?: string };
  if (p.op === '==' && p.entity) e.principalIs = p.entity;
  if (p.op === 'is' && p.entity_type) e.principalType = p.entity_type;
  const r = policy.resource as { op: string; entity?: { type: string; id: string }; entity_type?: string };
  if (r.op === '==' && r.entity) e.resourceIs = r.entity;
  if (r.op === 'is' && r.entity_type) e.resourceType = r.entity_type;
  const first = policy.conditions[0];
  if (first?.kind === 'when') {
    const risk = leftmostRiskEquals(first.body);
    if (risk !== null) e.risk = risk;
  }
  return Object.keys(e).length > 0 ? e : null;
}

/** `resource.risk == "x"` (either side), possibly as the leftmost operand of `&&` chains: "x". */
function leftmostRiskEquals(body: unknown): string | null {
  let node = body as Record<string, { left?: unknown; right?: unknown }>;
  while (node && typeof node === 'object' && '&&' in node) node = node['&&']?.left as typeof node;
  const eq = node?.['=='];
  if (!eq) return null;
  const isRisk = (x: unknown) => {
    const dot = (x as { '.'?: { left?: { Var?: string }; attr?: string } } | null)?.['.'];
    return dot?.left?.Var === 'resource' && dot.attr === 'risk';
  };
  const literal = (x: unknown) => {
    const v = (x as { Value?: unknown } | null)?.Value;
    return typeof v === 'string' ? v : null;
  };
  if (isRisk(eq.left) && literal(eq.right) !== null) return literal(eq.right);
  if (isRisk(eq.right) && literal(eq.left) !== null) return literal(eq.left);
  return null;
}

/**
 * Whether every policy of `set` that could apply to `action` is ruled out for this principal and
 * capability (condition 1 of the module comment). Condition 2 is the caller's.
 */
export function noPolicyCanApply(set: PolicySet, action: string, principal: Principal, capability: { id: string; risk: string }): boolean {
  const exclusions = exclusionsFor(set, action);
  if (exclusions === null) return false;
  const principalType = `${NS}::${principal.kind === 'user' ? 'User' : 'Agent'}`;
  const resourceType = `${NS}::Capability`;
  return exclusions.every(
    (e) =>
      (e.principalIs !== undefined && (e.principalIs.type !== principalType || e.principalIs.id !== principal.id)) ||
      (e.principalType !== undefined && e.principalType !== principalType) ||
      (e.resourceIs !== undefined && (e.resourceIs.type !== resourceType || e.resourceIs.id !== capability.id)) ||
      (e.resourceType !== undefined && e.resourceType !== resourceType) ||
      (e.risk !== undefined && e.risk !== capability.risk),
  );
}
