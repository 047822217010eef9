/**
 * Cedar decisions for the harness (STANDARDS AZ-1..5). Policies, not `if` statements, decide who
 * may create tasks with which runtime and limits, read or cancel which task, mount which grant
 * in which mode, and manage a tenant.
 *
 * Fail closed: a Cedar `failure`, any evaluation error (Cedar skips a policy that errors — an
 * erroring `forbid` would silently stop guarding, AZ-3), or an exception is a deny. Every
 * decision names the policies that determined it and the hash of the set that made it, for the
 * audit log. A tenant may run a candidate set in shadow mode: it is evaluated beside the active
 * one and its decision recorded, never enforced.
 *
 * `capabilities.requireApproval` is asked like any other action, but its "allow" means "a human
 * must approve this invocation", so it fails safe the other way: a failure, an evaluation error
 * or an exception makes it allowed (approval required), never silently skipped.
 */
import { randomUUID } from 'node:crypto';
import * as cedar from '@cedar-policy/cedar-wasm/nodejs';
import type { Principal } from '../auth/principal.ts';
import { noPolicyCanApply, sameRequestShape } from './approval-scope.ts';
import { LruMap } from '../../protocol/lru-map.ts';
import { SCHEMA_TEXT, type PolicySet } from './policy-set.ts';

export type AuthzAction =
  | 'tasks.create'
  | 'tasks.read'
  | 'tasks.cancel'
  | 'grants.mount'
  | 'admin.manage'
  | 'audit.read'
  | 'capabilities.invoke'
  | 'capabilities.requireApproval'
  | 'approvals.selfApprove';

/** The action whose "allow" asks for a human (fails towards allow: see the module comment). */
export const REQUIRE_APPROVAL: AuthzAction = 'capabilities.requireApproval';

export type AuthzResource =
  | { type: 'Runtime'; id: string }
  | { type: 'Task'; id: string; ownerId: string; runtime: string }
  | { type: 'Grant'; id: string; mode: 'ro' | 'rw'; allowedAgents: readonly string[] }
  | { type: 'Tenant'; id: string }
  /**
   * `input`: the invocation's top-level fields, passed to Cedar as tags of the capability
   * (strings verbatim, anything else as its JSON text).
   */
  | { type: 'Capability'; id: string; risk: string; input?: Readonly<Record<string, unknown>> };

export type AuthzContext = Record<string, string | number | boolean>;

export interface Verdict {
  allowed: boolean;
  /** Ids of the policies that determined the decision (the satisfied permits, or forbids). */
  policyIds: string[];
  /** Evaluation errors (each turns the decision into a deny). */
  errors: string[];
  policySetHash: string;
  /**
   * `capabilities.requireApproval` only: the smallest `@approvalTimeoutMs` of the policies that
   * asked for approval (the request's deadline is capped by it), if any of them has one.
   */
  approvalTimeoutMs?: number;
}

export interface Decision extends Verdict {
  action: AuthzAction;
  resource: string;
  /** The shadow set's verdict, when the tenant has one: recorded, not enforced. */
  shadow?: Verdict;
}

const SCHEMA_NAME = 'airlock';
const NS = 'Airlock';

/** Policy sets kept preparsed in cedar-wasm at once (see Authorizer #slotFor). */
const MAX_PREPARED_SETS = 256;

/** The actions validated like REQUIRE_APPROVAL (approval-scope.ts, condition 2). */
const APPROVAL_SHAPE = sameRequestShape(REQUIRE_APPROVAL);
/** Verdicts remembered per Authorizer (see #answers), and the longest request remembered. */
const MAX_ANSWERS = 1024;
const MAX_ANSWER_KEY_CHARS = 4096;
/** A lone surrogate: the one input cedar-wasm fails to parse (its JSON has no such string). */
const LONE_SURROGATE = /\p{Cs}/u;

