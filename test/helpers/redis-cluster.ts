/**
 * Test fixture: a real Redis Cluster of three masters (no replicas) on free loopback ports,
 * started from the `redis-server` and `redis-cli` binaries on the PATH (`.ci/run` installs
 * them), in a temporary directory that is removed on stop. Nothing is faked: the cluster
 * redirects (MOVED), refuses cross-slot commands (CROSSSLOT) and refuses scripts that touch
 * undeclared keys in other slots, exactly as a managed cluster does.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';

export interface RedisClusterFixture {
  /** `redis://127.0.0.1:<port>` of each master. */
  readonly urls: readonly string[];
  readonly ports: readonly number[];
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function cli(port: number, ...args: string[]): string {
  const res = spawnSync('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args], { encoding: 'utf8' });
  return `${res.stdout ?? ''}${res.stderr ?? ''}`;
}

async function until(what: string, check: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`redis cluster: timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Starts three cluster-enabled masters, joins them and waits until every slot is served. */
export async function startRedisCluster(masters = 3): Promise<RedisClusterFixture> {
  const dir = await mkdtemp(path.join(tmpdir(), 'airlock-cluster-'));
  const ports: number[] = [];
  const children: ChildProcess[] = [];
  const stop = async () => {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await Promise.all(
      children.map((c) => (c.exitCode !== null || c.signalCode !== null ? null : new Promise((r) => c.once('exit', r)))),
    );
    await rm(dir, { recursive: true, force: true });
  };
  try {
    for (let i = 0; i < masters; i++) {
      const port = await freePort();
      const child = spawn(
        'redis-server',
        [
          '--port', String(port), '--bind', '127.0.0.1', '--cluster-enabled', 'yes',
          '--cluster-config-file', path.join(dir, `nodes-${port}.conf`), '--dir', dir,
          '--save', '', '--appendonly', 'no', '--cluster-node-timeout', '2000',
        ],
        { stdio: ['ignore', 'ignore', 'inherit'] },
      );
      ports.push(port);
      children.push(child);
    }
    for (const port of ports) await until(`node ${port}`, () => cli(port, 'PING').includes('PONG'), 10_000);
    const create = spawnSync(
      'redis-cli',
      ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '0', '--cluster-yes'],
      { encoding: 'utf8' },
    );
    if (create.status !== 0) throw new Error(`redis-cli --cluster create failed:\n${create.stdout}${create.stderr}`);
    await until(
      'cluster_state:ok on every node',
      () => ports.every((p) => cli(p, 'CLUSTER', 'INFO').includes('cluster_state:ok')),
      20_000,
    );
  } catch (err) {
    await stop();
    throw err;
  }
  return { urls: ports.map((p) => `redis://127.0.0.1:${p}`), ports, stop };
}
