/**
 * Keep-alive connections to targets, one agent per *checked address* (and port, scheme and TLS
 * name): a pooled socket is only ever reused for a request whose target resolved, and was
 * checked, to the very address it is connected to — so reuse never bypasses the SSRF guard, and
 * a call no longer pays a TCP (and TLS) handshake each time. Idle sockets close after a while;
 * `destroy` closes everything (broker shutdown).
 */
import http from 'node:http';
import https from 'node:https';

const MAX_AGENTS = 256;

export class ConnectionPool {
  readonly #agents = new Map<string, http.Agent>();

  agentFor(protocol: 'http:' | 'https:', address: string, port: number, servername: string): http.Agent {
    const key = `${protocol}|${address}|${port}|${servername}`;
    let agent = this.#agents.get(key);
    if (agent) {
      this.#agents.delete(key);
    } else {
      const options = { keepAlive: true, keepAliveMsecs: 1000, maxSockets: 64, maxFreeSockets: 8, timeout: 60_000 };
      agent = protocol === 'https:' ? new https.Agent(options) : new http.Agent(options);
      if (this.#agents.size >= MAX_AGENTS) {
        const [oldest, old] = this.#agents.entries().next().value as [string, http.Agent];
        this.#agents.delete(oldest);
        old.destroy();
      }
    }
    this.#agents.set(key, agent);
    return agent;
  }

  destroy(): void {
    for (const agent of this.#agents.values()) agent.destroy();
    this.#agents.clear();
  }
}
