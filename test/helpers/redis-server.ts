/**
 * Test fixture: a private `redis-server` process on a free loopback port (nothing kept on disk,
 * or an AOF in a directory of the caller's, to kill and restart it on the same data),
 * for tests that need a Redis no other test writes to (e.g. the runner registry, which is one
 * key per Redis). Real Redis, not a fake.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { connect, createServer } from 'node:net';

export interface RedisServerFixture {
  readonly url: string;
  readonly port: number;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export interface RedisServerOptions {
  /** Port to listen on (e.g. to restart a server on its old port). @defaultValue a free port */
  port?: number;
  /**
   * Keep data in this directory with an append-only file (AOF) fsynced as `appendfsync` says;
   * unset: nothing is kept on disk.
   */
  aof?: { dir: string; appendfsync: 'always' | 'everysec' | 'no' };
}

/** Starts redis-server and resolves once it accepts connections. */
export async function startRedisServer(options: RedisServerOptions = {}): Promise<RedisServerFixture> {
  const port = options.port ?? (await freePort());
  const persistence = options.aof
    ? ['--dir', options.aof.dir, '--appendonly', 'yes', '--appendfsync', options.aof.appendfsync]
    : ['--appendonly', 'no'];
  const child: ChildProcess = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', ...persistence],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  const deadline = Date.now() + 10_000;
  // Ready = answers PING (not merely accepts: a server loading its AOF accepts and answers LOADING).
  while (!(await pings(port))) {
    if (child.exitCode !== null) throw new Error('redis-server exited at start (is it installed?)');
    if (Date.now() > deadline) throw new Error(`redis-server did not start on port ${port}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const gone = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await gone;
    },
  };
}

/** Whether a Redis on `port` answers PING with PONG. */
function pings(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1', () => socket.write('PING\r\n'));
    let data = '';
    socket.setTimeout(1000, () => {
      socket.destroy();
      resolve(false);
    });
    socket.on('data', (chunk) => {
      data += chunk.toString();
      if (data.includes('\r\n')) {
        socket.destroy();
        resolve(data.startsWith('+PONG'));
      }
    });
    socket.on('error', () => resolve(false));
  });
}