export class Authorizer {
  /**
   * Policy-set hash → the cedar-wasm slot it is preparsed in, least recently used first. The
   * slots are reused: cedar-wasm has no way to drop a preparsed set, and a tenant admin can
   * activate any number of distinct sets, so keying its cache by hash grew without bound.
   */
  readonly #slots = new Map<string, string>();
  readonly #maxSlots: number;
  /**
   * cedar-wasm's preparsed store is one per process, shared by every Authorizer: slot names
   * carry this instance's id, or two apps in one process (tests, the bench) would overwrite
   * each other's sets — and decide with the wrong policies.
   */
  readonly #slotPrefix = `authorizer-${randomUUID()}-`;
  /** Slots made but holding no set we map to (a preparse that failed). */
  readonly #freeSlots: string[] = [];
  #nextSlot = 0;
  readonly #onShadowDisagrees: (d: Decision) => void;
  /**
   * Verdicts Cedar gave without failure, by policy set, action and request, least recently used
   * first. Cedar is deterministic: the same request under the same set gets the same answer, so
   * a task polled again, or the next task an agent creates alike, is answered without
   * cedar-wasm (its JSON round trip and evaluation were the largest part of a decision). Under a
   * set that never reads a capability call's input (no `getTag`/`hasTag` in it), a call is
   * remembered by the request without its input — the same verdict for every input — so a
   * task's next call with other arguments is answered too; inputs cedar-wasm could fail to parse
   * are not (see withoutInput). They also serve condition 2 of approval-scope.ts: a request
   * answered without failure for an action validated like REQUIRE_APPROVAL.
   */
  readonly #answers = new LruMap<string, Verdict>(MAX_ANSWERS);
  #cedarCalls = 0;

  constructor(options: { onShadowDisagrees?: (d: Decision) => void; maxPreparedSets?: number } = {}) {
    const schema = cedar.preparseSchema(SCHEMA_NAME, SCHEMA_TEXT);
    if (schema.type === 'failure') throw new Error(`Cedar schema: ${schema.errors.map((e) => e.message).join('; ')}`);
    this.#onShadowDisagrees = options.onShadowDisagrees ?? (() => {});
    this.#maxSlots = options.maxPreparedSets ?? MAX_PREPARED_SETS;
  }

  /** How many requests were put to cedar-wasm (the rest were answered from what it said before). */
  get cedarCalls(): number {
    return this.#cedarCalls;
  }

  /** How many policy sets are preparsed now (at most `maxPreparedSets`). */
  get preparedSets(): number {
    return this.#slots.size;
  }

