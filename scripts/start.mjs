// `npm start`: runs Airlock locally — a harness, one runner and the audit sealer as separate
// processes, plus a private redis-server (data under .airlock/redis) when REDIS_URL is not given.
// Sets up what is missing first (scripts/setup.mjs), prints a banner with the keys, limits and
// first calls, and owns the order of shutdown: on Ctrl-C or SIGTERM it stops the harness, the
// runner and the sealer, then Redis. Each child runs in its own process group (a terminal's
// Ctrl-C reaches only this launcher, which signals each child once) and holds an IPC channel to
// it: if the launcher dies, even by SIGKILL, the children see the channel close and stop by
// themselves. Files tasks write under /out go to .airlock/blobs (BLOB_DIR) unless BLOB_DIR is
// set. Sealed audit logs go to .airlock/audit; the sealer's signing key is generated once into
// .airlock/audit-signing-key (outside the audit directory, which the harness reads).
import { spawn } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { DEV_LIMITS, bannerLines, devAgentLimits } from './banner.mjs';
import { ROOT, startRedis, stateDir, stopRedis } from './lib.mjs';
import { createLog, eachLine } from './log.mjs';
import { describe, setup } from './setup.mjs';

/** How long the harness and the runner get to stop (the runner finishes running tasks). */
const STOP_CHILDREN_MS = 30_000;
const log = createLog();
const state = stateDir();
mkdirSync(state, { recursive: true });
// How the banner names the state directory: relative inside the checkout, else absolute.
const stateName = state.startsWith(`${ROOT}${path.sep}`) ? path.relative(ROOT, state) : state;

/** Whether `pid` is a live process whose command line contains `needle`. */
function alive(pid, needle) {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(needle);
  } catch {
    return false;
  }
}

// One `npm start` per state directory: a second would share (and, below, stop) the first's Redis.
const lockFile = path.join(state, 'start.pid');
if (existsSync(lockFile)) {
  const other = Number(readFileSync(lockFile, 'utf8'));
  if (other !== process.pid && alive(other, 'start.mjs')) {
    log.error(`npm start is already running for ${stateName} (pid ${other}); stop it first, or set AIRLOCK_STATE_DIR`);
    process.exit(1);
  }
}
writeFileSync(lockFile, String(process.pid));

const prepared = await setup({ purpose: 'start', log: createLog({ proc: 'setup', format: log.format }) });
if (!prepared.redis.ok) {
  log.error(`cannot start: ${prepared.redis.reason}`);
  rmSync(lockFile, { force: true });
  process.exit(1);
}
const [containersLine] = describe(prepared).slice(-1);
if (!prepared.containers.ok) (prepared.containers.off ? log.info : log.warn)(containersLine);

