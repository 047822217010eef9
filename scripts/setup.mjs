// Set-up shared by `npm start`, `npm test` and CI (.ci/run): makes sure what Airlock needs is on
// this machine, installing what is missing through the project's own scripts, and says plainly
// what it skipped and why. Idempotent: what is there already is left alone, so a later run
// installs nothing.
//
//   npm dependencies   scripts/lib.mjs ensureDeps (npm ci)
//   redis-server       Debian's redis-server package (apt-get), unless REDIS_URL is set
//   Docker engine      scripts/ensure-docker.sh (Debian's docker.io, dockerd started)
//   sandbox images     images/build.sh (offline debootstrap build, 1-2 min the first time)
//   docker compose     deploy/ensure-compose.sh (tests only: the compose stack test)
//   Python SDK deps    Debian's python3-httpx and python3-pytest (apt-get; tests only: the
//                      Python SDK's tests, test/integration/sdk-python.test.ts)
//   Chromium           Debian's chromium (apt-get; tests only: the console's browser tests,
//                      test/integration/console-browser.test.ts, drive it with playwright-core)
//
// Containers are optional outside CI: where Docker cannot run (no root, inside an unprivileged
// container, not Linux) or installing it failed, Airlock runs JavaScript and TypeScript only and
// the summary says how to enable containers. A failed Docker install is remembered in the state
// directory and not retried on every start: `npm run setup` tries again.
//
// Environment: AIRLOCK_NO_INSTALL=1 installs nothing (reports what is missing); REDIS_URL (a
// Redis of your own: no redis-server needed); RUNNER_BACKENDS without `docker` (no containers
// wanted); AIRLOCK_STATE_DIR (default .airlock).
//
//   node scripts/setup.mjs [--for=start|test|ci] [--retry]     (npm run setup = --retry)
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { ROOT, ensureDeps, hasBinary, stateDir } from './lib.mjs';
import { createLog, eachLine } from './log.mjs';

export const CONTAINERS_HINT = 'sudo bash scripts/ensure-docker.sh && sudo bash images/build.sh (or: npm run setup)';
const RUNTIMES = ['python', 'node', 'bash'];
/** A step silent for this long gets a "still …" line, so a long install never looks stuck. */
const QUIET_STEP_MS = 15_000;

/**
 * @typedef {{ ok: boolean, reason?: string, off?: boolean }} Outcome
 * @typedef {{ redis: Outcome, containers: Outcome, python: Outcome, chromium: Outcome, installed: string[] }} SetupResult
 */

/**
 * Runs the set-up. `purpose`: `start` (Redis, containers), `test` (also docker compose) or `ci`
 * (like test; nothing is optional there). `install`: false = report only. `retry`: try a Docker
 * install that failed before. `haveRedis`: a Redis is at hand (REDIS_URL, or one answering for
 * the tests), so redis-server is not needed. Never throws for a missing piece: the result says what is missing
 * and why (`ok: false`, `reason`); the caller decides whether that is fatal.
 * @returns {Promise<SetupResult>}
 */
export async function setup({
  purpose = 'start',
  install = process.env.AIRLOCK_NO_INSTALL !== '1',
  retry = false,
  haveRedis = Boolean(process.env.REDIS_URL),
  log = createLog({ proc: 'setup' }),
} = {}) {
  const installed = [];
  const state = stateDir();
  mkdirSync(state, { recursive: true });
  ensureDeps(log);

  const redis = haveRedis ? { ok: true } : await ensureRedis({ install, log, installed });
  const wantContainers = (process.env.RUNNER_BACKENDS ?? 'isolate,docker').split(',').map((s) => s.trim()).includes('docker');
  const containers = wantContainers
    ? await ensureContainers({ install, retry, log, installed, state, compose: purpose !== 'start' })
    : { ok: false, off: true, reason: 'RUNNER_BACKENDS does not list docker' };
  // Only the tests need Python (`npm start` does not): the SDK's dependency and test runner.
  const python = purpose === 'start' ? { ok: true, off: true } : await ensurePythonSdkDeps({ install, log, installed });
  // Only the tests need a browser: the console's tests run it headless.
  const chromium = purpose === 'start' ? { ok: true, off: true } : await ensureChromium({ install, log, installed });
  if (installed.length > 0) log.info(`set-up installed: ${installed.join(', ')}`);
  return { redis, containers, python, chromium, installed };
}

