/**
 * A capability as an admin defines it (`PUT /v1/admin/capabilities/:name`): what it does, the
 * JSON Schemas of its input and output, its risk, timeout, per-agent rate limit, an optional
 * compensation (the capability that undoes it when the task fails: harness/rollback/), and
 * one implementation:
 * - `http`: a declarative connector. `url` is a template whose `{input.a.b}` placeholders are
 *   percent-encoded into the path or query (never the scheme, host or port: those are fixed by
 *   the admin); `headers` and `query` are templates too; `body` is `"input"` (the input as JSON)
 *   or a JSON template (a string that is exactly one placeholder becomes that input value, with
 *   its type; other strings are interpolated).
 * - `http.request`: the code gives `{ url, method, headers, body }`, limited to `allowedHosts`.
 * Either may name a vault `credential` (injected per its type) and an `idempotencyHeader`
 * (default `Idempotency-Key`; `false` for a target that cannot deduplicate: a call started and
 * never settled is then not re-run on a retried task but ends it `capability_uncertain`).
 */
import { z } from 'zod';
import { JsonValueSchema } from '../../protocol/json-value.ts';
import { CapabilityNameSchema, CapabilityRiskSchema } from '../../protocol/capability.ts';
import { CredentialNameSchema } from '../vault/credential-store.ts';

/** `{input.a.b}`: a placeholder of a template. */
export const PLACEHOLDER = /\{input((?:\.[A-Za-z_][A-Za-z0-9_]*)*)\}/g;

const HeaderNameSchema = z.string().regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,100}$/, 'must be an HTTP header name');
const NoLineBreaks = z.string().max(4096).refine((v) => !/[\r\n\0]/.test(v), 'must not contain CR, LF or NUL');
/** A JSON Schema: an object (its validity is checked by Ajv on PUT). */
const JsonSchemaSchema = z.record(z.string(), JsonValueSchema);

/** `host` or `host:port` (port `*` = any), `*.example.com` for its subdomains. */
export const HostPatternSchema = z
  .string()
  .max(300)
  .regex(/^(\*\.)?[A-Za-z0-9.-]+(:(\d{1,5}|\*))?$|^\[[0-9A-Fa-f:.]+\](:(\d{1,5}|\*))?$/, 'must be host, host:port, *.domain or [v6]:port');

export const IdempotencyHeaderSchema = z.union([HeaderNameSchema, z.literal(false)]);

export const HttpConnectorSchema = z.strictObject({
  type: z.literal('http'),
  method: z.enum(['GET', 'POST', 'PUT', 'PATCH', 'DELETE']),
  url: z
    .string()
    .max(4096)
    .refine(fixedOrigin, 'must be an absolute http(s) URL whose scheme, host and port contain no placeholder'),
  headers: z.record(HeaderNameSchema, NoLineBreaks).optional(),
  query: z.record(z.string().min(1).max(200), z.string().max(4096)).optional(),
  body: z.union([z.literal('input'), JsonValueSchema]).optional(),
  credential: CredentialNameSchema.optional(),
  idempotencyHeader: IdempotencyHeaderSchema.optional(),
});
export type HttpConnector = z.infer<typeof HttpConnectorSchema>;

export const HttpRequestBuiltinSchema = z.strictObject({
  type: z.literal('http.request'),
  allowedHosts: z.array(HostPatternSchema).min(1).max(100),
  credential: CredentialNameSchema.optional(),
  idempotencyHeader: IdempotencyHeaderSchema.optional(),
});
export type HttpRequestBuiltin = z.infer<typeof HttpRequestBuiltinSchema>;

export const ImplementationSchema = z.discriminatedUnion('type', [HttpConnectorSchema, HttpRequestBuiltinSchema]);
export type Implementation = z.infer<typeof ImplementationSchema>;

/** The input schema of every `http.request` capability (when the admin gives none). */
export const HTTP_REQUEST_INPUT_SCHEMA = {
  type: 'object',
  required: ['url'],
  additionalProperties: false,
  properties: {
    url: { type: 'string', maxLength: 8192 },
    method: { enum: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'] },
    headers: { type: 'object', additionalProperties: { type: 'string' } },
    body: { type: 'string' },
  },
} as const;

export const CapabilityBodySchema = z.strictObject({
  description: z.string().min(1).max(2000),
  /** JSON Schema (2020-12) of the input: a `type: "object"` schema (inputs are named arguments). */
  input: JsonSchemaSchema.optional(),
  /** JSON Schema of the output; the call fails `capability_failed` when the target's answer does not match. */
  output: JsonSchemaSchema.optional(),
  risk: CapabilityRiskSchema,
  timeoutMs: z.number().int().min(1).max(300_000).default(10_000),
  /** Calls per minute per agent (every agent of the tenant has its own budget). */
  rateLimit: z.strictObject({ perMinute: z.number().int().min(1).max(1_000_000) }).optional(),
  /**
   * The capability that undoes a completed call of this one when its task ends `failed`,
   * `timed_out` or `cancelled` (harness/rollback/), and its input: a JSON template whose
   * `{input.x}` and `{output.x}` placeholders take the original call's input and output (a
   * string that is exactly one placeholder keeps the value's type). Absent input: `{}`.
   */
  compensation: z
    .strictObject({ capability: CapabilityNameSchema, input: JsonValueSchema.optional() })
    .optional(),
  implementation: ImplementationSchema,
});
export type CapabilityBody = z.infer<typeof CapabilityBodySchema>;

/** A stored capability. */
export const CapabilitySchema = CapabilityBodySchema.extend({
  name: CapabilityNameSchema,
  input: JsonSchemaSchema,
  createdAt: z.string(),
  updatedAt: z.string(),
});
export type Capability = z.infer<typeof CapabilitySchema>;

/**
 * True when the template's scheme, host and port are fixed: no placeholder before the path
 * starts, and it parses as an absolute http(s) URL once placeholders are filled.
 */
function fixedOrigin(template: string): boolean {
  const first = template.search(/\{/);
  const head = first === -1 ? template : template.slice(0, first);
  if (first !== -1 && !/^https?:\/\/[^/?#{}@]+[/?]/.test(head)) return false;
  try {
    const url = new URL(template.replace(PLACEHOLDER, 'x'));
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.username === '' && url.password === '';
  } catch {
    return false;
  }
}

/** The header the call key goes in, or null when the capability has none. */
export function idempotencyHeaderOf(implementation: Implementation): string | null {
  const h = implementation.idempotencyHeader;
  return h === false ? null : (h ?? 'Idempotency-Key');
}
