/**
 * A private redis-server loaded with the ACL file deploy/setup.sh renders from
 * deploy/redis/users.acl.template (the compose stack's users and passwords), on a free loopback
 * port. For tests that prove each process works under its own Redis user, and nothing more.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile } from 'node:fs/promises';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface AclRedis {
  port: number;
  /** `redis://<user>:<password>@127.0.0.1:<port>` for a user of the template. */
  url(user: 'harness' | 'runner' | 'sealer' | 'admin'): string;
  stop(): void;
}

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const p = (s.address() as { port: number }).port;
  await new Promise((resolve) => s.close(resolve));
  return p;
}

export async function startAclRedis(): Promise<AclRedis> {
  const secrets = await mkdtemp(path.join(tmpdir(), 'airlock-acl-'));
  const setup = spawnSync('bash', ['deploy/setup.sh', '--secrets-dir', secrets], { cwd: ROOT, encoding: 'utf8' });
  assert.equal(setup.status, 0, setup.stderr);
  const passwords = Object.fromEntries(
    (await readFile(path.join(secrets, 'passwords.env'), 'utf8'))
      .split('\n')
      .filter((l) => /^[A-Z_]+=/.test(l))
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  ) as Record<string, string>;
  const port = await freePort();
  const server: ChildProcess = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--aclfile', path.join(secrets, 'users.acl')],
    { stdio: 'ignore' },
  );
  for (let i = 0; ; i++) {
    const up = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1', () => (s.destroy(), resolve(true)));
      s.on('error', () => resolve(false));
    });
    if (up) break;
    if (i > 200) throw new Error('redis-server did not start');
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    port,
    url: (user) => `redis://${user}:${encodeURIComponent(passwords[`${user.toUpperCase()}_REDIS_PASSWORD`] ?? '')}@127.0.0.1:${port}`,
    stop: () => void server.kill('SIGKILL'),
  };
}
