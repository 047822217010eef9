/**
 * The built-in `http.request`: the code gives `{ url, method, headers, body }`; the URL must be
 * http(s), on one of the capability's `allowedHosts` (checked again on every redirect hop), and
 * the code cannot set the headers the broker owns (the credential's, the idempotency key's,
 * framing).
 */
import type { OutboundRequest } from '../outbound/guarded-request.ts';
import { TemplateInputError } from './http-connector.ts';

const RESERVED = new Set(['host', 'content-length', 'transfer-encoding', 'connection', 'authorization', 'cookie', 'proxy-authorization']);

export function buildBuiltinRequest(input: unknown, reservedHeaders: readonly string[]): OutboundRequest {
  const i = input as { url: string; method?: string; headers?: Record<string, string>; body?: string };
  let url: URL;
  try {
    url = new URL(i.url);
  } catch {
    throw new TemplateInputError('url is not an absolute URL');
  }
  const reserved = new Set([...RESERVED, ...reservedHeaders.map((h) => h.toLowerCase())]);
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(i.headers ?? {})) {
    if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,100}$/.test(k)) throw new TemplateInputError(`headers: ${JSON.stringify(k.slice(0, 100))} is not a header name`);
    if (reserved.has(k.toLowerCase())) throw new TemplateInputError(`headers: ${k} is set by the broker, not the code`);
    if (/[\r\n\0]/.test(v)) throw new TemplateInputError(`headers: ${k} must not contain CR, LF or NUL`);
    headers[k.toLowerCase()] = v;
  }
  const method = i.method ?? 'GET';
  return { url, method, headers, ...(i.body !== undefined && method !== 'GET' && method !== 'HEAD' ? { body: Buffer.from(i.body, 'utf8') } : {}) };
}
