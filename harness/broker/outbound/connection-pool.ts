/**
 * Keep-alive connections to targets, one undici Pool per *checked address* (and port, scheme and
 * TLS name): a pooled connection is only ever reused for a request whose target resolved, and
 * was checked, to the very address it is connected to — so reuse never bypasses the SSRF guard,
 * and a call no longer pays a TCP (and TLS) handshake each time. Idle connections close after a
 * while; `destroy` closes everything (broker shutdown).
 */
import net from 'node:net';
import { Pool } from 'undici';

const MAX_POOLS = 256;
/** Connections per checked address at most (what http.Agent's maxSockets was). */
const CONNECTIONS = 64;

/** The origin a pool connects to: the checked address itself (the request names its host). */
function addressOrigin(protocol: 'http:' | 'https:', address: string, port: number): string {
  return `${protocol}//${address.includes(':') ? `[${address}]` : address}:${port}`;
}

/**
 * A pool of connections to one checked address (undici Pool). TLS is verified against
 * `servername` (SNI and certificate), never against the address — unless the URL named an IP
 * address itself: then that is what the certificate must name (no SNI: RFC 6066 forbids it).
 */
export function addressPool(protocol: 'http:' | 'https:', address: string, port: number, servername: string, connections = CONNECTIONS): Pool {
  return new Pool(addressOrigin(protocol, address, port), {
    connections,
    keepAliveTimeout: 30_000,
    keepAliveMaxTimeout: 60_000,
    ...(protocol === 'https:' && !net.isIP(servername) ? { connect: { servername } } : {}),
  });
}

export class ConnectionPool {
  readonly #pools = new Map<string, Pool>();

  poolFor(protocol: 'http:' | 'https:', address: string, port: number, servername: string): Pool {
    const key = `${protocol}|${address}|${port}|${servername}`;
    let pool = this.#pools.get(key);
    if (pool) {
      this.#pools.delete(key);
    } else {
      pool = addressPool(protocol, address, port, servername);
      if (this.#pools.size >= MAX_POOLS) {
        const [oldest, old] = this.#pools.entries().next().value as [string, Pool];
        this.#pools.delete(oldest);
        void old.close().catch(() => undefined);
      }
    }
    this.#pools.set(key, pool);
    return pool;
  }

  destroy(): void {
    for (const pool of this.#pools.values()) void pool.destroy().catch(() => undefined);
    this.#pools.clear();
  }
}
