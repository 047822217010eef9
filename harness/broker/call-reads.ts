/**
 * The reads the stages of a call need after the token stage: the task owner (disabled? roles),
 * the capability's definition and what the exactly-once record holds at the call's position.
 * They depend on a few of the task's facts (tenant, owner, whether it declared the name), which
 * never change for a task: once a task's facts are known, the next call of the task starts
 * these reads together with the token stage's read instead of one round trip later. Nothing is
 * decided on a guess: the reads are used only when the facts the token stage just read give
 * the very same reads (else they are made again), and only once the token checked out.
 */
import type { Redis } from 'ioredis';
import type { BrokerCallRequest } from '../../protocol/capability.ts';
import { LruMap } from '../../protocol/lru-map.ts';
import type { Capability } from '../capabilities/definition.ts';
import type { CapabilityStore } from '../capabilities/capability-store.ts';
import type { IdentityStore } from '../identity/identity-store.ts';
import type { CredentialStore } from '../vault/credential-store.ts';
import type { CallRecord, CallRecords } from './call-records.ts';
import type { TaskFacts } from './stages/context.ts';
import { readStored, type StoredAt, type StoredValuesMemory } from './stored-values.ts';

export interface CallReads {
  owner: Awaited<ReturnType<IdentityStore['getPrincipal']>>;
  definition: Capability | null;
  prior: CallRecord | null;
  /**
   * The credential a definition read before names, read (sealed) with the rest: when the
   * definition just read names the same one, the call needs no read of its own for it.
   */
  credential?: { name: string; sealed: string | null };
}

export interface CallReadDeps {
  redis: Redis;
  identity: IdentityStore;
  capabilities: CapabilityStore;
  credentials: Pick<CredentialStore, 'at'>;
  records: CallRecords;
  /** Where the owner and definition read are remembered (for the task's next call: broker-call.ts). */
  stored?: StoredValuesMemory;
}

/** The credential the definition held at `at` named when it was last read, if it was. */
function credentialNamedBefore(deps: CallReadDeps, at: StoredAt): string | undefined {
  const raw = deps.stored?.get(at);
  if (!raw) return undefined;
  try {
    return deps.capabilities.fromStored(raw).implementation.credential;
  } catch {
    return undefined;
  }
}

/** The facts the reads depend on, as one string: equal keys, equal reads. */
function readKey(call: BrokerCallRequest, facts: TaskFacts): string {
  return JSON.stringify([facts.tenantId, facts.principalKind, facts.agentId, facts.capabilities.includes(call.name)]);
}

export function readCall(deps: CallReadDeps, call: BrokerCallRequest, facts: TaskFacts): Promise<CallReads> {
  const declared = facts.capabilities.includes(call.name);
  const read = (at: StoredAt) => (deps.stored ? deps.stored.read(deps.redis, at) : readStored(deps.redis, at));
  const definitionAt = deps.capabilities.at(facts.tenantId, call.name);
  const credentialName = declared ? credentialNamedBefore(deps, definitionAt) : undefined;
  return Promise.all([
    read(deps.identity.principalAt(facts.tenantId, facts.principalKind, facts.agentId)),
    declared ? read(definitionAt) : null,
    declared ? deps.records.get(call.taskId, call.seq) : null,
    credentialName ? read(deps.credentials.at(facts.tenantId, credentialName)) : null,
  ]).then(([owner, definition, prior, sealed]) => ({
    owner: owner === null ? null : deps.identity.parsePrincipal(owner),
    definition: definition === null ? null : deps.capabilities.fromStored(definition),
    prior,
    ...(credentialName ? { credential: { name: credentialName, sealed } } : {}),
  }));
}

export interface EarlyReads {
  /** The reads for `facts` (just read by the token stage): the early ones if they match, else made now. */
  for(facts: TaskFacts): Promise<CallReads>;
}

/** Task facts seen lately, by task id (a bounded map, least recently used dropped). */
export class TaskFactsMemory {
  readonly #facts: LruMap<string, TaskFacts>;

  constructor(max = 1024) {
    this.#facts = new LruMap(max);
  }

  remember(taskId: string, facts: TaskFacts): void {
    this.#facts.set(taskId, facts);
  }

  /** The facts seen for the task (they never change for a task), if any. */
  get(taskId: string): TaskFacts | undefined {
    return this.#facts.get(taskId);
  }

  /** Starts the reads of `call` from the facts seen before for its task, if any. */
  early(deps: CallReadDeps, call: BrokerCallRequest): EarlyReads {
    const seen = this.#facts.get(call.taskId);
    // Settled at once so an early read nobody uses (a refused token) is no unhandled rejection.
    const started = seen ? readCall(deps, call, seen).then((r) => ({ ok: true as const, r }), (err: unknown) => ({ ok: false as const, err })) : null;
    return {
      async for(facts: TaskFacts): Promise<CallReads> {
        if (!seen || !started || readKey(call, seen) !== readKey(call, facts)) return readCall(deps, call, facts);
        const got = await started;
        if (!got.ok) throw got.err;
        return got.r;
      },
    };
  }
}
