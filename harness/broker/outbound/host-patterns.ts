/**
 * `allowedHosts` of an `http.request` capability: `host` (default port of the scheme),
 * `host:port`, `host:*`, `*.example.com` (its subdomains, not itself), `[v6]:port`. Compared with
 * the URL's normalised host (the WHATWG parser lower-cases it and rewrites numeric IPv4
 * spellings), so `2130706433` never matches a pattern `example.com`.
 */
import { canonicalHost } from './private-targets.ts';

export function hostAllowed(patterns: readonly string[], url: URL): boolean {
  const host = canonicalHost(url.hostname);
  const port = url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80;
  return patterns.some((pattern) => {
    const m = /^(\[[^\]]+\]|[^:]+)(?::(\d+|\*))?$/.exec(pattern.trim().toLowerCase());
    if (!m) return false;
    const [, patternHost = '', patternPort] = m;
    if (patternPort === undefined ? port !== (url.protocol === 'https:' ? 443 : 80) : patternPort !== '*' && Number(patternPort) !== port) {
      return false;
    }
    if (patternHost.startsWith('*.')) return host.endsWith(patternHost.slice(1)) && host.length > patternHost.length - 1;
    return canonicalHost(patternHost) === host;
  });
}
