/**
 * The operator's openings (`CAPABILITY_PRIVATE_TARGETS=host:port,…`): internal targets a
 * capability call may reach although their address is refused. An entry names a host (an IP
 * address, or a name whose resolved addresses are then allowed) and one port; nothing else
 * about the target is opened. Set by the operator's environment, never by a tenant admin.
 */
import { addressBytes } from './address-policy.ts';

export interface PrivateTarget {
  /** Lower-case name, or the address in canonical form (IPv6 without brackets). */
  host: string;
  port: number;
}

export function parsePrivateTargets(entries: readonly string[]): PrivateTarget[] {
  return entries.map((entry) => {
    const m = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(entry.trim());
    const port = m ? Number(m[2]) : NaN;
    if (!m || !(port >= 1 && port <= 65535)) {
      throw new Error(`CAPABILITY_PRIVATE_TARGETS: ${JSON.stringify(entry)} is not host:port (IPv6 as [addr]:port)`);
    }
    return { host: canonicalHost(m[1] as string), port };
  });
}

/** A host as compared here: lower case, IPv6 without brackets and in one spelling. */
export function canonicalHost(host: string): string {
  const h = host.toLowerCase().replace(/^\[|\]$/g, '');
  const bytes = addressBytes(h);
  if (!bytes || bytes.length === 4) return h;
  const words: string[] = [];
  for (let i = 0; i < 16; i += 2) words.push((((bytes[i] as number) << 8) | (bytes[i + 1] as number)).toString(16));
  return words.join(':');
}

/** Whether a connection to `address`:`port`, for a URL naming `hostname`, was opened by the operator. */
export function isOpened(targets: readonly PrivateTarget[], hostname: string, address: string, port: number): boolean {
  const name = canonicalHost(hostname);
  const addr = canonicalHost(address);
  return targets.some((t) => t.port === port && (t.host === name || t.host === addr));
}
