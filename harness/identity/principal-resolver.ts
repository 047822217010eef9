/**
 * Turns what an admin writes for an agent or user — its id (`agt_…`, `usr_…`, or the id of a
 * config agent such as `dev-agent`) or its name — into the id that principals carry, so grants
 * (`allowedAgents`) and quota overrides (`agents`) match at request time. An unknown or ambiguous
 * reference is an error the caller answers with 400: before, a name was stored as given and
 * silently matched nobody.
 */
import type { IdentityStore } from './identity-store.ts';
import { AgentIdSchema, UserIdSchema } from './records.ts';

/** Principals from the harness's configuration (agents file, dev key, bootstrap admin). */
export interface ConfigPrincipals {
  hasPrincipal(tenantId: string, kind: 'agent' | 'user', id: string): boolean;
}

export type Resolution = { ok: true; id: string } | { ok: false; message: string };

/** One reference that did not resolve, as an entry of a 400's `errors` (JSON Pointer into the body). */
export interface UnresolvedRef {
  detail: string;
  pointer: string;
}

/** Page size when looking a name up among the tenant's agents and users. */
const PAGE = 100;

export class PrincipalResolver {
  readonly #identity: IdentityStore;
  readonly #config: ConfigPrincipals;

  constructor(options: { identity: IdentityStore; configPrincipals: ConfigPrincipals }) {
    this.#identity = options.identity;
    this.#config = options.configPrincipals;
  }

  /**
   * The id of the tenant's agent or user that `ref` names: an id as is (config principals,
   * `agt_…`/`usr_…` of the store), else the one store principal with that name. Disabled
   * principals resolve too (what names them does nothing while they are disabled). Another
   * tenant's principals are unknown.
   */
  async resolve(tenantId: string, ref: string): Promise<Resolution> {
    for (const kind of ['agent', 'user'] as const) {
      if (this.#config.hasPrincipal(tenantId, kind, ref)) return { ok: true, id: ref };
    }
    if (AgentIdSchema.safeParse(ref).success || UserIdSchema.safeParse(ref).success) {
      const kind = ref.startsWith('agt_') ? 'agent' : 'user';
      if (await this.#identity.getPrincipal(tenantId, kind, ref)) return { ok: true, id: ref };
      return { ok: false, message: `your tenant has no ${kind} with id ${ref}` };
    }
    const ids = await this.#idsNamed(tenantId, ref);
    if (ids.length === 1) return { ok: true, id: ids[0] as string };
    if (ids.length === 0) return { ok: false, message: `your tenant has no agent or user named or with id "${ref}"` };
    return { ok: false, message: `several agents or users of your tenant are named "${ref}" (${ids.join(', ')}): give the id` };
  }

  /**
   * Resolves every reference; `pointerOf(i)` names where reference i is in the body. Returns the
   * ids in order (duplicates removed), or every reference that did not resolve.
   */
  async resolveAll(
    tenantId: string,
    refs: readonly string[],
    pointerOf: (index: number) => string,
  ): Promise<{ ok: true; ids: string[] } | { ok: false; errors: UnresolvedRef[] }> {
    const ids: string[] = [];
    const errors: UnresolvedRef[] = [];
    for (const [i, ref] of refs.entries()) {
      const r = await this.resolve(tenantId, ref);
      if (r.ok) ids.push(r.id);
      else errors.push({ detail: r.message, pointer: pointerOf(i) });
    }
    return errors.length > 0 ? { ok: false, errors } : { ok: true, ids: [...new Set(ids)] };
  }

  /**
   * Store agents and users of the tenant named `name`. A scan (names have no index): only admin
   * writes resolve names, never the request path.
   */
  async #idsNamed(tenantId: string, name: string): Promise<string[]> {
    const ids: string[] = [];
    for (const kind of ['agent', 'user'] as const) {
      let offset: number | null = 0;
      while (offset !== null) {
        const page = await this.#identity.listPrincipals(tenantId, kind, PAGE, offset);
        for (const p of page.items) if (p.name === name) ids.push(p.id);
        offset = page.nextOffset;
      }
    }
    return ids;
  }
}
