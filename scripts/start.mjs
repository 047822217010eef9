// `npm start`: runs Airlock locally — a harness, one runner and the audit sealer as separate
// processes, plus a private redis-server (data under .airlock/redis) when REDIS_URL is not given.
// Sealed audit logs go to .airlock/audit; the sealer's signing key is generated once into
// .airlock/audit-signing-key (outside the audit directory, which the harness reads).
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ROOT, ensureDeps, REDIS_INSTALL_HINT, hasBinary, startRedis } from './lib.mjs';

ensureDeps();

const stateDir = path.join(ROOT, '.airlock');
mkdirSync(stateDir, { recursive: true });
const children = [];
let redis = null;

let redisUrl = process.env.REDIS_URL;
if (!redisUrl) {
  if (!hasBinary('redis-server')) {
    console.error(`[airlock] ${REDIS_INSTALL_HINT}`);
    process.exit(1);
  }
  redis = await startRedis({ dataDir: path.join(stateDir, 'redis') });
  redisUrl = redis.url;
  console.log(`[airlock] started redis-server at ${redisUrl} (data in .airlock/redis)`);
}

// The dev key: fixed by AIRLOCK_DEV_API_KEY, else generated once and kept in .airlock/.
const keyFile = path.join(stateDir, 'dev-api-key');
let devKey = process.env.AIRLOCK_DEV_API_KEY;
if (!devKey) {
  if (!existsSync(keyFile)) writeFileSync(keyFile, `ak_dev_${randomBytes(24).toString('base64url')}\n`, { mode: 0o600 });
  devKey = readFileSync(keyFile, 'utf8').trim();
}
const port = process.env.PORT ?? '8080';
const host = process.env.HOST ?? '127.0.0.1';

function run(name, args, env) {
  const child = spawn(process.execPath, args, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  for (const stream of [child.stdout, child.stderr]) {
    stream.setEncoding('utf8');
    let buf = '';
    stream.on('data', (chunk) => {
      buf += chunk;
      const lines = buf.split('\n');
      buf = lines.pop();
      for (const line of lines) console.log(`[${name}] ${line}`);
    });
  }
  child.on('exit', (code, signal) => {
    if (!stopping) {
      console.error(`[airlock] ${name} exited (${signal ?? code}); stopping everything`);
      void stop(1);
    }
  });
  children.push(child);
  return child;
}

let stopping = false;
async function stop(code = 0) {
  if (stopping) return;
  stopping = true;
  const exits = children
    .filter((c) => c.exitCode === null && c.signalCode === null)
    .map((c) => new Promise((r) => { c.once('exit', r); c.kill('SIGTERM'); }));
  await Promise.race([Promise.all(exits), new Promise((r) => setTimeout(r, 15000))]);
  if (redis) {
    redis.process.kill('SIGTERM');
    await new Promise((r) => redis.process.once('exit', r));
  }
  process.exit(code);
}
process.on('SIGINT', () => void stop(0));
process.on('SIGTERM', () => void stop(0));

const common = { REDIS_URL: redisUrl, AUDIT_DIR: process.env.AUDIT_DIR ?? path.join(stateDir, 'audit') };
const sealerKey = process.env.AUDIT_SIGNING_KEY
  ? {}
  : { AUDIT_SIGNING_KEY_FILE: process.env.AUDIT_SIGNING_KEY_FILE ?? path.join(stateDir, 'audit-signing-key') };
// --no-turbo-inlining: see harness/README.md ("Why the harness runs with --no-turbo-inlining").
run('harness', ['--no-turbo-inlining', '--import', 'tsx', 'harness/server.ts'], { ...common, PORT: port, HOST: host, AIRLOCK_DEV_API_KEY: devKey });
run('runner', ['--no-node-snapshot', '--import', 'tsx', 'runner/worker.ts'], common);
run('sealer', ['--import', 'tsx', 'sealer/main.ts'], { ...common, ...sealerKey });

const base = `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}`;
for (let i = 0; i < 300 && !stopping; i++) {
  try {
    if ((await fetch(`${base}/readyz`)).ok) break;
  } catch {}
  await new Promise((r) => setTimeout(r, 100));
}
if (!stopping) {
  console.log(`
[airlock] ready at ${base}
[airlock] development API key (agent dev-agent, tenant dev): ${devKey}
[airlock] try:
  curl -s -X POST ${base}/v1/tasks \\
    -H 'Authorization: Bearer ${devKey}' \\
    -H "Idempotency-Key: \\"$(uuidgen || cat /proc/sys/kernel/random/uuid)\\"" \\
    -H 'Content-Type: application/json' \\
    -d '{"runtime":"javascript","code":"1 + 1","wait":10}'
`);
}
