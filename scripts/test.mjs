// `npm test [unit|integration]`: sets up what is missing (scripts/setup.mjs, as `npm start`
// does: npm dependencies, redis-server, the Docker engine, the sandbox images, docker compose,
// Debian's python3-httpx and python3-pytest for the Python SDK's tests),
// typechecks, then runs the suites with Node's test runner, in two lanes side by side (below).
// Integration tests use a real Redis (REDIS_URL, else 127.0.0.1:6379, else a private
// redis-server started here; the second lane always gets its own) and, for container
// tests, the real Docker engine. Where containers cannot be set up, their tests are skipped
// with the reason — except with CI=true, where nothing is ever skipped: a missing Redis or
// Docker is a failure.
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { createInterface } from 'node:readline';
import path from 'node:path';
import { ROOT, ensureDeps, redisPing, startRedis, stopRedis } from './lib.mjs';
import { createLog } from './log.mjs';
import { describe, setup } from './setup.mjs';

const which = process.argv[2] ?? 'all';
if (!['all', 'unit', 'integration'].includes(which)) {
  console.error('usage: npm test [-- unit|integration]');
  process.exit(2);
}
const ci = process.env.CI === 'true';
const log = createLog({ proc: 'test', format: process.env.AIRLOCK_LOG_FORMAT ?? 'pretty' });

function step(name, cmd, args, env = {}) {
  console.log(`\n[test] ${name}: ${cmd} ${args.join(' ')}`);
  const res = spawnSync(cmd, args, { cwd: ROOT, stdio: 'inherit', env: { ...process.env, ...env } });
  return res.status ?? 1;
}

function testFiles(dir) {
  const out = [];
  const walk = (d) => {
    for (const name of readdirSync(d)) {
      const p = path.join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (name.endsWith('.test.ts')) out.push(path.relative(ROOT, p));
    }
  };
  walk(path.join(ROOT, dir));
  return out.sort();
}

const env = {};
const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const integration = which !== 'unit';
const haveRedis = integration && (await redisPing(redisUrl));
if (!integration) {
  // Unit tests need neither Redis nor Docker: only the npm dependencies.
  ensureDeps(log);
} else {
  const prepared = await setup({ purpose: ci ? 'ci' : 'test', haveRedis, log: createLog({ proc: 'setup', format: log.format }) });
  if (!prepared.redis.ok) {
    log.error(`no Redis for the integration tests: ${prepared.redis.reason}`);
    process.exit(1);
  }
  if (!prepared.containers.ok && process.env.AIRLOCK_SKIP_DOCKER !== '1') {
    const [line] = describe(prepared).slice(-1);
    if (ci) {
      log.error(`${line} — with CI=true container tests are never skipped`);
      process.exit(1);
    }
    log.warn(`${line} — container tests are skipped (AIRLOCK_SKIP_DOCKER=1)`);
    env.AIRLOCK_SKIP_DOCKER = '1';
  }
  if (!prepared.python.ok) {
    if (ci) {
      log.error(`Python SDK tests: ${prepared.python.reason} — with CI=true they are never skipped`);
      process.exit(1);
    }
    log.warn(`Python SDK tests: ${prepared.python.reason} — they are skipped`);
  }
  if (!prepared.chromium.ok) {
    if (ci) {
      log.error(`console browser tests: ${prepared.chromium.reason} — with CI=true they are never skipped`);
      process.exit(1);
    }
    log.warn(`console browser tests: ${prepared.chromium.reason} — they are skipped`);
  }
}

if (step('typecheck', 'npx', ['tsc', '-p', 'tsconfig.json']) !== 0) process.exit(1);

const files = [
  ...(which !== 'integration' ? testFiles('test/unit') : []),
  ...(integration ? testFiles('test/integration') : []),
];

/**
 * Longer than any lane has ever run on a 2-core machine (17.6 minutes), so only a hang reaches it.
 * TEST_FILE_TIMEOUT_MS sets another.
 */
