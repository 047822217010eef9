/**
 * Verdicts the Authorizer remembers (harness/policy/authorizer.ts `#answers`): the same request
 * under the same policy set is answered without cedar-wasm, and under a set that never reads a
 * capability call's input, so is the next call with other arguments. These tests hold it to
 * exactly Cedar's answer: against a fresh Authorizer (which must ask Cedar) for many random
 * inputs, principals, capabilities and both kinds of set, including the inputs Cedar fails on;
 * and they check what is asked again.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import type { Principal } from '../../harness/auth/principal.ts';
import { Authorizer, type AuthzAction, type AuthzResource, type Decision } from '../../harness/policy/authorizer.ts';
import { DEFAULT_POLICIES_TEXT, compilePolicySet } from '../../harness/policy/policy-set.ts';

const INPUT_FREE = compilePolicySet(`${DEFAULT_POLICIES_TEXT}
@id("members-invoke") permit (principal, action == Airlock::Action::"capabilities.invoke", resource) when { principal.roles.contains("member") };
@id("reads-invoke") permit (principal, action == Airlock::Action::"capabilities.invoke", resource) when { resource.risk == "read" };
@id("no-bob-irreversible") forbid (principal == Airlock::Agent::"bob", action == Airlock::Action::"capabilities.invoke", resource) when { resource.risk == "irreversible" };
@id("ask-writes") permit (principal, action == Airlock::Action::"capabilities.requireApproval", resource) when { resource.risk == "write" && context.capability != "tickets.create" };`);

const READS_INPUT = compilePolicySet(`${DEFAULT_POLICIES_TEXT}
@id("small-refunds") permit (principal, action == Airlock::Action::"capabilities.invoke", resource == Airlock::Capability::"payments.refund")
  when { resource.numbers.hasTag("amount") && resource.numbers.getTag("amount") < 1000 };`);

const principals: Principal[] = [
  { tenantId: 'acme', agentId: 'alice', id: 'alice', kind: 'agent', roles: [] },
  { tenantId: 'acme', agentId: 'bob', id: 'bob', kind: 'agent', roles: ['member'] },
  { tenantId: 'acme', agentId: 'alice', id: 'carol', kind: 'user', roles: ['admin'] },
  { tenantId: 'other', agentId: 'bob', id: 'bob', kind: 'agent', roles: [] },
];
const capabilities = ['payments.refund', 'tickets.create', 'repo.read'];
const risks = ['read', 'write', 'irreversible'];
const actions: AuthzAction[] = ['capabilities.invoke', 'capabilities.requireApproval'];

const capability = (id: string, risk: string, input: Record<string, unknown>): AuthzResource => ({ type: 'Capability', id, risk, input });
const sets = (active = INPUT_FREE) => ({ active, shadow: null });
const essence = (d: Decision) => ({ allowed: d.allowed, policyIds: [...d.policyIds].sort(), errors: d.errors, policySetHash: d.policySetHash });

describe('capability verdicts reused across inputs', () => {
  test('a set without getTag/hasTag is input-free; one that reads tags is not', () => {
    assert.equal(INPUT_FREE.readsInput, false);
    assert.equal(READS_INPUT.readsInput, true);
  });

  test("a task's next calls with other arguments are answered without cedar-wasm, with Cedar's answer", () => {
    const authorizer = new Authorizer();
    const p = principals[1] as Principal;
    const first = authorizer.decide(sets(), p, 'capabilities.invoke', capability('tickets.create', 'write', { i: 0 }), { capability: 'tickets.create' });
    assert.equal(first.allowed, true);
    const asked = authorizer.cedarCalls;
    for (let i = 1; i <= 50; i++) {
      const d = authorizer.decide(sets(), p, 'capabilities.invoke', capability('tickets.create', 'write', { i, title: `t${i}` }), { capability: 'tickets.create' });
      assert.deepEqual(essence(d), essence(first));
    }
    assert.equal(authorizer.cedarCalls, asked, 'no further request went to cedar-wasm');
  });

  test('anything else in the request is asked again: principal, roles, capability, risk, context, action, policy set', () => {
    const authorizer = new Authorizer();
    const base = { p: principals[1] as Principal, id: 'tickets.create', risk: 'write', ctx: 'tickets.create', action: 'capabilities.invoke' as AuthzAction };
    const ask = (o: Partial<typeof base>, set = INPUT_FREE) => {
      const r = { ...base, ...o };
      return authorizer.decide(sets(set), r.p, r.action, capability(r.id, r.risk, { n: 1 }), { capability: r.ctx });
    };
    ask({});
    const variants: [Partial<typeof base>, boolean][] = [
      [{ p: { ...base.p, roles: [] } }, false], // bob without the member role: denied
      [{ p: principals[0] as Principal }, false],
      [{ p: principals[3] as Principal }, false],
      [{ id: 'repo.read', ctx: 'repo.read', risk: 'read' }, true],
      [{ risk: 'irreversible' }, false], // bob may not invoke irreversible ones
      [{ action: 'capabilities.requireApproval', ctx: 'other' }, true],
      [{ action: 'capabilities.requireApproval' }, false],
    ];
    for (const [change, allowed] of variants) {
      const before = authorizer.cedarCalls;
      assert.equal(ask(change).allowed, allowed, JSON.stringify(change));
      assert.equal(authorizer.cedarCalls, before + 1, `asked Cedar for ${JSON.stringify(change)}`);
    }
    const before = authorizer.cedarCalls;
    assert.equal(ask({}, compilePolicySet(DEFAULT_POLICIES_TEXT)).allowed, false, 'another policy set');
    assert.equal(authorizer.cedarCalls, before + 1);
  });

  test('a set that reads the input is asked for every new input, and its answer follows the input', () => {
    const authorizer = new Authorizer();
    const p = principals[0] as Principal;
    const refund = (amount: number) =>
      authorizer.decide(sets(READS_INPUT), p, 'capabilities.invoke', capability('payments.refund', 'irreversible', { amount }), { capability: 'payments.refund' });
    const before = authorizer.cedarCalls;
    assert.equal(refund(5).allowed, true);
    assert.equal(refund(5000).allowed, false);
    assert.equal(refund(7).allowed, true);
    assert.equal(authorizer.cedarCalls, before + 3);
    // The very same request again: remembered (Cedar answers a request the same way every time).
    assert.equal(refund(5000).allowed, false);
    assert.equal(refund(5).allowed, true);
    assert.equal(authorizer.cedarCalls, before + 3);
  });

  test('any other request asked twice is answered once by Cedar: a task read again, not another task', () => {
    const authorizer = new Authorizer();
    const p = principals[0] as Principal;
    const read = (id: string, ownerId: string) => authorizer.decide(sets(), p, 'tasks.read', { type: 'Task', id, ownerId, runtime: 'javascript' });
    const before = authorizer.cedarCalls;
    assert.equal(read('t1', 'alice').allowed, true);
    assert.equal(read('t1', 'alice').allowed, true);
    assert.equal(authorizer.cedarCalls, before + 1);
    assert.equal(read('t2', 'bob').allowed, false, "another agent's task");
    assert.equal(read('t2', 'bob').allowed, false);
    assert.equal(authorizer.cedarCalls, before + 2);
  });

  test('an input Cedar fails on (a lone surrogate) is denied as Cedar denies it, after an allowed call too', () => {
    const authorizer = new Authorizer();
    const p = principals[1] as Principal;
    const call = (input: Record<string, unknown>) =>
      authorizer.decide(sets(), p, 'capabilities.invoke', capability('tickets.create', 'write', input), { capability: 'tickets.create' });
    assert.equal(call({ title: 'fine' }).allowed, true);
    for (const input of [{ title: 'lone \ud800' }, { ['k\udc00']: 'v' }]) {
      const d = call(input);
      assert.equal(d.allowed, false, JSON.stringify(input));
      assert.ok(d.errors.length > 0);
    }
    // Fail-safe the other way for the approval question: a failure means approval is required.
    const approval = authorizer.decide(sets(), p, 'capabilities.requireApproval', capability('tickets.create', 'write', { t: '\ud800' }), { capability: 'x' });
    assert.equal(approval.allowed, true);
  });

  test('property: reused verdicts equal a fresh Authorizer asking Cedar, for random inputs and requests', () => {
    const shared = new Authorizer();
    const text = fc.oneof(fc.string(), fc.string({ unit: 'binary' }), fc.constantFrom('\ud800', 'a\udfff', '😀', '', '__entity', '__extn'));
    const value = fc.oneof(text, fc.integer(), fc.double(), fc.boolean(), fc.constant(null), fc.array(text, { maxLength: 3 }), fc.dictionary(text, text, { maxKeys: 2 }));
    fc.assert(
      fc.property(
        fc.constantFrom(...principals),
        fc.constantFrom(...capabilities),
        fc.constantFrom(...risks),
        fc.constantFrom(...actions),
        fc.dictionary(text, value, { maxKeys: 4 }),
        fc.constantFrom(INPUT_FREE, READS_INPUT),
        fc.constantFrom(0, 5, 5000),
        (p, id, risk, action, extra, set, amount) => {
          // An amount from a few values: READS_INPUT's requests repeat, so some are remembered.
          const resource = capability(id, risk, { ...extra, amount });
          const reused = shared.decide(sets(set), p, action, resource, { capability: id });
          const fresh = new Authorizer().decide(sets(set), p, action, resource, { capability: id });
          assert.deepEqual(essence(reused), essence(fresh));
        },
      ),
      { numRuns: 400 },
    );
    assert.ok(shared.cedarCalls < 400, `some verdicts were reused (${shared.cedarCalls} of 400 asked Cedar)`);
  });
});