/** The command prefix that makes us root: none (we are), `sudo -n`, or null (cannot). */
function rootPrefix() {
  if (process.getuid?.() === 0) return [];
  if (hasBinary('sudo') && spawnSync('sudo', ['-n', 'true'], { stdio: 'ignore' }).status === 0) return ['sudo', '-n'];
  return null;
}

/**
 * Runs a command, every output line into the log under `proc`, with a "still …" line when it
 * is quiet for long. Resolves with its exit code (null if it could not start).
 */
function step(log, what, cmd, args, { proc = 'setup', env = {}, quiet: hush = false } = {}) {
  return new Promise((resolve) => {
    const started = Date.now();
    let last = Date.now();
    const child = spawn(cmd, args, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    // `quiet`: a check that is usually a no-op keeps its lines to itself unless it fails or
    // turns out to be real work (runs longer than QUIET_STEP_MS).
    let held = hush ? [] : null;
    const onLine = (line) => {
      last = Date.now();
      if (held && Date.now() - started < QUIET_STEP_MS) return void held.push(line);
      if (held) for (const l of held.splice(0)) log.line(proc, l);
      held = null;
      log.line(proc, line);
    };
    eachLine(child.stdout, onLine);
    eachLine(child.stderr, onLine);
    const quiet = setInterval(() => {
      if (Date.now() - last >= QUIET_STEP_MS) {
        last = Date.now();
        log.info(`still ${what}… (${Math.round((Date.now() - started) / 1000)} s)`);
      }
    }, 1000);
    child.on('error', (err) => log.error(`${cmd}: ${err.message}`));
    child.on('close', (code) => {
      clearInterval(quiet);
      if (held && code !== 0) for (const l of held) log.line(proc, l);
      resolve(code);
    });
  });
}

/** apt-get install, with one `apt-get update` and a retry if the package lists are missing or stale. */
async function aptInstall(log, prefix, packages) {
  const [cmd, ...before] = [...prefix, 'apt-get'];
  const run = (args) =>
    step(log, `installing ${packages.join(' ')}`, cmd, [...before, ...args], { proc: 'apt', env: { DEBIAN_FRONTEND: 'noninteractive' } });
  const installArgs = ['install', '-y', '-q', '--no-install-recommends', ...packages];
  if ((await run(installArgs)) === 0) return true;
  log.info('updating the package lists (apt-get update)…');
  if ((await run(['update', '-q'])) !== 0) return false;
  return (await run(installArgs)) === 0;
}

/** redis-server on the PATH, installed from Debian's packages if missing. */
async function ensureRedis({ install, log, installed }) {
  if (hasBinary('redis-server')) return { ok: true };
  const how = 'install it (Debian/Ubuntu: sudo apt-get install redis-server; macOS: brew install redis) or set REDIS_URL to a Redis of yours';
  if (!install) return { ok: false, reason: `redis-server is not installed and AIRLOCK_NO_INSTALL=1: ${how}` };
  const prefix = rootPrefix();
  if (prefix === null) return { ok: false, reason: `redis-server is not installed and installing needs root (or passwordless sudo): ${how}` };
  if (!hasBinary('apt-get')) return { ok: false, reason: `redis-server is not installed and this is not a Debian-like system: ${how}` };
  log.info("installing redis-server from Debian's packages (apt-get)…");
  if (!(await aptInstall(log, prefix, ['redis-server'])) || !hasBinary('redis-server')) {
    return { ok: false, reason: `installing redis-server failed (see the apt output above): ${how}` };
  }
  installed.push('redis-server');
  return { ok: true };
}

/** Debian's packages the Python SDK (clients/python) needs to be tested. */
export const PYTHON_SDK_PACKAGES = ['python3-httpx', 'python3-pytest'];

/**
 * The first Python that imports httpx and pytest: $PYTHON if set, else `python3`, else
 * /usr/bin/python3 (Debian's packages serve the system Python, which a pyenv or venv `python3`
 * earlier on the PATH hides). Null if none does. test/integration/sdk-python.test.ts looks the same way.
 */
export function pythonWithSdkDeps() {
  const candidates = process.env.PYTHON ? [process.env.PYTHON] : ['python3', '/usr/bin/python3'];
  return candidates.find((py) => spawnSync(py, ['-c', 'import httpx, pytest'], { stdio: 'ignore', timeout: 20_000 }).status === 0) ?? null;
}

/** python3-httpx and python3-pytest from Debian's packages, unless some Python has them already. */
async function ensurePythonSdkDeps({ install, log, installed }) {
  if (pythonWithSdkDeps()) return { ok: true };
  const how = `install them (Debian/Ubuntu: sudo apt-get install ${PYTHON_SDK_PACKAGES.join(' ')}) or set PYTHON to a Python that has httpx and pytest`;
  if (!install) return { ok: false, reason: `no Python with httpx and pytest, and AIRLOCK_NO_INSTALL=1: ${how}` };
  const prefix = rootPrefix();
  if (prefix === null) return { ok: false, reason: `no Python with httpx and pytest, and installing them needs root (or passwordless sudo): ${how}` };
  if (!hasBinary('apt-get')) return { ok: false, reason: `no Python with httpx and pytest, and this is not a Debian-like system: ${how}` };
  log.info(`installing ${PYTHON_SDK_PACKAGES.join(' ')} from Debian's packages (apt-get) for the Python SDK's tests…`);
  if (!(await aptInstall(log, prefix, PYTHON_SDK_PACKAGES)) || !pythonWithSdkDeps()) {
    return { ok: false, reason: `installing ${PYTHON_SDK_PACKAGES.join(' ')} failed (see the apt output above): ${how}` };
  }
  installed.push(...PYTHON_SDK_PACKAGES);
  return { ok: true };
}

/** Where the console's browser tests look for Chromium (CHROMIUM_PATH overrides, as in the test). */
export const chromiumPath = () => process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Debian's chromium (headless browser for test/integration/console-browser.test.ts), unless there is one. */
async function ensureChromium({ install, log, installed }) {
  if (existsSync(chromiumPath())) return { ok: true };
  const how = `install it (Debian/Ubuntu: sudo apt-get install chromium) or set CHROMIUM_PATH to a Chromium or Chrome binary`;
  if (!install) return { ok: false, reason: `no Chromium at ${chromiumPath()}, and AIRLOCK_NO_INSTALL=1: ${how}` };
  const prefix = rootPrefix();
  if (prefix === null) return { ok: false, reason: `no Chromium at ${chromiumPath()}, and installing it needs root (or passwordless sudo): ${how}` };
  if (!hasBinary('apt-get')) return { ok: false, reason: `no Chromium at ${chromiumPath()}, and this is not a Debian-like system: ${how}` };
  log.info("installing chromium from Debian's packages (apt-get) for the console's browser tests…");
  if (!(await aptInstall(log, prefix, ['chromium'])) || !existsSync(chromiumPath())) {
    return { ok: false, reason: `installing chromium failed (see the apt output above): ${how}` };
  }
  installed.push('chromium');
  return { ok: true };
}

/** Runs docker (through sudo when that is how we reach the engine). */
function docker(args) {
  const direct = spawnSync('docker', args, { stdio: 'ignore', timeout: 20_000 });
  if (direct.status === 0) return true;
  const prefix = rootPrefix();
  return prefix !== null && prefix.length > 0 && spawnSync(prefix[0], [...prefix.slice(1), 'docker', ...args], { stdio: 'ignore', timeout: 20_000 }).status === 0;
}

/**
 * Why no Docker engine can be installed and started here, or null when one can: Linux, root
 * (or passwordless sudo), and CAP_SYS_ADMIN in the bounding set (missing inside an unprivileged
 * container, where dockerd cannot mount or make cgroups).
 */
function dockerCannotRun() {
  if (process.platform !== 'linux') return `this is ${process.platform}, not Linux: install Docker yourself`;
  if (rootPrefix() === null) return 'installing and starting a Docker engine needs root (or passwordless sudo)';
  let bounding = 0n;
  try {
    const line = readFileSync('/proc/self/status', 'utf8').split('\n').find((l) => l.startsWith('CapBnd:'));
    bounding = BigInt(`0x${line?.split(/\s+/)[1] ?? '0'}`);
  } catch {
    return 'cannot read /proc/self/status';
  }
  const CAP_SYS_ADMIN = 21n;
  if (((bounding >> CAP_SYS_ADMIN) & 1n) === 0n) {
    return 'this machine cannot run a Docker engine (no CAP_SYS_ADMIN: an unprivileged container?)';
  }
  return null;
}

/** Docker engine, sandbox images and (for tests) docker compose. */
async function ensureContainers({ install, retry, log, installed, state, compose }) {
  const failedMarker = path.join(state, 'setup-containers-failed');
  if (retry) rmSync(failedMarker, { force: true });
  const unavailable = (reason, remember = false) => {
    if (remember) writeFileSync(failedMarker, `${new Date().toISOString()} ${reason}\n`);
    return { ok: false, reason };
  };
  if (!docker(['info'])) {
    if (!install) return unavailable('no Docker engine answers, and AIRLOCK_NO_INSTALL=1');
    const cannot = dockerCannotRun();
    if (cannot) return unavailable(cannot);
    if (existsSync(failedMarker)) {
      return unavailable(`an earlier attempt to set up Docker failed (${readFileSync(failedMarker, 'utf8').trim()}); not retried on every start`);
    }
    log.info('setting up the Docker engine (scripts/ensure-docker.sh: installs docker.io if missing, starts dockerd)…');
    if ((await step(log, 'setting up the Docker engine', 'bash', ['scripts/ensure-docker.sh'], { proc: 'docker' })) !== 0 || !docker(['info'])) {
      return unavailable('scripts/ensure-docker.sh could not set up a Docker engine (see its output above)', true);
    }
    installed.push('Docker engine');
  }
  // images/build.sh names the stable tag (= the supervisor protocol the runner speaks).
  const tag = /^STABLE_TAG=(\S+)$/m.exec(readFileSync(path.join(ROOT, 'images/build.sh'), 'utf8'))?.[1] ?? 'v2';
  const missing = RUNTIMES.filter((rt) => !docker(['image', 'inspect', `airlock-sandbox-${rt}:${tag}`]));
  if (missing.length > 0 && !install) return unavailable(`sandbox images missing (${missing.join(', ')}), and AIRLOCK_NO_INSTALL=1`);
  if (install) {
    // Run even when the tags exist: the images are tagged by a hash of their inputs, so a changed
    // supervisor or Dockerfile is rebuilt; when nothing changed this is a sub-second no-op.
    if (missing.length > 0) log.info('building the sandbox images (images/build.sh, offline; 1-2 min the first time)…');
    const build = await step(log, 'building the sandbox images', 'bash', ['images/build.sh'], { proc: 'images', quiet: missing.length === 0 });
    if (build !== 0) {
      return unavailable('images/build.sh failed (see its output above)', true);
    }
    if (missing.length > 0) installed.push('sandbox images');
  }
  if (compose && !docker(['compose', 'version']) && spawnSync('docker-compose', ['version'], { stdio: 'ignore' }).status !== 0) {
    if (!install) return unavailable('docker compose is missing, and AIRLOCK_NO_INSTALL=1');
    log.info("installing Debian's docker-compose (deploy/ensure-compose.sh)…");
    if ((await step(log, 'installing docker-compose', 'bash', ['deploy/ensure-compose.sh'], { proc: 'compose' })) !== 0) {
      return unavailable('deploy/ensure-compose.sh failed (see its output above)', true);
    }
    installed.push('docker-compose');
  }
  return { ok: true };
}

/** One line per piece: what is ready, what is not and why, and how to get it. */
export function describe(result) {
  const lines = [];
  if (!result.redis.ok) lines.push(`Redis: ${result.redis.reason}`);
  if (result.python && !result.python.ok) lines.push(`Python SDK tests: ${result.python.reason}`);
  if (result.chromium && !result.chromium.ok) lines.push(`console browser tests: ${result.chromium.reason}`);
  const { containers } = result;
  if (containers.ok) lines.push('containers: ready (python, node, bash)');
  else if (containers.off) lines.push(`containers: off (${containers.reason}): JavaScript and TypeScript only`);
  else lines.push(`containers: unavailable (${containers.reason}). JavaScript and TypeScript only; to enable containers run: ${CONTAINERS_HINT}`);
  return lines;
}

// CLI: `npm run setup` (tries everything again) and .ci/run (`--for=ci`: nothing optional).
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const purpose = (process.argv.find((a) => a.startsWith('--for=')) ?? '--for=start').slice('--for='.length);
  if (!['start', 'test', 'ci'].includes(purpose)) {
    console.error('usage: node scripts/setup.mjs [--for=start|test|ci] [--retry]');
    process.exit(2);
  }
  const log = createLog({ proc: 'setup' });
  const result = await setup({ purpose, retry: process.argv.includes('--retry') || purpose === 'ci', log });
  for (const line of describe(result)) (result.redis.ok && result.containers.ok && result.python.ok && result.chromium.ok ? log.info : log.warn)(line);
  const fatal = !result.redis.ok || (purpose === 'ci' && (!result.containers.ok || !result.python.ok || !result.chromium.ok));
  process.exit(fatal ? 1 : 0);
}