  decide(
    sets: { active: PolicySet; shadow: PolicySet | null },
    principal: Principal,
    action: AuthzAction,
    resource: AuthzResource,
    context: AuthzContext = {},
  ): Decision {
    let call: Call | Error;
    try {
      call = request(principal, action, resource, context);
    } catch (err) {
      call = err instanceof Error ? err : new Error(String(err));
    }
    // What a verdict is remembered by (see #answers): the set, the action and — for a capability
    // call under a set that never reads its input — the request without the input, else the
    // whole request (null: not JSON, or too large to remember).
    let key: string | null | undefined;
    const keyOf = () => (key === undefined ? (key = requestKey(call as Call)) : key);
    let inputFreeKey: string | null | undefined;
    const inputFreeKeyOf = () =>
      inputFreeKey === undefined ? (inputFreeKey = resource.type === 'Capability' && !(call instanceof Error) ? withoutInput(call, resource.input) : null) : inputFreeKey;
    const answerKeyOf = (set: PolicySet, a: string): string | null => {
      if (call instanceof Error) return null;
      const request = (set.readsInput === false ? inputFreeKeyOf() : null) ?? keyOf();
      return request === null || request.length > MAX_ANSWER_KEY_CHARS ? null : `${set.hash}|${a}|${request}`;
    };
    // The approval question of a capability call may be answered without Cedar (approval-scope.ts):
    // condition 2 is an answer remembered for the same request and an action of the same shape.
    const approvalSkippable = (set: PolicySet): boolean =>
      action === REQUIRE_APPROVAL &&
      resource.type === 'Capability' &&
      noPolicyCanApply(set, REQUIRE_APPROVAL, principal, resource) &&
      [...APPROVAL_SHAPE].some((a) => a !== action && this.#answers.has(answerKeyOf(set, a) ?? ''));
    const verdict = (set: PolicySet): Verdict => {
      const answerKey = answerKeyOf(set, action);
      const known = answerKey === null ? undefined : this.#answers.get(answerKey);
      if (known) return copyVerdict(known);
      if (approvalSkippable(set)) return { allowed: false, policyIds: [], errors: [], policySetHash: set.hash };
      let answered = false;
      const v = this.#verdict(set, action, call, () => {
        answered = true;
      });
      if (answered && answerKey !== null) this.#answers.set(answerKey, copyVerdict(v));
      return v;
    };
    const decision: Decision = {
      action,
      resource: `${resource.type}::${resource.id}`,
      ...verdict(sets.active),
    };
    if (sets.shadow) {
      decision.shadow = verdict(sets.shadow);
      if (decision.shadow.allowed !== decision.allowed) this.#onShadowDisagrees(decision);
    }
    return decision;
  }

  /**
   * The cedar-wasm slot holding `set` preparsed, preparsing it (into a new slot, or the least
   * recently used one once all are taken) if needed; null if cedar-wasm refuses it. Decisions
   * are synchronous, so a slot cannot be reused between preparing it and deciding with it.
   */
  #slotFor(set: PolicySet): string | null {
    let slot = this.#slots.get(set.hash);
    if (slot !== undefined) {
      // Most recently used last.
      this.#slots.delete(set.hash);
      this.#slots.set(set.hash, slot);
      return slot;
    }
    if (this.#freeSlots.length > 0) {
      slot = this.#freeSlots.pop() as string;
    } else if (this.#nextSlot < this.#maxSlots) {
      slot = `${this.#slotPrefix}${this.#nextSlot++}`;
    } else {
      const [oldest, oldSlot] = this.#slots.entries().next().value as [string, string];
      this.#slots.delete(oldest);
      slot = oldSlot;
    }
    const parsed = cedar.preparsePolicySet(slot, { staticPolicies: { ...set.policies } });
    if (parsed.type === 'failure') {
      this.#freeSlots.push(slot);
      return null;
    }
    this.#slots.set(set.hash, slot);
    return slot;
  }

  /** `answered`: told when Cedar answered without failure (the request validated and its entities parsed). */
  #verdict(set: PolicySet, action: AuthzAction, call: Call | Error, answered: () => void): Verdict {
    // Fail closed: a deny, except for the approval question, where failing safe means asking.
    const failSafe = action === REQUIRE_APPROVAL;
    const deny = (errors: string[]): Verdict => ({ allowed: failSafe, policyIds: [], errors, policySetHash: set.hash });
    try {
      if (call instanceof Error) throw call;
      const slot = this.#slotFor(set);
      if (slot === null) return deny(['the policy set could not be prepared']);
      this.#cedarCalls++;
      const answer = cedar.statefulIsAuthorized({ ...call, preparsedPolicySetId: slot });
      if (answer.type === 'failure') return deny(answer.errors.map((e) => e.message));
      answered();
      const { decision, diagnostics } = answer.response;
      const errors = diagnostics.errors.map((e) => `${e.policyId}: ${e.error.message}`);
      const timeouts = failSafe ? diagnostics.reason.map((id) => set.approvalTimeoutMs?.[id]).filter((ms) => ms !== undefined) : [];
      return {
        allowed: failSafe ? decision === 'allow' || errors.length > 0 : decision === 'allow' && errors.length === 0,
        policyIds: diagnostics.reason,
        errors,
        policySetHash: set.hash,
        ...(timeouts.length > 0 ? { approvalTimeoutMs: Math.min(...timeouts) } : {}),
      };
    } catch (err) {
      return deny([`authorization failed: ${(err as Error).message}`]);
    }
  }
}

type Call = Omit<cedar.StatefulAuthorizationCall, 'preparsedPolicySetId'>;

/** A request without its action, as JSON (null when it is not JSON). */
function requestKey(call: Call): string | null {
  try {
    return JSON.stringify([call.principal, call.resource, call.context, call.entities, call.preparsedSchemaName, call.validateRequest]);
  } catch {
    return null; // Not JSON (a BigInt, say): nothing to remember it by.
  }
}