const FILE_TIMEOUT_MS = Number(process.env.TEST_FILE_TIMEOUT_MS) || 20 * 60_000;

/**
 * Long files that need no Docker but run in the docker lane anyway, to even the lanes out (some
 * 200 s of the test bodies on 2 cores; without them the docker lane ended 400 s before the rest).
 */
const EVEN_OUT = new Set(['console-browser.test.ts', 'rollback-harness-kill.test.ts', 'cli.test.ts', 'harness-process.test.ts', 'runner-kill.test.ts']);

// Two lanes run side by side, each one file at a time (files in a lane share Redis's tenants and
// queue): the files that use Docker (they import test/helpers/docker.ts, read AIRLOCK_SKIP_DOCKER
// or run the docker CLI), npm-start.test.ts (`npm start` finds the Redis at 127.0.0.1:6379 by
// itself) and EVEN_OUT, on REDIS_URL; every other file on a private redis-server started here,
// so the lanes share no queue, key or pub/sub channel, and the installation ids that scope Docker
// cleanup differ. The suite is bound by CPU, so on two cores this gains less than half (README,
// "Tests and benchmarks"). TEST_LANES=1 runs everything in one lane, as before.
const lanes = [];
const privateRedis = [];
if (!integration) {
  lanes.push({ name: 'unit', files, env: {} });
} else {
  let redisUrlForTests = redisUrl;
  if (!haveRedis) {
    console.log(`[test] no Redis answers at ${redisUrl}; starting a private redis-server`);
    const own = await startRedis();
    privateRedis.push(own);
    redisUrlForTests = own.url;
  }
  const docker = [];
  const rest = [];
  for (const f of files) (inDockerLane(f) ? docker : rest).push(f);
  let restRedis = null;
  if (process.env.TEST_LANES !== '1' && docker.length > 0 && rest.length > 0) {
    restRedis = await startRedis().catch((err) => {
      log.warn(`no private redis-server for a second test lane (${err.message}): the files run in one lane`);
      return null;
    });
  }
  if (restRedis) {
    privateRedis.push(restRedis);
    lanes.push({ name: 'docker', files: docker, env: { REDIS_URL: redisUrlForTests } });
    lanes.push({ name: 'rest', files: rest, env: { REDIS_URL: restRedis.url } });
  } else {
    lanes.push({ name: 'all', files, env: { REDIS_URL: redisUrlForTests } });
  }
}

const results = await Promise.all(lanes.map((lane) => runLane(lane, lanes.length > 1)));
for (const r of privateRedis) await stopRedis(r);
console.log('');
for (const r of results) {
  // The totals are read from a lane's TAP output (none when one lane's output went to a terminal).
  const cancelled = r.cancelled ? ` ${r.cancelled} cancelled,` : '';
  const totals = r.tests === undefined ? '' : ` ${r.tests} tests, ${r.fail ?? 0} failed,${cancelled}`;
  console.log(`[test] lane ${r.name}: ${r.files} files,${totals} ${Math.round(r.ms / 1000)} s, exit ${r.status}`);
}
// The failures again, last: a CI log is often read from its end, and the lanes' outputs run to
// thousands of lines.
for (const r of results) {
  if (r.failures.length === 0) continue;
  console.log(`\n[test] lane ${r.name}: ${r.failures.length} not ok:`);
  for (const block of r.failures) for (const line of block) console.log(`[test]   ${line}`);
}
process.exit(results.every((r) => r.status === 0) ? 0 : 1);

/**
 * A file for the docker lane: it needs the Docker engine, or the Redis at its default address
 * whatever REDIS_URL says, or it evens the lanes out.
 */
