/**
 * Secrets stay secret: the credential value a call used — and the forms it takes on the wire
 * (base64 and base64url, as in `Authorization: Basic`; percent- and form-encoded, as in a query
 * string) — is replaced by `[REDACTED]` wherever it would reach the code or a person: the
 * output (a target may echo it), error messages, and so the call record and the audit log.
 */
export const REDACTED = '[REDACTED]';

/** Values shorter than this are not searched for (they would match by chance). */
const MIN_SECRET_CHARS = 4;

export function secretForms(value: string): string[] {
  const b64 = Buffer.from(value, 'utf8').toString('base64');
  const forms = [
    value,
    b64,
    b64.replace(/=+$/, ''),
    Buffer.from(value, 'utf8').toString('base64url'),
    encodeURIComponent(value),
    new URLSearchParams({ v: value }).toString().slice(2),
    JSON.stringify(value).slice(1, -1),
  ];
  return [...new Set(forms)].filter((f) => f.length >= MIN_SECRET_CHARS).sort((a, b) => b.length - a.length);
}

export class Redactor {
  readonly #forms: string[];

  constructor(secrets: readonly string[]) {
    this.#forms = [...new Set(secrets.flatMap(secretForms))].sort((a, b) => b.length - a.length);
  }

  get empty(): boolean {
    return this.#forms.length === 0;
  }

  text(s: string): string {
    let out = s;
    for (const f of this.#forms) if (out.includes(f)) out = out.split(f).join(REDACTED);
    return out;
  }

  /** A JSON value with every string (keys included) redacted. */
  value(v: unknown, depth = 0): unknown {
    if (this.empty) return v;
    if (typeof v === 'string') return this.text(v);
    if (depth > 64 || v === null || typeof v !== 'object') return v;
    if (Array.isArray(v)) return v.map((x) => this.value(x, depth + 1));
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[this.text(k)] = this.value(x, depth + 1);
    return out;
  }
}
