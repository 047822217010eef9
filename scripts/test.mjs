// `npm test [unit|integration]`: installs what is missing, typechecks, then runs the suites with
// Node's test runner. Integration tests use a real Redis (REDIS_URL, else 127.0.0.1:6379, else a
// private redis-server started here) and, for container tests, the real Docker engine.
// With CI=true nothing is ever skipped: a missing Redis or Docker is a failure.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { ROOT, ensureDeps, redisPing, startRedis } from './lib.mjs';

const which = process.argv[2] ?? 'all';
if (!['all', 'unit', 'integration'].includes(which)) {
  console.error('usage: npm test [-- unit|integration]');
  process.exit(2);
}
ensureDeps();

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

if (step('typecheck', 'npx', ['tsc', '-p', 'tsconfig.json']) !== 0) process.exit(1);

const files = [
  ...(which !== 'integration' ? testFiles('test/unit') : []),
  ...(which !== 'unit' ? testFiles('test/integration') : []),
];

const env = {};
let redis = null;
if (which !== 'unit') {
  const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  if (await redisPing(url)) {
    env.REDIS_URL = url;
  } else {
    console.log(`[test] no Redis answers at ${url}; starting a private redis-server`);
    redis = await startRedis();
    env.REDIS_URL = redis.url;
  }
}

const status = step('tests', process.execPath, [
  '--no-node-snapshot',
  '--import',
  'tsx',
  '--test',
  '--test-concurrency=1',
  ...files,
], env);
redis?.process.kill('SIGTERM');
process.exit(status);
