/**
 * A loopback TCP proxy in front of a Redis that can lose one answer: armed with a marker, it
 * passes the next command that carries the marker on to Redis (which runs it) and then cuts the
 * connection instead of forwarding Redis's reply. The client sees what a Redis crash or a network
 * cut right after a write looks like: the command ran, the answer never came. ioredis then
 * reconnects (through the proxy, which forwards again) and resends every command it had in
 * flight — the resend that the task store's scripts must recognise. Or it can lose Redis
 * altogether for a while (`down`/`up`): every connection cut, new ones refused.
 */
import net from 'node:net';
import type { AddressInfo } from 'node:net';

export interface RedisReplyCutter {
  /** `redis://127.0.0.1:<port>` of the proxy. */
  url: string;
  /** Cut the connection after the next command whose bytes contain `marker` reached Redis. */
  cutAnswerTo(marker: string): void;
  /** Cuts every connection and refuses new ones until `up()`: Redis lost, as the client sees it. */
  down(): void;
  up(): void;
  /** How many answers were cut so far. */
  readonly cuts: number;
  close(): Promise<void>;
}

export async function startRedisReplyCutter(redisPort: number, redisHost = '127.0.0.1'): Promise<RedisReplyCutter> {
  let armed: Buffer | null = null;
  let cuts = 0;
  let isDown = false;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    if (isDown) {
      client.destroy();
      return;
    }
    const upstream = net.connect(redisPort, redisHost);
    sockets.add(client).add(upstream);
    // Set when this connection carried the armed command: Redis's next bytes are its answer.
    let cutNext = false;
    const cut = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('data', (chunk: Buffer) => {
      if (armed && chunk.includes(armed)) {
        armed = null;
        cutNext = true;
      }
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      if (cutNext) {
        cuts++;
        cut();
        return;
      }
      client.write(chunk);
    });
    for (const s of [client, upstream]) {
      s.on('error', cut);
      s.on('close', () => {
        sockets.delete(s);
        cut();
      });
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `redis://127.0.0.1:${(server.address() as AddressInfo).port}`,
    cutAnswerTo(marker) {
      armed = Buffer.from(marker);
    },
    down() {
      isDown = true;
      for (const s of sockets) s.destroy();
    },
    up() {
      isDown = false;
    },
    get cuts() {
      return cuts;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
