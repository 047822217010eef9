/**
 * JSON Schemas of capability inputs and outputs (draft 2020-12, Ajv): compiled once per distinct
 * schema (cached by the SHA-256 of its canonical text, and by the schema object) and checked when
 * an admin stores a capability, so a schema that does not compile is a 400 then, never a failure
 * at call time.
 * `x-airlock-redact: true` marks a field to leave out of the audit log (its value, not its hash).
 */
import { createHash } from 'node:crypto';
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { canonicalJson } from '../../protocol/audit/canonical-json.ts';

export const REDACT_KEYWORD = 'x-airlock-redact';

// ajv-formats is CommonJS with a default export.
const addFormats = addFormatsModule as unknown as (ajv: Ajv2020) => Ajv2020;

function makeAjv(): Ajv2020 {
  // Unknown keywords and formats are errors (a typo such as `propertees` would silently check
  // nothing); the stricter rules on well-formed schemas (a `required` name without its
  // `properties` entry, keywords without `type`) are not. No remote $refs can load (no
  // loadSchema): a schema is self-contained.
  const ajv = new Ajv2020({
    strict: true,
    strictRequired: false,
    strictTypes: false,
    strictTuples: false,
    allErrors: true,
    validateFormats: true,
    allowUnionTypes: true,
  });
  addFormats(ajv);
  ajv.addKeyword({ keyword: REDACT_KEYWORD, schemaType: 'boolean' });
  return ajv;
}

const ajv = makeAjv();
const cache = new Map<string, ValidateFunction>();
const MAX_CACHED = 1000;
/**
 * The same, by the schema object itself: a broker call checks its input against the schema of a
 * definition parsed once and shared (capability-store.ts), so most calls skip hashing the schema's
 * canonical text (4 µs a call in a loop on the 2-core test VM). Nothing changes a schema object
 * once it is compiled: definitions are parsed from their stored JSON and only read.
 */
const byObject = new WeakMap<object, ValidateFunction>();

export interface SchemaProblem {
  /** JSON Pointer into the data (`/title`), or into the schema for a schema that does not compile. */
  pointer: string;
  detail: string;
}

/** Compiles `schema`, or returns why it cannot be. */
export function compileSchema(schema: unknown): { ok: true; validate: ValidateFunction } | { ok: false; problem: string } {
  const object = typeof schema === 'object' && schema !== null ? schema : null;
  const known = object ? byObject.get(object) : undefined;
  if (known) return { ok: true, validate: known };
  const key = createHash('sha256').update(canonicalJson(schema ?? null)).digest('hex');
  const hit = cache.get(key);
  if (hit) {
    if (object) byObject.set(object, hit);
    return { ok: true, validate: hit };
  }
  try {
    const validate = ajv.compile(schema as object);
    if (cache.size >= MAX_CACHED) cache.delete(cache.keys().next().value as string);
    cache.set(key, validate);
    if (object) byObject.set(object, validate);
    return { ok: true, validate };
  } catch (err) {
    return { ok: false, problem: (err as Error).message };
  } finally {
    // Each schema is compiled on its own: Ajv would otherwise keep it in its registry, by object
    // and by its `$id`, for good — so another tenant's schema with the same `$id` was refused
    // ("already exists"), a `$ref` to that `$id` resolved to another tenant's schema, and the
    // registry grew past MAX_CACHED. The compiled function keeps the references it resolved.
    if (object) ajv.removeSchema(object);
  }
}

/** Problems of `data` against a compiled schema (empty = valid). At most 20. */
export function schemaProblems(validate: ValidateFunction, data: unknown): SchemaProblem[] {
  if (validate(data)) return [];
  return (validate.errors ?? []).slice(0, 20).map((e: ErrorObject) => ({
    pointer: e.instancePath || '/',
    detail: `${e.instancePath || 'the value'} ${e.message ?? 'is not valid'}${e.keyword === 'additionalProperties' ? ` (${String((e.params as { additionalProperty?: string }).additionalProperty)})` : ''}`,
  }));
}

/**
 * `value` without the fields its schema marks `x-airlock-redact: true` (followed through
 * `properties`, `items` and `prefixItems`; the top level too). For the audit log.
 */
export function withoutRedacted(schema: unknown, value: unknown): unknown {
  if (!schema || typeof schema !== 'object') return value;
  const s = schema as Record<string, unknown>;
  if (s[REDACT_KEYWORD] === true) return undefined;
  if (Array.isArray(value)) {
    const prefix = Array.isArray(s['prefixItems']) ? (s['prefixItems'] as unknown[]) : [];
    return value.map((v, i) => withoutRedacted(i < prefix.length ? prefix[i] : s['items'], v)).filter((v) => v !== undefined);
  }
  if (value && typeof value === 'object') {
    const props = (s['properties'] && typeof s['properties'] === 'object' ? s['properties'] : {}) as Record<string, unknown>;
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      const kept = withoutRedacted(Object.hasOwn(props, k) ? props[k] : undefined, v);
      if (kept !== undefined) out[k] = kept;
    }
    return out;
  }
  return value;
}
