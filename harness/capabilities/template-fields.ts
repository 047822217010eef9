/**
 * The input fields an `http` connector's templates name (`{input.a.b}` in its url, headers,
 * query and body) must be fields the input schema declares: a typo such as `{input.ordr}`
 * is refused when the capability is PUT, not discovered by the first call that fails.
 */
import type { CapabilityBody } from './definition.ts';
import type { DefinitionProblem } from './check-definition.ts';

/** Every placeholder path (`a.b` of `{input.a.b}`) in a template value, with where it is. */
function placeholders(value: unknown, pointer: string, out: { pointer: string; path: string[] }[]): void {
  if (typeof value === 'string') {
    for (const m of value.matchAll(/\{input((?:\.[A-Za-z_][A-Za-z0-9_]*)*)\}/g)) {
      out.push({ pointer, path: (m[1] ?? '').split('.').filter(Boolean) });
    }
  } else if (Array.isArray(value)) {
    value.forEach((v, i) => placeholders(v, `${pointer}/${i}`, out));
  } else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) placeholders(v, `${pointer}/${escapePointer(k)}`, out);
  }
}

function escapePointer(segment: string): string {
  return segment.replace(/~/g, '~0').replace(/\//g, '~1');
}

/**
 * Why `path` is not a declared field of `schema`, or null when it is (or cannot be known: a
 * level built with `$ref`, `allOf`, `anyOf`, `oneOf` or `if` is not followed, and passes).
 */
function undeclared(schema: unknown, path: readonly string[]): string | null {
  let at: unknown = schema;
  for (let i = 0; i < path.length; i++) {
    if (!at || typeof at !== 'object' || Array.isArray(at)) return null;
    const s = at as Record<string, unknown>;
    if (['$ref', 'allOf', 'anyOf', 'oneOf', 'if'].some((k) => k in s)) return null;
    const props = s['properties'];
    const name = path[i] as string;
    if (!props || typeof props !== 'object' || !Object.hasOwn(props, name)) {
      const where = path.slice(0, i).join('.');
      return `the input schema declares no field "${name}"${where ? ` in "${where}"` : ''}`;
    }
    at = (props as Record<string, unknown>)[name];
  }
  return null;
}

export function templateFieldProblems(body: CapabilityBody): DefinitionProblem[] {
  const impl = body.implementation;
  if (impl.type !== 'http' || body.input === undefined) return [];
  const found: { pointer: string; path: string[] }[] = [];
  placeholders(impl.url, '/body/implementation/url', found);
  placeholders(impl.headers ?? {}, '/body/implementation/headers', found);
  placeholders(impl.query ?? {}, '/body/implementation/query', found);
  if (impl.body !== undefined && impl.body !== 'input') placeholders(impl.body, '/body/implementation/body', found);
  const problems: DefinitionProblem[] = [];
  for (const { pointer, path } of found) {
    if (path.length === 0) continue; // `{input}`: the whole input
    const why = undeclared(body.input, path);
    if (why) problems.push({ pointer, detail: `{input.${path.join('.')}}: ${why}` });
  }
  return problems;
}