/**
 * A capability request as JSON without its input (the capability's tags), or null when the input
 * has a key or string value with a lone surrogate — the one input cedar-wasm fails on (it parses
 * the request as JSON text), so its answer depends on the input after all. Everything else
 * request() puts in is kept, so the key can never miss a part of the request.
 */
function withoutInput(call: Call, input: Readonly<Record<string, unknown>> | undefined): string | null {
  for (const [k, v] of Object.entries(input ?? {})) {
    if (LONE_SURROGATE.test(k) || (typeof v === 'string' && LONE_SURROGATE.test(v))) return null;
  }
  const entities = call.entities.map((e) => ({ ...e, tags: undefined }));
  try {
    return JSON.stringify([call.principal, call.action, call.resource, call.context, entities, call.preparsedSchemaName, call.validateRequest]);
  } catch {
    return null; // Not JSON (a BigInt, say).
  }
}

function copyVerdict(v: Verdict): Verdict {
  return { ...v, policyIds: [...v.policyIds], errors: [...v.errors] };
}

const uid = (type: string, id: string) => ({ type: `${NS}::${type}`, id });

/** The Cedar request and its entities: the principal, its tenant, and the resource. */
function request(
  principal: Principal,
  action: AuthzAction,
  resource: AuthzResource,
  context: AuthzContext,
): Call {
  const tenant = uid('Tenant', principal.tenantId);
  const principalUid = uid(principal.kind === 'user' ? 'User' : 'Agent', principal.id);
  const entities: cedar.EntityJson[] = [
    { uid: tenant, attrs: {}, parents: [] },
    {
      uid: principalUid,
      attrs: { tenant: principal.tenantId, ownerId: principal.agentId, roles: [...principal.roles] },
      parents: [tenant],
    },
  ];
  const resourceUid = uid(resource.type, resource.id);
  switch (resource.type) {
    case 'Runtime':
      entities.push({ uid: resourceUid, attrs: {}, parents: [] });
      break;
    case 'Task':
      entities.push({ uid: resourceUid, attrs: { ownerId: resource.ownerId, runtime: resource.runtime }, parents: [tenant] });
      break;
    case 'Grant':
      entities.push({ uid: resourceUid, attrs: { mode: resource.mode, allowedAgents: [...resource.allowedAgents] }, parents: [tenant] });
      break;
    case 'Tenant':
      if (resource.id !== principal.tenantId) entities.push({ uid: resourceUid, attrs: {}, parents: [] });
      break;
    case 'Capability': {
      // Integer input fields also as Long tags of a second entity, so a policy can compare
      // them (`resource.numbers.getTag("amount") < 1000`): String tags cannot be ordered.
      const numbersUid = uid('CapabilityNumbers', resource.id);
      entities.push({
        uid: resourceUid,
        attrs: { risk: resource.risk, numbers: { __entity: numbersUid } },
        parents: [tenant],
        tags: inputTags(resource.input),
      });
      entities.push({ uid: numbersUid, attrs: {}, parents: [], tags: numberTags(resource.input) });
      break;
    }
  }
  return {
    principal: principalUid,
    action: uid('Action', action),
    resource: resourceUid,
    context,
    entities,
    preparsedSchemaName: SCHEMA_NAME,
    validateRequest: true,
  };
}

/** The input's integer fields (within Cedar's Long range) as Long tags. */
function numberTags(input: Readonly<Record<string, unknown>> | undefined): Record<string, number> {
  const tags: Record<string, number> = {};
  for (const [name, value] of Object.entries(input ?? {})) {
    if (typeof value === 'number' && Number.isSafeInteger(value)) tags[name] = value;
  }
  return tags;
}

/** A capability invocation's input as Cedar tags: strings verbatim, other values as JSON text. */
function inputTags(input: Readonly<Record<string, unknown>> | undefined): Record<string, string> {
  const tags: Record<string, string> = {};
  for (const [name, value] of Object.entries(input ?? {})) {
    if (value === undefined) continue;
    tags[name] = typeof value === 'string' ? value : (JSON.stringify(value) ?? String(value));
  }
  return tags;
}
