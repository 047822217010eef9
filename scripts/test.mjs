// `npm test [unit|integration]`: sets up what is missing (scripts/setup.mjs, as `npm start`
// does: npm dependencies, redis-server, the Docker engine, the sandbox images, docker compose,
// Debian's python3-httpx and python3-pytest for the Python SDK's tests),
// typechecks, then runs the suites with Node's test runner. Integration tests use a real Redis
// (REDIS_URL, else 127.0.0.1:6379, else a private redis-server started here) and, for container
// tests, the real Docker engine. Where containers cannot be set up, their tests are skipped
// with the reason — except with CI=true, where nothing is ever skipped: a missing Redis or
// Docker is a failure.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
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

let redis = null;
if (integration) {
  if (haveRedis) {
    env.REDIS_URL = redisUrl;
  } else {
    console.log(`[test] no Redis answers at ${redisUrl}; starting a private redis-server`);
    redis = await startRedis();
    env.REDIS_URL = redis.url;
  }
}

// --no-turbo-inline-js-wasm-calls: tests run the harness in-process, so they run it as production
// does (harness/README.md, "Why the harness runs with --no-turbo-inline-js-wasm-calls"); the API
// fuzz test hit that V8 fatal without it. The test runner passes these flags on to each test
// file's process.
const status = step('tests', process.execPath, [
  '--no-turbo-inline-js-wasm-calls',
  '--no-node-snapshot',
  '--import',
  'tsx',
  '--test',
  '--test-concurrency=1',
  ...files,
], env);
if (redis) await stopRedis(redis);
process.exit(status);