/** A key kept in the state directory: fixed by `envName`, else generated once. */
function localKey(envName, file, prefix) {
  if (process.env[envName]) return process.env[envName];
  const where = path.join(state, file);
  if (!existsSync(where)) writeFileSync(where, `${prefix}${randomBytes(24).toString('base64url')}\n`, { mode: 0o600 });
  return readFileSync(where, 'utf8').trim();
}
const devKey = localKey('AIRLOCK_DEV_API_KEY', 'dev-api-key', 'ak_dev_');
const adminKey = localKey('AIRLOCK_ADMIN_API_KEY', 'admin-api-key', 'ak_admin_');
// The key that signs task tokens, kept too: without one the harness makes one per start (and
// warns), so tokens minted before a restart stopped working.
const signingKeyFile = path.join(state, 'token-signing-key.pem');
if (!process.env.AIRLOCK_TOKEN_SIGNING_KEY && !existsSync(signingKeyFile)) {
  const { privateKey } = generateKeyPairSync('ed25519');
  writeFileSync(signingKeyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
}
const signingKey = process.env.AIRLOCK_TOKEN_SIGNING_KEY ?? readFileSync(signingKeyFile, 'utf8');
// The key that seals the credentials vault, kept too (without one the harness makes one per
// start and stored credentials become unreadable). A development key: production sets
// AIRLOCK_VAULT_KEY from its own secret store.
const vaultKeyFile = path.join(state, 'vault-key');
if (!process.env.AIRLOCK_VAULT_KEY && !existsSync(vaultKeyFile)) {
  writeFileSync(vaultKeyFile, `${randomBytes(32).toString('base64')}\n`, { mode: 0o600 });
  log.warn(`made a development vault key in ${vaultKeyFile}; in production set AIRLOCK_VAULT_KEY from a secret store`);
}
const vaultKey = process.env.AIRLOCK_VAULT_KEY ?? readFileSync(vaultKeyFile, 'utf8').trim();
const port = process.env.PORT ?? '8080';
const brokerPort = process.env.BROKER_PORT ?? '8081';
const host = process.env.HOST ?? '127.0.0.1';
const devLimits = Object.fromEntries(Object.entries(DEV_LIMITS).map(([k, v]) => [k, process.env[k] ?? v]));

const children = [];
let stopping = false;
let redis = null;
let redisUrl = process.env.REDIS_URL;
if (!redisUrl) {
  const dataDir = path.join(state, 'redis');
  const pidFile = path.join(dataDir, 'redis.pid');
  // A redis-server left by a launcher that was killed (SIGKILL): two on one AOF would corrupt it.
  if (existsSync(pidFile)) {
    const orphan = Number(readFileSync(pidFile, 'utf8'));
    if (alive(orphan, 'redis-server')) {
      log.warn(`stopping the redis-server an earlier npm start left running (pid ${orphan})`);
      process.kill(orphan, 'SIGTERM');
      for (let i = 0; i < 100 && alive(orphan, 'redis-server'); i++) await new Promise((r) => setTimeout(r, 50));
    }
  }
  // AIRLOCK_REDIS_APPENDFSYNC=always: a 201 means the task is on disk (README, "Durability").
  const appendfsync = process.env.AIRLOCK_REDIS_APPENDFSYNC || 'everysec';
  if (!['always', 'everysec'].includes(appendfsync)) {
    log.error(`AIRLOCK_REDIS_APPENDFSYNC must be always or everysec, not ${JSON.stringify(appendfsync)}`);
    process.exit(2);
  }
  redis = await startRedis({ dataDir, detached: true, pidFile, appendfsync });
  redisUrl = redis.url;
  log.info(`started redis-server at ${redisUrl} (data in ${stateName}/redis, appendfsync ${appendfsync})`);
  void redis.exited.then(({ code, signal }) => {
    if (!stopping) void stop(1, `redis-server exited (${signal ?? code})`);
  });
}

function run(name, args, env) {
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    detached: true,
  });
  eachLine(child.stdout, (line) => log.line(name, line));
  eachLine(child.stderr, (line) => log.line(name, line));
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  void exited.then(({ code, signal }) => {
    if (!stopping) void stop(1, `${name} exited (${signal ?? `code ${code}`})`);
  });
  children.push({ name, child, exited });
  return child;
}

/**
 * Stops everything, in order: the harness and the runner (SIGTERM, once; SIGKILL after
 * STOP_CHILDREN_MS), then Redis. A second Ctrl-C while stopping kills at once.
 */
