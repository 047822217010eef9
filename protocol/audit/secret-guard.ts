/**
 * Refuses audit entries that look like they carry a secret (the log keeps entries forever and
 * shows them to auditors): field names that name a secret, and values shaped like our API keys,
 * JWTs, bearer credentials or private keys. A heuristic safety net, not a proof: producers must
 * still never pass secrets. A task's code never goes in either (`codeSha256` instead).
 */

/** Field names that may not appear anywhere in an entry. */
const SECRET_NAME =
  /^(?:secret|password|passwd|passphrase|token|access_?token|refresh_?token|id_?token|subject_?token|api_?key|private_?key|authorization|cookie|set-cookie|credential|credentials|signing_?key)$/i;
const SECRET_VALUE: readonly [RegExp, string][] = [
  [/\bak_[0-9a-f]{24}_[A-Za-z0-9_-]{16,}/, 'an API key'],
  [/\beyJ[A-Za-z0-9_-]{6,}\.eyJ[A-Za-z0-9_-]{6,}\.[A-Za-z0-9_-]*/, 'a JWT'],
  [/-----BEGIN [A-Z ]*PRIVATE KEY-----/, 'a private key'],
  [/\bBearer\s+[A-Za-z0-9._~+/=-]{8,}/i, 'a bearer credential'],
  [/\bPRIVATE\+KEY\+/, 'a note signing key'],
];

/** Where in `value` a secret seems to be (`details.apiKey: field name`), or null. */
export function findSecret(value: unknown, path = '$', depth = 0): string | null {
  const hit = scan(value, depth);
  return hit === null ? null : `${path}${hit.path}: ${hit.what}`;
}

/**
 * The scan behind findSecret. The path of a hit is built on the way back up, so a clean entry
 * (every entry, nearly) makes no path strings: every task change is scanned.
 */
function scan(value: unknown, depth: number): { path: string; what: string } | null {
  if (depth > 32) return { path: '', what: 'nested too deeply' };
  if (typeof value === 'string') {
    for (const [re, what] of SECRET_VALUE) if (re.test(value)) return { path: '', what: `looks like ${what}` };
    return null;
  }
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const hit = scan(value[i], depth + 1);
      if (hit) return { path: `[${i}]${hit.path}`, what: hit.what };
    }
    return null;
  }
  if (value !== null && typeof value === 'object') {
    for (const k of Object.keys(value)) {
      if (SECRET_NAME.test(k)) return { path: `.${k}`, what: 'field name names a secret' };
      const hit = scan((value as Record<string, unknown>)[k], depth + 1);
      if (hit) return { path: `.${k}${hit.path}`, what: hit.what };
    }
  }
  return null;
}
