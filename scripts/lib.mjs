// Helpers for the start, set-up and test scripts. Plain JavaScript with no dependencies, because
// these scripts run before `npm install` has.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, readFileSync, readlinkSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Where `npm start` keeps its keys, Redis data and set-up notes (AIRLOCK_STATE_DIR). */
export function stateDir() {
  return path.resolve(process.env.AIRLOCK_STATE_DIR ?? path.join(ROOT, '.airlock'));
}

function readJson(file) {
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    return null;
  }
}

/**
 * Whether node_modules holds exactly what package-lock.json pins: every locked package is in
 * npm's record of what it installed (node_modules/.package-lock.json) at the same version,
 * except optional ones npm leaves out on this platform. Compares contents, not modification
 * times: a checkout rewrites package-lock.json with a new mtime and no change.
 */
export function depsUpToDate() {
  const installed = readJson(path.join(ROOT, 'node_modules', '.package-lock.json'))?.packages;
  const locked = readJson(path.join(ROOT, 'package-lock.json'))?.packages;
  if (!installed) return false;
  if (!locked) return true;
  for (const [where, entry] of Object.entries(locked)) {
    if (where === '') continue;
    const got = installed[where];
    if (!got) {
      if (entry.optional) continue;
      return false;
    }
    if (got.version !== entry.version) return false;
  }
  return true;
}

/**
 * Installs npm dependencies when node_modules does not match package-lock.json. `npm ci` first;
 * if it refuses the lock file for lacking other platforms' optional packages (darwin/win32
 * builds of msgpackr-extract, unrs-resolver, which some npm mirrors do not serve, so `npm
 * install` cannot record them), `npm install`, which still installs exactly the versions the
 * lock file pins for this platform. Exits the process on failure.
 */
export function ensureDeps(log = { info: console.log, error: console.error }) {
  if (depsUpToDate()) return;
  const modules = path.join(ROOT, 'node_modules');
  if (existsSync(modules) && lstatSync(modules).isSymbolicLink()) {
    // `npm ci` empties node_modules first — through the link, another checkout's.
    log.error(
      `node_modules is a link to ${readlinkSync(modules)} and does not match package-lock.json; ` +
        'not reinstalling through the link: run `npm ci` where it points, or replace the link',
    );
    process.exit(1);
  }
  log.info('installing npm dependencies (npm ci)…');
  const ci = spawnSync('npm', ['ci', '--no-audit', '--no-fund'], { cwd: ROOT, stdio: ['ignore', 'inherit', 'pipe'], encoding: 'utf8' });
  if (ci.status === 0) return;
  if (!/Missing: /.test(ci.stderr ?? '')) {
    process.stderr.write(ci.stderr ?? '');
    log.error('npm ci failed; see the output above.');
    process.exit(ci.status ?? 1);
  }
  const missing = (ci.stderr.match(/Missing: /g) ?? []).length;
  log.info(`npm ci refused the lock file (${missing} packages of other platforms missing); installing the locked versions with npm install`);
  const install = spawnSync('npm', ['install', '--no-audit', '--no-fund'], { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'] });
  if (install.status !== 0) {
    log.error('npm install failed; see the output above.');
    process.exit(install.status ?? 1);
  }
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
 * unset = nothing kept on disk. `detached`: in its own process group, so a Ctrl-C in the
 * terminal does not stop it before what uses it (the caller stops it, last: `stopRedis`).
 * `pidFile`: where redis-server writes its pid. `appendfsync` (with `dataDir`): when the AOF is
 * fsynced, `everysec` (default) or `always` (a 201 means the task is on disk; README,
 * "Durability"). Resolves with { url, process, exited } once it answers PING; `exited` resolves
 * when it has exited (also if it already had).
 */
export async function startRedis({ dataDir, detached = false, pidFile, appendfsync = 'everysec' } = {}) {
  if (!hasBinary('redis-server')) throw new Error(REDIS_INSTALL_HINT);
  const port = await freePort();
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', ''];
  if (dataDir) {
    mkdirSync(dataDir, { recursive: true });
    args.push('--dir', dataDir, '--appendonly', 'yes', '--appendfsync', appendfsync);
  } else {
    args.push('--appendonly', 'no');
  }
  if (pidFile) args.push('--pidfile', pidFile);
  const child = spawn('redis-server', args, { stdio: ['ignore', 'ignore', 'inherit'], detached });
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const url = `redis://127.0.0.1:${port}`;
  for (let i = 0; i < 100; i++) {
    if (await redisPing(url, 200)) return { url, process: child, exited };
    if (child.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill('SIGKILL');
  throw new Error(`redis-server did not start on port ${port}`);
}

/** Stops a redis-server from `startRedis`: SIGTERM, then SIGKILL after `timeoutMs`. */
export async function stopRedis(redis, timeoutMs = 5000) {
  if (redis.process.exitCode === null && redis.process.signalCode === null) redis.process.kill('SIGTERM');
  const timer = setTimeout(() => redis.process.kill('SIGKILL'), timeoutMs);
  await redis.exited;
  clearTimeout(timer);
}