async function stop(code, reason) {
  if (stopping) return;
  stopping = true;
  log.info(reason ? `${reason}; stopping everything` : 'stopping…');
  const live = children.filter(({ child }) => child.exitCode === null && child.signalCode === null);
  for (const { child } of live) child.kill('SIGTERM');
  const killer = setTimeout(() => {
    for (const { name, child } of live) {
      if (child.exitCode === null && child.signalCode === null) {
        log.warn(`${name} did not stop within ${STOP_CHILDREN_MS / 1000} s; killing it`);
        child.kill('SIGKILL');
      }
    }
  }, STOP_CHILDREN_MS);
  await Promise.all(live.map(({ exited }) => exited));
  clearTimeout(killer);
  if (redis) await stopRedis(redis);
  rmSync(lockFile, { force: true });
  log.info('stopped');
  process.exit(code);
}
// A bug in this launcher must not leave a detached Redis (or children) running with nobody to
// stop them: stop everything in order, as for Ctrl-C, and exit non-zero.
for (const event of ['uncaughtException', 'unhandledRejection']) {
  process.on(event, (err) => {
    log.error(`launcher failed: ${err?.stack ?? err}`);
    if (!stopping) void stop(1);
  });
}
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    if (!stopping) return void stop(0);
    log.warn(`${signal} again: killing everything now`);
    for (const { child } of children) child.kill('SIGKILL');
    redis?.process.kill('SIGKILL');
    rmSync(lockFile, { force: true });
    process.exit(130);
  });
}

// Harness and runner must share the blob directory (/out files): one default for both.
// The harness reads the sealer's audit directory: one default for both.
const common = {
  REDIS_URL: redisUrl,
  BLOB_DIR: process.env.BLOB_DIR ?? path.join(state, 'blobs'),
  AUDIT_DIR: process.env.AUDIT_DIR ?? path.join(state, 'audit'),
};
const sealerKey = process.env.AUDIT_SIGNING_KEY
  ? {}
  : { AUDIT_SIGNING_KEY_FILE: process.env.AUDIT_SIGNING_KEY_FILE ?? path.join(state, 'audit-signing-key') };
// --no-turbo-inline-js-wasm-calls: see harness/README.md ("Why the harness runs with
// --no-turbo-inline-js-wasm-calls").
run('harness', ['--no-turbo-inline-js-wasm-calls', '--import', 'tsx', 'harness/server.ts'], {
  ...common,
  ...devLimits,
  PORT: port,
  HOST: host,
  AIRLOCK_DEV_API_KEY: devKey,
  AIRLOCK_ADMIN_API_KEY: adminKey,
  AIRLOCK_TOKEN_SIGNING_KEY: signingKey,
  AIRLOCK_VAULT_KEY: vaultKey,
  BROKER_PORT: brokerPort,
});
run('runner', ['--no-node-snapshot', '--import', 'tsx', 'runner/worker.ts'], {
  ...common,
  BROKER_URL: process.env.BROKER_URL ?? `http://127.0.0.1:${brokerPort}`,
  // Without containers the runner serves the isolate runtimes only (and says nothing more).
  ...(prepared.containers.ok || process.env.RUNNER_BACKENDS ? {} : { RUNNER_BACKENDS: 'isolate' }),
});
run('sealer', ['--import', 'tsx', 'sealer/main.ts'], { REDIS_URL: redisUrl, AUDIT_DIR: common.AUDIT_DIR, ...sealerKey });

const base = `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}`;
// /readyz is not logged per request (harness/routes/health.ts), so polling it costs no lines.
const waitStarted = Date.now();
let nextWaitNote = 15_000;
while (!stopping) {
  let problem = 'the harness does not answer yet';
  try {
    const res = await fetch(`${base}/readyz`);
    if (res.ok) break;
    problem = (await res.json()).detail ?? problem;
  } catch {}
  if (Date.now() - waitStarted >= nextWaitNote) {
    log.warn(`not ready after ${Math.round(nextWaitNote / 1000)} s: ${problem}; still waiting (Ctrl-C stops)`);
    nextWaitNote *= 4;
  }
  await new Promise((r) => setTimeout(r, 100));
}
if (!stopping) {
  const limits = await devAgentLimits({ base, adminKey, env: { ...process.env, ...devLimits } });
  const lines = bannerLines({
    base,
    devKey,
    adminKey,
    limits,
    maxWaitSeconds: devLimits.MAX_WAIT_SECONDS,
    containers: containersLine,
    stateDirName: stateName,
  });
  log.block('ready', lines, { url: base, devApiKey: devKey, adminApiKey: adminKey, limits, maxWaitSeconds: Number(devLimits.MAX_WAIT_SECONDS), containers: prepared.containers });
}
