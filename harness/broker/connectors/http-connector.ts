/**
 * The declarative `http` connector: builds the request an admin described from the call's
 * input. Placeholders `{input.a.b}` are percent-encoded into the URL (so an input cannot add a
 * path segment, a query parameter or change the host), put as text into headers and query
 * values, and into a body template either as the value itself (a string that is exactly one
 * placeholder) or as text.
 */
import type { HttpConnector } from '../../capabilities/definition.ts';
import { PLACEHOLDER } from '../../capabilities/definition.ts';
import type { OutboundRequest } from '../outbound/guarded-request.ts';

/** An input field a template names is missing, or not a value that can be put there. */
export class TemplateInputError extends Error {
  override readonly name = 'TemplateInputError';
}

function lookup(input: unknown, path: string): unknown {
  let v: unknown = input;
  for (const part of path.split('.').filter(Boolean)) {
    if (v === null || typeof v !== 'object' || !Object.hasOwn(v, part)) throw new TemplateInputError(`the input has no field input${path}`);
    v = (v as Record<string, unknown>)[part];
  }
  return v;
}

function asText(v: unknown, path: string): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  throw new TemplateInputError(`input${path} must be a string, number or boolean to go into the request`);
}

function fill(template: string, input: unknown, encode: (s: string) => string): string {
  return template.replace(PLACEHOLDER, (_m, path: string) => encode(asText(lookup(input, path), path)));
}

function fillJson(template: unknown, input: unknown): unknown {
  if (typeof template === 'string') {
    const whole = /^\{input((?:\.[A-Za-z_][A-Za-z0-9_]*)*)\}$/.exec(template);
    if (whole) return lookup(input, whole[1] ?? '');
    return fill(template, input, (s) => s);
  }
  if (Array.isArray(template)) return template.map((t) => fillJson(t, input));
  if (template && typeof template === 'object') {
    return Object.fromEntries(Object.entries(template).map(([k, v]) => [k, fillJson(v, input)]));
  }
  return template;
}

export function buildConnectorRequest(connector: HttpConnector, input: unknown): OutboundRequest {
  const url = new URL(fill(connector.url, input, encodeURIComponent));
  for (const [k, v] of Object.entries(connector.query ?? {})) url.searchParams.set(k, fill(v, input, (s) => s));
  const headers: Record<string, string> = { accept: 'application/json' };
  for (const [k, v] of Object.entries(connector.headers ?? {})) {
    const value = fill(v, input, (s) => s);
    if (/[\r\n\0]/.test(value)) throw new TemplateInputError(`header ${k}: the input must not put CR, LF or NUL into a header`);
    headers[k.toLowerCase()] = value;
  }
  let body: Buffer | undefined;
  if (connector.body !== undefined && connector.method !== 'GET') {
    const json = connector.body === 'input' ? input : fillJson(connector.body, input);
    body = Buffer.from(JSON.stringify(json ?? null), 'utf8');
    headers['content-type'] = 'application/json';
  }
  return { url, method: connector.method, headers, ...(body ? { body } : {}) };
}