function inDockerLane(file) {
  const name = path.basename(file);
  if (name === 'npm-start.test.ts' || EVEN_OUT.has(name)) return true;
  return /helpers\/docker\.ts|AIRLOCK_SKIP_DOCKER|spawn\('docker'/.test(readFileSync(path.join(ROOT, file), 'utf8'));
}

/**
 * One lane: Node's test runner over its files, one at a time. With more than one lane, each
 * line of its output is prefixed with the lane's name (the lanes' outputs interleave). The
 * lane's failures are kept for the recap at the end.
 */
function runLane(lane, prefixed) {
  // --no-turbo-inline-js-wasm-calls: tests run the harness in-process, so they run it as production
  // does (harness/README.md, "Why the harness runs with --no-turbo-inline-js-wasm-calls"); the API
  // fuzz test hit that V8 fatal without it. The test runner passes these flags on to each test
  // file's process.
  //
  // --test-timeout: a file still running after FILE_TIMEOUT_MS is killed and fails with its name.
  // A test that leaves a child process behind keeps its file, and so the lane, waiting forever
  // (a sealer leaked that way once); without a limit only CI's 90 minutes would end it. The limit
  // is the default of every test too: those that need less say so.
  const args = ['--no-turbo-inline-js-wasm-calls', '--no-node-snapshot', '--import', 'tsx', '--test', '--test-concurrency=1', `--test-timeout=${FILE_TIMEOUT_MS}`, ...lane.files];
  console.log(`\n[test] tests${prefixed ? ` (lane ${lane.name}, ${lane.files.length} files)` : ''}: ${process.execPath} ${args.slice(0, 8).join(' ')} …`);
  // On a terminal, one lane's output goes straight to it: Node's spec reporter lists the failures
  // at its end by itself. Otherwise the output is TAP, read here for the totals and the recap.
  const piped = prefixed || !process.stdout.isTTY;
  const started = Date.now();
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    stdio: ['ignore', piped ? 'pipe' : 'inherit', piped ? 'pipe' : 'inherit'],
    env: { ...process.env, ...env, ...lane.env },
  });
  const counts = { tests: undefined, fail: undefined, cancelled: undefined };
  const failures = tapFailures();
  const prefix = prefixed ? `[${lane.name}] ` : '';
  for (const [stream, out] of piped ? [[child.stdout, process.stdout], [child.stderr, process.stderr]] : []) {
    createInterface({ input: stream }).on('line', (line) => {
      // The TAP summary's totals (`# tests 620`, `# fail 0`, `# cancelled 0`), for the lanes'
      // summary at the end.
      const total = /^# (tests|fail|cancelled) (\d+)$/.exec(line);
      if (total) counts[total[1]] = Number(total[2]);
      if (stream === child.stdout) failures.read(line);
      out.write(`${prefix}${line}\n`);
    });
  }
  return new Promise((resolve) => {
    // No exit code: killed by a signal, a failure (as `step` counts it).
    child.once('close', (code) => {
      resolve({ name: lane.name, files: lane.files.length, ...counts, failures: failures.blocks, ms: Date.now() - started, status: code ?? 1 });
    });
  });
}

/**
 * The failed tests of a TAP stream: each `not ok` line with its YAML block (error, location,
 * stack without Node's own frames), at most 40 lines of it. A parent that failed only because a
 * subtest did (`failureType: 'subtestsFailed'`) adds nothing the subtest's own block does not say.
 */
function tapFailures() {
  const blocks = [];
  let open = null;
  let end = '';
  return {
    blocks,
    read(line) {
      if (!open) {
        const failed = /^(\s*)not ok \d+ - /.exec(line);
        if (failed) [open, end] = [[line], `${failed[1]}  ...`];
        return;
      }
      // Node's own stack frames say nothing about the test.
      if (open.length < 40 && !/\(node:|^\s*node:internal\//.test(line)) open.push(line);
      if (line !== end) return;
      if (!open.some((l) => l.trim() === "failureType: 'subtestsFailed'")) blocks.push(open);
      open = null;
    },
  };
}
