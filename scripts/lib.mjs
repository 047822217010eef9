// Helpers for the start and test scripts. Plain JavaScript with no dependencies, because these
// scripts run before `npm install` has.
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/**
 * Installs npm dependencies when node_modules is missing or was installed from another
 * package-lock.json (compared by content, not mtime: a fresh checkout or worktree has a newer
 * lock file with the same content). A node_modules that is a symlink is someone else's (a shared
 * install, e.g. a second worktree) and is never reinstalled from here: `npm ci` would empty it.
 */
export function ensureDeps() {
  const modules = path.join(ROOT, 'node_modules');
  const lock = path.join(ROOT, 'package-lock.json');
  const stamp = path.join(modules, '.airlock-lock-sha256');
  if (existsSync(modules) && lstatSync(modules).isSymbolicLink()) return;
  const want = existsSync(lock) ? createHash('sha256').update(readFileSync(lock)).digest('hex') : 'no-lock';
  const have = existsSync(stamp) ? readFileSync(stamp, 'utf8').trim() : legacyStamp(modules, lock, want);
  if (have === want) return;
  console.log('[airlock] installing npm dependencies (first run)…');
  const ci = existsSync(lock) ? ['ci'] : ['install'];
  const res = spawnSync('npm', [...ci, '--no-audit', '--no-fund'], { cwd: ROOT, stdio: 'inherit' });
  if (res.status !== 0) {
    console.error('[airlock] npm install failed; see the output above.');
    process.exit(res.status ?? 1);
  }
  writeFileSync(stamp, `${want}\n`);
}

/** Installs made before the stamp existed: fresh when npm's own marker is newer than the lock. */
function legacyStamp(modules, lock, want) {
  const marker = path.join(modules, '.package-lock.json');
  const fresh = existsSync(marker) && (!existsSync(lock) || statSync(marker).mtimeMs >= statSync(lock).mtimeMs);
  if (fresh) writeFileSync(path.join(modules, '.airlock-lock-sha256'), `${want}\n`);
  return fresh ? want : null;
}

/** A TCP port nobody listens on right now, on 127.0.0.1. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** True when a Redis at `url` answers PING within `timeoutMs`. */
export function redisPing(url, timeoutMs = 1000) {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = net.connect({ host: hostname || '127.0.0.1', port: Number(port || 6379) });
    const done = (ok) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.on('error', () => done(false));
    socket.on('connect', () => socket.write('PING\r\n'));
    socket.on('data', (d) => done(d.toString().startsWith('+PONG') || d.toString().includes('NOAUTH')));
  });
}

export function hasBinary(name) {
  return spawnSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' }).status === 0;
}

export const REDIS_INSTALL_HINT =
  'Airlock needs Redis 7+. Install it (Debian/Ubuntu: `sudo apt-get install redis-server`; ' +
  'macOS: `brew install redis`) or point REDIS_URL at an existing Redis.';

/**
 * Starts a private redis-server on a free loopback port. `dataDir` set = AOF persistence there;
 * unset = nothing kept on disk. Resolves with { url, process } once it answers PING.
 */
export async function startRedis({ dataDir } = {}) {
  if (!hasBinary('redis-server')) throw new Error(REDIS_INSTALL_HINT);
  const port = await freePort();
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', ''];
  if (dataDir) {
    mkdirSync(dataDir, { recursive: true });
    args.push('--dir', dataDir, '--appendonly', 'yes');
  } else {
    args.push('--appendonly', 'no');
  }
  const child = spawn('redis-server', args, { stdio: ['ignore', 'ignore', 'inherit'] });
  const url = `redis://127.0.0.1:${port}`;
  for (let i = 0; i < 100; i++) {
    if (await redisPing(url, 200)) return { url, process: child };
    if (child.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill('SIGKILL');
  throw new Error(`redis-server did not start on port ${port}`);
}
