/**
 * Cedar through the real cedar-wasm engine, beyond the shipped task rules (policy.test.ts):
 * the capability actions (invoke, and requireApproval, which fails safe the other way: towards
 * asking a human), and fail-closed on a set that does not parse and on a call that throws.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Principal } from '../../harness/auth/principal.ts';
import { Authorizer, type AuthzAction, type AuthzResource } from '../../harness/policy/authorizer.ts';
import {
  DEFAULT_POLICIES_TEXT,
  PolicySetError,
  compilePolicySet,
  hashPolicies,
  type PolicySet,
} from '../../harness/policy/policy-set.ts';

const defaults = compilePolicySet(DEFAULT_POLICIES_TEXT);
const authorizer = new Authorizer();
const agent: Principal = { tenantId: 'acme', agentId: 'alice', id: 'alice', kind: 'agent', roles: [] };
const decide = (set: PolicySet, action: AuthzAction, resource: AuthzResource, context: Record<string, string | number> = {}) =>
  authorizer.decide({ active: set, shadow: null }, agent, action, resource, context);
const capability = (id: string, risk: string, input: Record<string, unknown> = {}): AuthzResource => ({
  type: 'Capability', id, risk, input,
});
const ctx = (name: string) => ({ capability: name });

/** A set that skips validation (as if stored before a schema change): evaluation-time guards only. */
function unvalidated(policies: Record<string, string>): PolicySet {
  const text = Object.values(policies).join('\n');
  return { text, hash: hashPolicies(text), policies };
}

// A tenant set: http.fetch to https URLs only, and never to the metadata address.
const FETCH_POLICY = compilePolicySet(`
  @id("fetch-https") permit (
    principal is Airlock::Agent,
    action == Airlock::Action::"capabilities.invoke",
    resource == Airlock::Capability::"http.fetch"
  ) when { resource.hasTag("url") && resource.getTag("url") like "https://*" };
  @id("no-metadata") forbid (
    principal,
    action == Airlock::Action::"capabilities.invoke",
    resource
  ) when { resource.hasTag("url") && resource.getTag("url") like "*169.254.169.254*" };
  @id("big-payments-need-approval") permit (
    principal,
    action == Airlock::Action::"capabilities.requireApproval",
    resource == Airlock::Capability::"payments.charge"
  ) when { resource.hasTag("amount") && resource.getTag("amount") != "0" };
`);

describe('capabilities in the shipped set', () => {
  test('nothing is invocable by default (least privilege), whatever the risk', () => {
    for (const risk of ['read', 'irreversible']) {
      const d = decide(defaults, 'capabilities.invoke', capability('repo.readFile', risk, { path: 'README.md' }), ctx('repo.readFile'));
      assert.equal(d.allowed, false);
      assert.deepEqual(d.policyIds, []);
      assert.deepEqual(d.errors, []);
    }
  });

  test('irreversible capabilities need approval, read and write ones do not', () => {
    const high = decide(defaults, 'capabilities.requireApproval', capability('email.send', 'irreversible'), ctx('email.send'));
    assert.equal(high.allowed, true);
    assert.deepEqual(high.policyIds, ['irreversible-needs-approval']);
    for (const risk of ['read', 'write']) {
      assert.equal(decide(defaults, 'capabilities.requireApproval', capability('repo.readFile', risk), ctx('repo.readFile')).allowed, false);
    }
  });
});

describe('capability input as tags', () => {
  test('a policy reads the arguments: https allowed, http and the metadata address not', () => {
    const fetch = (url: string) => decide(FETCH_POLICY, 'capabilities.invoke', capability('http.fetch', 'low', { url }), ctx('http.fetch'));
    const ok = fetch('https://example.com/a');
    assert.equal(ok.allowed, true);
    assert.deepEqual(ok.policyIds, ['fetch-https']);
    assert.equal(fetch('http://example.com/a').allowed, false);
    const metadata = fetch('https://169.254.169.254/latest/meta-data');
    assert.equal(metadata.allowed, false);
    assert.deepEqual(metadata.policyIds, ['no-metadata']);
    // No url at all: the permit's guard is false, nothing errors, default deny.
    const none = decide(FETCH_POLICY, 'capabilities.invoke', capability('http.fetch', 'low', {}), ctx('http.fetch'));
    assert.equal(none.allowed, false);
    assert.deepEqual(none.errors, []);
  });

  test('non-string input values are their JSON text', () => {
    const charge = (amount: unknown) =>
      decide(FETCH_POLICY, 'capabilities.requireApproval', capability('payments.charge', 'low', { amount }), ctx('payments.charge'));
    assert.equal(charge(0).allowed, false);
    assert.equal(charge(250).allowed, true);
    assert.equal(charge({ value: 1 }).allowed, true);
  });

  test('a policy reading a tag without hasTag is refused at validation (it would error at run time)', () => {
    assert.throws(
      () => compilePolicySet('@id("unguarded") permit (principal, action, resource is Airlock::Capability) when { resource.getTag("url") like "https://*" };'),
      (err: unknown) => err instanceof PolicySetError && /^unguarded: /.test(err.message),
    );
  });
});

