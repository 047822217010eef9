/**
 * A Cedar policy set as Airlock uses it: text split into policies named by their `@id`
 * annotation (so decisions name them), validated against the schema (strict mode) before it may
 * be activated, and identified by the SHA-256 of its text (recorded with every decision).
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as cedar from '@cedar-policy/cedar-wasm/nodejs';

export const SCHEMA_TEXT = readFileSync(new URL('./airlock.cedarschema', import.meta.url), 'utf8');
export const DEFAULT_POLICIES_TEXT = readFileSync(new URL('./default-policies.cedar', import.meta.url), 'utf8');

/** A policy set that parsed and validated. */
export interface PolicySet {
  /** The text as given. */
  text: string;
  /** sha256 hex of `text`. */
  hash: string;
  /** Policy text by its `@id`. */
  policies: Readonly<Record<string, string>>;
  /**
   * `@approvalTimeoutMs("…")` by policy id: a policy that asks for a human's approval
   * (`capabilities.requireApproval`) may cap how long its requests wait for a decision.
   */
  approvalTimeoutMs?: Readonly<Record<string, number>>;
  /**
   * Whether a policy may read a capability call's input: its tags, reachable only through
   * `getTag`/`hasTag` (checked on the text, so a mention in a comment counts too). False lets
   * the Authorizer reuse a verdict for the next call with other arguments; absent counts as true.
   */
  readsInput?: boolean;
}

/** The annotation a policy caps its approval requests' deadline with (ms, as a decimal string). */
export const APPROVAL_TIMEOUT_ANNOTATION = 'approvalTimeoutMs';
/** Largest value of {@link APPROVAL_TIMEOUT_ANNOTATION}: one day (the config caps it again). */
const MAX_APPROVAL_TIMEOUT_MS = 24 * 3600 * 1000;

/** Why a policy set was refused: one message per problem, with the policy id when known. */
export class PolicySetError extends Error {
  readonly problems: readonly { policyId?: string; message: string }[];

  constructor(problems: { policyId?: string; message: string }[]) {
    super(problems.map((p) => (p.policyId ? `${p.policyId}: ${p.message}` : p.message)).join('; '));
    this.problems = problems;
  }
}

export function hashPolicies(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/**
 * Parses, names and validates a policy set. Throws {@link PolicySetError}: a syntax error, a
 * policy without a unique `@id`, templates (not supported), or any schema validation error — a
 * policy that reads an attribute the schema does not have would error at evaluation time, and
 * Cedar skips policies that error (AZ-3), so it is refused here instead.
 */
export function compilePolicySet(text: string): PolicySet {
  const parts = cedar.policySetTextToParts(text);
  if (parts.type === 'failure') throw new PolicySetError(parts.errors.map((e) => ({ message: e.message })));
  if (parts.policy_templates.length > 0) throw new PolicySetError([{ message: 'templates are not supported' }]);
  if (parts.policies.length === 0) throw new PolicySetError([{ message: 'the policy set is empty (everything would be denied)' }]);
  const policies: Record<string, string> = {};
  const approvalTimeoutMs: Record<string, number> = {};
  const problems: { policyId?: string; message: string }[] = [];
  parts.policies.forEach((policy, i) => {
    const json = cedar.policyToJson(policy);
    const annotations = json.type === 'success' ? (json.json.annotations ?? {}) : {};
    const id = annotations['id'];
    if (!id || !/^[A-Za-z0-9_.:-]{1,100}$/.test(id)) {
      problems.push({ message: `policy #${i + 1} needs an @id("…") annotation of 1-100 characters [A-Za-z0-9_.:-]` });
    } else if (Object.hasOwn(policies, id)) {
      problems.push({ policyId: id, message: 'duplicate @id' });
    } else {
      policies[id] = policy;
      const timeout = annotations[APPROVAL_TIMEOUT_ANNOTATION];
      if (timeout !== undefined && timeout !== null) {
        const ms = /^[1-9][0-9]{0,8}$/.test(timeout) ? Number(timeout) : NaN;
        if (!(ms <= MAX_APPROVAL_TIMEOUT_MS)) {
          problems.push({ policyId: id, message: `@${APPROVAL_TIMEOUT_ANNOTATION}("…") must be a whole number of milliseconds from 1 to ${MAX_APPROVAL_TIMEOUT_MS}` });
        } else {
          approvalTimeoutMs[id] = ms;
        }
      }
    }
  });
  if (problems.length > 0) throw new PolicySetError(problems);
  const validation = cedar.validate({
    schema: SCHEMA_TEXT,
    policies: { staticPolicies: policies },
    validationSettings: { mode: 'strict' },
  });
  if (validation.type === 'failure') throw new PolicySetError(validation.errors.map((e) => ({ message: e.message })));
  if (validation.validationErrors.length > 0) {
    throw new PolicySetError(validation.validationErrors.map((e) => ({ policyId: e.policyId, message: e.error.message })));
  }
  return { text, hash: hashPolicies(text), policies, approvalTimeoutMs, readsInput: /getTag|hasTag/.test(text) };
}
