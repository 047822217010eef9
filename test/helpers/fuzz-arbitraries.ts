/**
 * fast-check arbitraries for the API fuzz test (test/integration/api-fuzz.test.ts), derived from
 * the routes' own zod schemas: each schema is turned into JSON Schema by zod itself
 * (`z.toJSONSchema`, input side) and that into an arbitrary of values that mostly pass it, so
 * the fuzzer reaches the handlers instead of stopping at validation. `mutated` then breaks such
 * values the ways clients do (a field dropped, an unknown field, a wrong type, a value from
 * anywhere). Nothing here talks to the app.
 */
import fc from 'fast-check';
import { z } from 'zod';

type JsonSchema = Record<string, unknown>;
type Json = unknown;

/** Longest string generated for a schema without maxLength (keeps requests small and fast). */
const FREE_STRING_MAX = 40;
/** Cap on generated array lengths and on strings a schema allows to be longer. */
const LENGTH_CAP = 8;

/** The JSON Schema of a zod schema as the client sends it; null when there is none. */
export function jsonSchemaOf(schema: unknown): JsonSchema | null {
  if (!schema || typeof schema !== 'object' || !('_zod' in schema)) return null;
  return z.toJSONSchema(schema as z.ZodType, { io: 'input', unrepresentable: 'any' }) as JsonSchema;
}

/** Strings of every kind: plain, unicode, control characters, numbers as text, path tricks. */
export const nastyString: fc.Arbitrary<string> = fc.oneof(
  fc.string({ maxLength: FREE_STRING_MAX }),
  fc.string({ unit: 'grapheme', maxLength: 20 }),
  fc.string({ unit: 'binary', maxLength: 20 }),
  fc.constantFrom(
    '', ' ', '0', '-1', '1e309', 'NaN', 'null', 'true', '[]', '{}', '__proto__', 'constructor',
    '..', '../..', '/etc/passwd', '%00', '\u0000', '\uD800', '😀', 'a'.repeat(5000), '${1+1}', "'; DROP TABLE x;--",
  ),
);

/** Any JSON value, including the awkward ones (deep, big numbers, prototype keys). */
export const anyJson: fc.Arbitrary<Json> = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  fc.constantFrom(
    null, 0, -0, 1e308, -1e308, 2 ** 53 + 1, 0.5, true, '', [], {},
    { __proto__: { polluted: true } }, { constructor: { prototype: { polluted: true } } },
  ),
  nastyString,
);

function stringArbitrary(s: JsonSchema): fc.Arbitrary<string> {
  const min = typeof s['minLength'] === 'number' ? s['minLength'] : 0;
  const max = typeof s['maxLength'] === 'number' ? s['maxLength'] : FREE_STRING_MAX;
  if (typeof s['pattern'] === 'string') {
    try {
      return fc.stringMatching(new RegExp(s['pattern']));
    } catch {
      // A pattern fast-check cannot generate from: fall through to plain strings.
    }
  }
  if (s['format'] === 'uuid') return fc.uuid();
  if (s['format'] === 'base64' || s['contentEncoding'] === 'base64') {
    return fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b).toString('base64'));
  }
  return fc.string({ minLength: min, maxLength: Math.max(min, Math.min(max, min + LENGTH_CAP * 4)) });
}

function numberArbitrary(s: JsonSchema, integer: boolean): fc.Arbitrary<number> {
  const lo = typeof s['minimum'] === 'number' ? s['minimum'] : typeof s['exclusiveMinimum'] === 'number' ? s['exclusiveMinimum'] + 1 : -1e6;
  const hi = typeof s['maximum'] === 'number' ? s['maximum'] : typeof s['exclusiveMaximum'] === 'number' ? s['exclusiveMaximum'] - 1 : 1e6;
  const min = Math.max(lo, Number.MIN_SAFE_INTEGER);
  const max = Math.min(hi, Number.MAX_SAFE_INTEGER);
  // Boundaries are where the bugs are: pick them often.
  const edges = fc.constantFrom(min, max);
  const inside = integer
    ? fc.integer({ min: Math.ceil(min), max: Math.floor(max) })
    : fc.double({ min, max, noNaN: true, noDefaultInfinity: true });
  return fc.oneof(edges, inside);
}

/**
 * An arbitrary of values that satisfy `schema` as far as JSON Schema says (zod refinements it
 * cannot express may still refuse them: that is fine, they are fuzz inputs).
 */
