/**
 * Cedar policies (harness/policy) through the real cedar-wasm engine: the shipped set's
 * decisions, forbid over permit, fail-closed on evaluation errors, validation before
 * activation, shadow mode, and the ids + hash every decision records.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, test } from 'node:test';
import type { Principal } from '../../harness/auth/principal.ts';
import { Authorizer, type AuthzResource, type Decision } from '../../harness/policy/authorizer.ts';
import {
  DEFAULT_POLICIES_TEXT,
  PolicySetError,
  compilePolicySet,
  hashPolicies,
  type PolicySet,
} from '../../harness/policy/policy-set.ts';

const defaults = compilePolicySet(DEFAULT_POLICIES_TEXT);
const shadowSeen: Decision[] = [];
const authorizer = new Authorizer({ onShadowDisagrees: (d) => shadowSeen.push(d) });

const agent = (agentId: string, roles: string[] = []): Principal => ({
  tenantId: 'acme', agentId, id: agentId, kind: 'agent', roles,
});
const admin: Principal = { tenantId: 'acme', agentId: 'root', id: 'root', kind: 'user', roles: ['admin'] };
const task = (ownerId: string): AuthzResource => ({ type: 'Task', id: 't1', ownerId, runtime: 'python' });
const grant = (mode: 'ro' | 'rw', allowedAgents: string[]): AuthzResource => ({ type: 'Grant', id: 'data', mode, allowedAgents });
const decide = (set: PolicySet, p: Principal, ...rest: [Parameters<Authorizer['decide']>[2], AuthzResource, Record<string, string | number>?]) =>
  authorizer.decide({ active: set, shadow: null }, p, ...rest);
const limits = (timeoutMs: number, memoryMb: number) => ({ timeoutMs, memoryMb, mounts: 0 });

describe('the shipped policy set (least privilege)', () => {
  test('is valid, and every decision names its policies and the set hash', () => {
    assert.equal(defaults.hash, createHash('sha256').update(DEFAULT_POLICIES_TEXT).digest('hex'));
    const d = decide(defaults, agent('alice'), 'tasks.read', task('alice'));
    assert.equal(d.allowed, true);
    assert.deepEqual(d.policyIds, ['own-tasks']);
    assert.equal(d.policySetHash, defaults.hash);
    assert.deepEqual(d.errors, []);
  });

  test('agents read and cancel their own tasks only', () => {
    for (const action of ['tasks.read', 'tasks.cancel'] as const) {
      assert.equal(decide(defaults, agent('alice'), action, task('alice')).allowed, true);
      const other = decide(defaults, agent('bob'), action, task('alice'));
      assert.equal(other.allowed, false);
      assert.deepEqual(other.policyIds, [], 'a default deny is made by no policy');
    }
  });

  test('agents create tasks within the limits; beyond them, deny', () => {
    const runtime: AuthzResource = { type: 'Runtime', id: 'python' };
    assert.equal(decide(defaults, agent('alice'), 'tasks.create', runtime, limits(30_000, 256)).allowed, true);
    assert.equal(decide(defaults, agent('alice'), 'tasks.create', runtime, limits(30_000, 4096)).allowed, false);
    assert.equal(decide(defaults, agent('alice'), 'tasks.create', runtime, limits(3_600_000, 64)).allowed, false);
  });

  test('a user without a tenant role creates nothing; a member may', () => {
    const runtime: AuthzResource = { type: 'Runtime', id: 'javascript' };
    const user = (roles: string[]): Principal => ({ tenantId: 'acme', agentId: 'u1', id: 'u1', kind: 'user', roles });
    assert.equal(decide(defaults, user([]), 'tasks.create', runtime, limits(1000, 64)).allowed, false);
    assert.equal(decide(defaults, user(['member']), 'tasks.create', runtime, limits(1000, 64)).allowed, true);
  });

  test('grants: only listed agents; never rw on an ro grant (forbid beats the permit)', () => {
    assert.equal(decide(defaults, agent('alice'), 'grants.mount', grant('ro', ['alice']), { mode: 'ro' }).allowed, true);
    assert.equal(decide(defaults, agent('bob'), 'grants.mount', grant('ro', ['alice']), { mode: 'ro' }).allowed, false);
    assert.equal(decide(defaults, agent('bob'), 'grants.mount', grant('rw', ['*']), { mode: 'rw' }).allowed, true);
    const rwOnRo = decide(defaults, agent('alice'), 'grants.mount', grant('ro', ['alice']), { mode: 'rw' });
    assert.equal(rwOnRo.allowed, false);
    assert.deepEqual(rwOnRo.policyIds, ['no-rw-on-ro-grant']);
  });

  test('admin.manage: the admin role of the same tenant only', () => {
    const own: AuthzResource = { type: 'Tenant', id: 'acme' };
    assert.equal(decide(defaults, admin, 'admin.manage', own).allowed, true);
    assert.equal(decide(defaults, agent('alice'), 'admin.manage', own).allowed, false);
    assert.equal(decide(defaults, admin, 'admin.manage', { type: 'Tenant', id: 'globex' }).allowed, false);
  });
});

describe('semantics', () => {
  test('a forbid overrides every permit', () => {
    const set = compilePolicySet(`
      @id("all") permit (principal, action, resource);
      @id("no-bash") forbid (principal, action == Airlock::Action::"tasks.create", resource == Airlock::Runtime::"bash");`);
    assert.equal(decide(set, agent('a'), 'tasks.create', { type: 'Runtime', id: 'python' }, limits(1, 1)).allowed, true);
    const bash = decide(set, agent('a'), 'tasks.create', { type: 'Runtime', id: 'bash' }, limits(1, 1));
    assert.equal(bash.allowed, false);
    assert.deepEqual(bash.policyIds, ['no-bash']);
  });

  test('fail closed: a forbid that errors (missing attribute) still denies, though Cedar skips it', () => {
    // Such a set cannot be activated (validation refuses it, below); this is the evaluation-time
    // guard for sets that slip through, e.g. written before a schema change.
    const text = `@id("all") permit (principal, action, resource);
      @id("broken-forbid") forbid (principal, action, resource) when { context.nope == 1 };`;
    const unvalidated: PolicySet = {
      text,
      hash: hashPolicies(text),
      policies: {
        all: 'permit (principal, action, resource);',
        'broken-forbid': 'forbid (principal, action, resource) when { context.nope == 1 };',
      },
    };
    const d = decide(unvalidated, agent('a'), 'tasks.read', task('a'));
    assert.equal(d.allowed, false, 'Cedar alone would allow: the erroring forbid is skipped');
    assert.equal(d.errors.length, 1);
    assert.match(d.errors[0] ?? '', /^broken-forbid: /);
  });

  test('fail closed: a request the schema does not allow (wrong context type) is a deny', () => {
    const d = decide(defaults, agent('a'), 'tasks.create', { type: 'Runtime', id: 'python' }, { timeoutMs: 'soon', memoryMb: 1, mounts: 0 });
    assert.equal(d.allowed, false);
    assert.ok(d.errors.length > 0);
  });
});

describe('validation before activation', () => {
  const refused = (text: string, pattern: RegExp) =>
    assert.throws(() => compilePolicySet(text), (err: unknown) => err instanceof PolicySetError && pattern.test(err.message));

  test('syntax errors, missing or duplicate @id, templates, empty sets and schema errors are refused', () => {
    refused('permit (principal, action, resource', /./);
    refused('permit (principal, action, resource);', /needs an @id/);
    refused('@id("a") permit (principal, action, resource); @id("a") forbid (principal, action, resource);', /a: duplicate @id/);
    refused('@id("t") permit (principal == ?principal, action, resource);', /templates/);
    refused('// nothing', /empty/);
    refused('@id("typo") permit (principal, action == Airlock::Action::"tasks.read", resource) when { resource.owner == "x" };', /^typo: /);
    refused('@id("ctx") forbid (principal, action, resource) when { context.nope == 1 };', /^ctx: /);
  });
});

describe('shadow mode', () => {
  test('the shadow set is evaluated and recorded, never enforced; disagreements are reported', () => {
    const strict = compilePolicySet('@id("nothing-for-bob") forbid (principal == Airlock::Agent::"bob", action, resource);\n@id("all") permit (principal, action, resource);');
    shadowSeen.length = 0;
    const d = authorizer.decide({ active: defaults, shadow: strict }, agent('bob'), 'tasks.read', task('bob'));
    assert.equal(d.allowed, true, 'the active set decides');
    assert.equal(d.shadow?.allowed, false);
    assert.deepEqual(d.shadow?.policyIds, ['nothing-for-bob']);
    assert.equal(d.shadow?.policySetHash, strict.hash);
    assert.equal(shadowSeen.length, 1);
    const agree = authorizer.decide({ active: defaults, shadow: strict }, agent('alice'), 'tasks.read', task('alice'));
    assert.equal(agree.shadow?.allowed, true);
    assert.equal(shadowSeen.length, 1, 'agreement is not reported');
  });
});

describe('prepared policy sets are bounded', () => {
  const permitAll = compilePolicySet('@id("all") permit(principal, action, resource);');
  const denyReads = compilePolicySet(
    '@id("all") permit(principal, action, resource);\n@id("no-reads") forbid(principal, action == Airlock::Action::"tasks.read", resource);',
  );
  const ownOnly = compilePolicySet(
    '@id("own") permit(principal, action == Airlock::Action::"tasks.read", resource) when { resource.ownerId == principal.ownerId };',
  );

  test('past the cap, slots are reused and every decision still comes from its own set', () => {
    const small = new Authorizer({ maxPreparedSets: 2 });
    const read = (set: PolicySet, who: string) =>
      small.decide({ active: set, shadow: null }, agent(who), 'tasks.read', task('alice'));
    // A third set evicts the least recently used one (permitAll) and takes its slot.
    assert.equal(read(permitAll, 'bob').allowed, true);
    assert.equal(read(denyReads, 'bob').allowed, false);
    assert.equal(read(ownOnly, 'alice').allowed, true);
    assert.equal(small.preparedSets, 2);
    // Each set answers as itself, whatever slot it sits in now, however often they trade places.
    for (let round = 0; round < 3; round++) {
      const a = read(permitAll, 'bob');
      assert.deepEqual([a.allowed, a.policyIds, a.policySetHash], [true, ['all'], permitAll.hash]);
      const d = read(denyReads, 'bob');
      assert.deepEqual([d.allowed, d.policyIds, d.policySetHash], [false, ['no-reads'], denyReads.hash]);
      const o = read(ownOnly, 'bob');
      assert.deepEqual([o.allowed, o.policySetHash], [false, ownOnly.hash]);
      assert.equal(read(ownOnly, 'alice').allowed, true);
      assert.equal(small.preparedSets, 2);
    }
  });

  test('two authorizers in one process (cedar-wasm has one store) never decide with each other\'s sets', () => {
    const first = new Authorizer();
    const second = new Authorizer();
    for (let round = 0; round < 3; round++) {
      assert.equal(first.decide({ active: permitAll, shadow: null }, agent('bob'), 'tasks.read', task('alice')).allowed, true);
      assert.equal(second.decide({ active: denyReads, shadow: null }, agent('bob'), 'tasks.read', task('alice')).allowed, false);
    }
  });
});
