/**
 * The input of a compensation, mapped from the call it undoes: a JSON template (a capability's
 * `compensation.input`) whose strings may hold placeholders `{input.a.b}` (the original call's
 * input) and `{output.a.b}` (its output, as the code got it: secrets redacted). A string that is
 * exactly one placeholder becomes that value with its type (`"{output.id}"` → the number 42);
 * other strings get each value as text. Without a template the compensation's input is `{}`.
 * Checked when the capability is PUT ({@link templateProblems}); rendered when the call settles
 * (the broker keeps the result in the call's record, harness/broker/call-records.ts).
 */
import type { z } from 'zod';
import type { JsonValueSchema } from '../../protocol/json-value.ts';

type JsonValue = z.infer<typeof JsonValueSchema>;

/** A well-formed placeholder: `{input}`, `{output}`, `{input.a.b}`, `{output.a_1}`. */
const PLACEHOLDER = /\{(input|output)((?:\.[A-Za-z_][A-Za-z0-9_]*)*)\}/g;
const WHOLE = /^\{(input|output)((?:\.[A-Za-z_][A-Za-z0-9_]*)*)\}$/;
/** Anything in braces, to find the ones that are not placeholders. */
const BRACED = /\{[^{}]*\}?/g;

/** Largest template, as JSON. */
export const MAX_TEMPLATE_BYTES = 16 * 1024;

/** The template names a value the call does not have, or one that cannot go into a string. */
export class CompensationTemplateError extends Error {
  override readonly name = 'CompensationTemplateError';
}

export interface TemplateProblem {
  /** JSON Pointer below the template (`/refundId`). */
  pointer: string;
  detail: string;
}

/** What is wrong with a template's syntax (empty: nothing). */
export function templateProblems(template: JsonValue | undefined): TemplateProblem[] {
  if (template === undefined) return [];
  const problems: TemplateProblem[] = [];
  if (Buffer.byteLength(JSON.stringify(template)) > MAX_TEMPLATE_BYTES) {
    return [{ pointer: '', detail: `the template is larger than ${MAX_TEMPLATE_BYTES} bytes as JSON` }];
  }
  const walk = (value: JsonValue, pointer: string): void => {
    if (typeof value === 'string') {
      for (const m of value.matchAll(BRACED)) {
        const token = m[0];
        if (!token.endsWith('}')) {
          problems.push({ pointer, detail: `"${token.slice(0, 60)}" opens a placeholder that is never closed; write {input.<field>} or {output.<field>}` });
        } else if (!new RegExp(`^${PLACEHOLDER.source}$`).test(token)) {
          problems.push({ pointer, detail: `"${token.slice(0, 60)}" is not a placeholder; write {input.<field>} or {output.<field>} (fields: letters, digits, _)` });
        }
      }
      if (/[{}]/.test(value.replace(PLACEHOLDER, '').replace(BRACED, ''))) {
        problems.push({ pointer, detail: 'a lone "}" (braces are only for placeholders)' });
      }
    } else if (Array.isArray(value)) {
      value.forEach((v, i) => walk(v, `${pointer}/${i}`));
    } else if (value !== null && typeof value === 'object') {
      for (const [k, v] of Object.entries(value)) walk(v, `${pointer}/${k.replace(/~/g, '~0').replace(/\//g, '~1')}`);
    }
  };
  walk(template, '');
  return problems.slice(0, 20);
}

function lookup(root: 'input' | 'output', source: unknown, path: string): unknown {
  let v: unknown = source;
  for (const part of path.split('.').filter(Boolean)) {
    if (v === null || typeof v !== 'object' || Array.isArray(v) || !Object.hasOwn(v, part)) {
      throw new CompensationTemplateError(`the call's ${root} has no field ${root}${path}`);
    }
    v = (v as Record<string, unknown>)[part];
  }
  return v;
}

function asText(v: unknown, where: string): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  throw new CompensationTemplateError(`${where} must be a string, number or boolean to go into a string`);
}

/** The compensation's input for a call with this input and output. Throws {@link CompensationTemplateError}. */
export function renderCompensationInput(template: JsonValue | undefined, call: { input: unknown; output: unknown }): unknown {
  if (template === undefined) return {};
  const pick = (root: string, path: string) => lookup(root as 'input' | 'output', root === 'input' ? call.input : call.output, path);
  const render = (t: JsonValue): unknown => {
    if (typeof t === 'string') {
      const whole = WHOLE.exec(t);
      if (whole) return pick(whole[1] as string, whole[2] ?? '');
      return t.replace(PLACEHOLDER, (_m, root: string, path: string) => asText(pick(root, path), `${root}${path}`));
    }
    if (Array.isArray(t)) return t.map(render);
    if (t !== null && typeof t === 'object') return Object.fromEntries(Object.entries(t).map(([k, v]) => [k, render(v)]));
    return t;
  };
  return render(template);
}