export function fromJsonSchema(schema: JsonSchema, root: JsonSchema = schema, depth = 0): fc.Arbitrary<Json> {
  if (depth > 6) return fc.constant(null);
  const next = (s: unknown) => fromJsonSchema((s ?? {}) as JsonSchema, root, depth + 1);
  if (typeof schema['$ref'] === 'string') {
    const name = schema['$ref'].replace(/^#\/\$defs\//, '');
    const defs = (root['$defs'] ?? {}) as Record<string, JsonSchema>;
    return defs[name] ? fromJsonSchema(defs[name], root, depth + 1) : anyJson;
  }
  if ('const' in schema) return fc.constant(schema['const']);
  if (Array.isArray(schema['enum'])) return fc.constantFrom(...(schema['enum'] as Json[]));
  const union = (schema['anyOf'] ?? schema['oneOf']) as unknown[] | undefined;
  if (Array.isArray(union) && union.length > 0) return fc.oneof(...union.map(next));
  if (Array.isArray(schema['allOf']) && schema['allOf'].length > 0) return next(schema['allOf'][0]);
  const type = schema['type'];
  if (Array.isArray(type)) return fc.oneof(...type.map((t) => next({ ...schema, type: t })));
  switch (type) {
    case 'string':
      return stringArbitrary(schema);
    case 'integer':
      return numberArbitrary(schema, true);
    case 'number':
      return numberArbitrary(schema, false);
    case 'boolean':
      return fc.boolean();
    case 'null':
      return fc.constant(null);
    case 'array': {
      const minLength = typeof schema['minItems'] === 'number' ? schema['minItems'] : 0;
      const maxItems = typeof schema['maxItems'] === 'number' ? schema['maxItems'] : LENGTH_CAP;
      return fc.array(next(schema['items']), { minLength, maxLength: Math.max(minLength, Math.min(maxItems, LENGTH_CAP)) });
    }
    case 'object': {
      const props = (schema['properties'] ?? {}) as Record<string, JsonSchema>;
      const required = new Set((schema['required'] ?? []) as string[]);
      const model: Record<string, fc.Arbitrary<Json>> = {};
      for (const [name, sub] of Object.entries(props)) model[name] = next(sub);
      const requiredKeys = Object.keys(props).filter((k) => required.has(k));
      if (Object.keys(props).length === 0 && schema['additionalProperties'] !== false) {
        return fc.dictionary(fc.string({ maxLength: 10 }), next(schema['additionalProperties']), { maxKeys: 4 });
      }
      return fc.record(model, { requiredKeys });
    }
    default:
      return anyJson;
  }
}

/**
 * Breaks a value the ways clients do: drops a field, adds an unknown one (also prototype keys),
 * sets a field to a value of any type, or wraps/replaces the whole value.
 */
export function mutated(valid: fc.Arbitrary<Json>): fc.Arbitrary<Json> {
  return fc.oneof(
    { weight: 3, arbitrary: valid },
    {
      weight: 2,
      arbitrary: fc.tuple(valid, fc.nat(), anyJson).map(([v, i, value]) => {
        if (!v || typeof v !== 'object' || Array.isArray(v)) return value;
        const keys = Object.keys(v);
        if (keys.length === 0) return { field: value };
        return { ...v, [keys[i % keys.length]!]: value };
      }),
    },
    {
      weight: 1,
      arbitrary: fc.tuple(valid, fc.nat()).map(([v, i]) => {
        if (!v || typeof v !== 'object' || Array.isArray(v)) return v;
        const keys = Object.keys(v);
        const copy: Record<string, unknown> = { ...v };
        if (keys.length > 0) delete copy[keys[i % keys.length]!];
        return copy;
      }),
    },
    {
      weight: 1,
      arbitrary: fc
        .tuple(valid, fc.oneof(fc.string({ maxLength: 12 }), fc.constantFrom('__proto__', 'constructor', 'tenantId', 'id', 'status')), anyJson)
        .map(([v, key, value]) =>
          v && typeof v === 'object' && !Array.isArray(v) ? JSON.parse(JSON.stringify({ ...v, [key]: value })) : v,
        ),
    },
    { weight: 1, arbitrary: anyJson },
    { weight: 1, arbitrary: valid.map((v) => [v]) },
  );
}
