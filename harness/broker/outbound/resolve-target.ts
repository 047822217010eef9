/**
 * Resolves a target once and decides whether it may be reached: every A/AAAA record must be
 * allowed (a name with one refused address is refused, or a second lookup could pick it), and
 * the connection then goes to the address checked here (the request's `lookup` returns it: no
 * second resolution that a DNS rebinding could answer differently).
 */
import { lookup as dnsLookup } from 'node:dns/promises';
import net from 'node:net';
import { refusedAddress } from './address-policy.ts';
import { isOpened, type PrivateTarget } from './private-targets.ts';

/** Resolves a name to all its addresses (stubbed in tests: no packet leaves the machine). */
export type Resolver = (hostname: string) => Promise<{ address: string; family: number }[]>;

export const systemResolver: Resolver = (hostname) => dnsLookup(hostname, { all: true, verbatim: true });

export class TargetRefusedError extends Error {
  override readonly name = 'TargetRefusedError';
}

/** The address to connect to for `hostname`:`port`; throws TargetRefusedError saying why not. */
export async function resolveTarget(
  hostname: string,
  port: number,
  resolver: Resolver,
  opened: readonly PrivateTarget[],
): Promise<{ address: string; family: 4 | 6 }> {
  const bare = hostname.replace(/^\[|\]$/g, '');
  const literal = net.isIP(bare);
  let records: { address: string; family: number }[];
  if (literal) {
    records = [{ address: bare, family: literal }];
  } else {
    try {
      records = await resolver(bare);
    } catch (err) {
      throw new TargetRefusedError(`${bare} does not resolve (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    }
    if (records.length === 0) throw new TargetRefusedError(`${bare} does not resolve`);
  }
  for (const r of records) {
    const why = refusedAddress(r.address);
    if (why && !isOpened(opened, bare, r.address, port)) {
      throw new TargetRefusedError(
        literal ? `${bare} is a ${why} address` : `${bare} resolves to ${r.address}, a ${why} address`,
      );
    }
  }
  const first = records[0] as { address: string; family: number };
  return { address: first.address, family: first.family === 6 ? 6 : 4 };
}