describe('fail closed', () => {
  test('a policy set that does not parse denies everything, with the parse error recorded', () => {
    const broken = unvalidated({ all: 'permit (principal, action, resource);', bad: 'permit (principal, action resource' });
    const d = decide(broken, 'tasks.read', { type: 'Task', id: 't1', ownerId: 'alice', runtime: 'javascript' });
    assert.equal(d.allowed, false);
    assert.ok(d.errors.length > 0);
    assert.equal(d.policySetHash, broken.hash);
  });

  test('a call that throws inside the engine is a deny, not an exception', () => {
    // A BigInt cannot be turned into a Cedar value: the wasm binding throws.
    const d = authorizer.decide({ active: defaults, shadow: null }, agent, 'tasks.create', { type: 'Runtime', id: 'javascript' }, {
      timeoutMs: 1000n, memoryMb: 64, mounts: 0,
    } as never);
    assert.equal(d.allowed, false);
    assert.match(d.errors.join(), /authorization failed/);
  });

  test('an input that cannot be encoded is a deny for invoke, and approval-required for requireApproval', () => {
    const weird = capability('payments.charge', 'low', { amount: 10n });
    assert.equal(decide(FETCH_POLICY, 'capabilities.invoke', weird, ctx('payments.charge')).allowed, false);
    const approval = decide(FETCH_POLICY, 'capabilities.requireApproval', weird, ctx('payments.charge'));
    assert.equal(approval.allowed, true, 'failing safe means asking a human');
    assert.ok(approval.errors.length > 0);
  });

  test('an erroring requireApproval policy still requires approval (Cedar alone would skip it)', () => {
    const set = unvalidated({
      'approve-by-amount': 'permit (principal, action == Airlock::Action::"capabilities.requireApproval", resource) when { resource.getTag("amount") != "0" };',
    });
    // No `amount` tag: getTag errors, Cedar skips the policy and would answer deny = no approval.
    const d = decide(set, 'capabilities.requireApproval', capability('payments.charge', 'low', {}), ctx('payments.charge'));
    assert.equal(d.allowed, true);
    assert.match(d.errors[0] ?? '', /^approve-by-amount: /);
  });

  test('a broken shadow set is recorded as a deny, and the active set still decides', () => {
    const broken = unvalidated({ bad: 'forbid (principal, action, resource' });
    const d = authorizer.decide({ active: defaults, shadow: broken }, agent, 'tasks.read', {
      type: 'Task', id: 't1', ownerId: 'alice', runtime: 'javascript',
    });
    assert.equal(d.allowed, true);
    assert.equal(d.shadow?.allowed, false);
    assert.ok((d.shadow?.errors.length ?? 0) > 0);
    assert.equal(d.shadow?.policySetHash, broken.hash);
  });
});

describe('integer input fields as Long tags (resource.numbers)', () => {
  const REFUNDS = compilePolicySet(`
    @id("refunds") permit (principal, action == Airlock::Action::"capabilities.invoke", resource == Airlock::Capability::"payments.refund");
    @id("refund-limit") forbid (principal, action == Airlock::Action::"capabilities.invoke", resource == Airlock::Capability::"payments.refund")
      when { resource.numbers.hasTag("amount") && resource.numbers.getTag("amount") > 1000 };
    @id("refund-integer") forbid (principal, action == Airlock::Action::"capabilities.invoke", resource == Airlock::Capability::"payments.refund")
      when { resource.hasTag("amount") && !resource.numbers.hasTag("amount") };
  `);
  const refund = (input: Record<string, unknown>) =>
    decide(REFUNDS, 'capabilities.invoke', capability('payments.refund', 'write', input), ctx('payments.refund'));

  test('a policy compares an amount numerically: under the limit allowed, over it (or not an integer) denied', () => {
    assert.equal(refund({ amount: 5 }).allowed, true);
    assert.equal(refund({ amount: 1000 }).allowed, true);
    const over = refund({ amount: 1001 });
    assert.equal(over.allowed, false);
    assert.deepEqual(over.policyIds, ['refund-limit']);
    assert.equal(refund({ amount: '5' }).allowed, false, 'a string is not a number');
    assert.equal(refund({ amount: 5.5 }).allowed, false, 'not an integer: no Long tag');
    // Without input (how a task's declaration and discovery are decided) the forbids do not apply.
    assert.equal(refund({}).allowed, true);
    assert.equal(refund({ amount: 2 ** 60 }).allowed, false, 'beyond the safe integers: no Long tag');
  });
});
