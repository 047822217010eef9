/**
 * `npm start` on a fresh Debian machine, the set-up path end to end: one real container of the
 * project's offline base image (airlock-base:latest, images/build.sh: Debian 12 minbase with
 * python3 and Debian's nodejs 18) with no Redis and no Docker binaries, `--network none`. The
 * host's Node 20 and npm are mounted in, the checkout is copied in (its node_modules mounted
 * read-only: npm's registry is out of reach too), and apt's only source is a local file://
 * repository holding exactly what installing redis-server in that image needs
 * (test/helpers/offline-apt.ts: from the host's apt cache; a missing .deb is downloaded once on
 * the host, never from the container). Inside, a driver runs `npm start` twice:
 *
 * - the first run installs redis-server through apt (the set-up's own path), reaches /readyz for
 *   the isolate runtimes, runs `1 + 1`, and says containers are unavailable and why (Docker
 *   cannot run in an unprivileged container) with how to enable them;
 * - the second run installs nothing and says the same about containers.
 *
 * Slow (a container, an apt install, two starts: about a minute), so it may be skipped locally
 * with AIRLOCK_SKIP_SETUP_TEST=1 (or AIRLOCK_SKIP_DOCKER=1); never with CI=true.
 */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, realpath, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { after, describe, test } from 'node:test';
import { dockerGate } from '../helpers/docker.ts';
import { buildOfflineRepo } from '../helpers/offline-apt.ts';

const ROOT = path.resolve(fileURLToPath(new URL('../..', import.meta.url)));
const BASE_IMAGE = 'airlock-base:latest';
const LABEL = 'airlock.test=setup-fresh-machine';
/** What /readyz says of the container runtimes where no runner has Docker (harness/runners). */
const CONTAINERS_UNAVAILABLE = ['python', 'node', 'bash'].map(
  (rt) => `${rt}: no live runner has a Docker engine and the sandbox images (container runtimes: python, node, bash)`,
);
const run = promisify(execFile);

/**
 * Runs inside the container: `npm start` twice (SIGINT to its process group in between, as a
 * Ctrl-C), and prints what happened as one JSON line at the end.
 */
const DRIVER = String.raw`
import { spawn, spawnSync } from 'node:child_process';
const has = (bin) => spawnSync('sh', ['-c', 'command -v ' + bin], { stdio: 'ignore' }).status === 0;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const summary = { before: { redis: has('redis-server'), docker: has('docker') || has('dockerd') }, runs: [] };
for (let n = 0; n < 2; n++) {
  const child = spawn('npm', ['start'], { cwd: '/app', detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, PORT: '8080' } });
  const lines = [];
  let partial = '';
  const onData = (d) => { const parts = (partial + d).split('\n'); partial = parts.pop(); lines.push(...parts); };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const exited = new Promise((r) => child.once('exit', (code, signal) => r({ code, signal })));
  const result = { lines, readyz: null, task: null };
  const deadline = Date.now() + 240000;
  while (!lines.some((l) => l.includes('"msg":"ready"')) && child.exitCode === null && Date.now() < deadline) await sleep(200);
  if (child.exitCode === null) {
    const readyz = await fetch('http://127.0.0.1:8080/readyz');
    result.readyz = { status: readyz.status, body: await readyz.json() };
    const ready = JSON.parse(lines.find((l) => l.includes('"msg":"ready"')));
    const task = await fetch('http://127.0.0.1:8080/v1/tasks', {
      method: 'POST',
      headers: { authorization: 'Bearer ' + ready.devApiKey, 'idempotency-key': '"setup-test-' + n + '-' + Date.now() + '"', 'content-type': 'application/json' },
      body: JSON.stringify({ runtime: 'javascript', code: '1 + 1', wait: 20 }),
    });
    result.task = await task.json();
    process.kill(-child.pid, 'SIGINT');
  }
  result.exit = await exited;
  summary.runs.push(result);
}
summary.after = { redis: has('redis-server') };
console.log('SUMMARY ' + JSON.stringify(summary));
`;

const skipLocally =
  process.env['CI'] !== 'true' && process.env['AIRLOCK_SKIP_SETUP_TEST'] === '1'
    ? 'AIRLOCK_SKIP_SETUP_TEST=1: the fresh-machine set-up test is skipped on request (never in CI)'
    : false;

describe('npm start on a fresh Debian machine (offline container)', { skip: skipLocally }, () => {
  const work: string[] = [];
  after(async () => {
    const { stdout } = await run('docker', ['ps', '-aq', '--filter', `label=${LABEL}`]).catch(() => ({ stdout: '' }));
    for (const id of stdout.split('\n').filter(Boolean)) await run('docker', ['rm', '-f', id]).catch(() => undefined);
    for (const dir of work) await rm(dir, { recursive: true, force: true });
  });

  test('installs redis-server from a local apt source, serves the isolate runtimes, says why containers are off; a second start installs nothing', async (t) => {
    const skip = await dockerGate();
    if (skip) return t.skip(skip);
    const dir = await mkdtemp(path.join(tmpdir(), 'airlock-fresh-'));
    work.push(dir);

    // The local apt repository: what redis-server needs on top of the base image.
    const { stdout: status } = await run('docker', ['run', '--rm', '--network', 'none', BASE_IMAGE, 'cat', '/var/lib/dpkg/status'], {
      maxBuffer: 64 * 1024 * 1024,
    });
    await writeFile(path.join(dir, 'status'), status);
    const packages = await buildOfflineRepo(path.join(dir, 'repo'), path.join(dir, 'status'), ['redis-server']);
    t.diagnostic(`local apt repository: ${packages.join(', ')}`);
    await writeFile(path.join(dir, 'driver.mjs'), DRIVER);

    const npmRoot = (await run('npm', ['root', '-g'])).stdout.trim();
    const nodeModules = await realpath(path.join(ROOT, 'node_modules'));
    // As root (a fresh machine's admin), no network, nothing from the host but what is mounted.
    const script = [
      'set -e',
      'ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm',
      // apt's only source: the local repository (the image's own points at the Debian mirror).
      'rm -f /etc/apt/sources.list.d/*',
      'echo "deb [trusted=yes] file:/airlock-apt ./" > /etc/apt/sources.list',
      // The checkout, without its git data, state or node_modules (mounted read-only instead).
      'mkdir -p /app',
      'tar -C /src --exclude=./node_modules --exclude=./.airlock --exclude=./.git -cf - . | tar -C /app -xf -',
      'node /driver/driver.mjs',
    ].join('\n');
    const output = await new Promise<string>((resolve, reject) => {
      const child = spawn('docker', [
        'run', '--rm', '--network', 'none', '--label', LABEL,
        '-v', `${process.execPath}:/usr/local/bin/node:ro`,
        '-v', `${path.join(npmRoot, 'npm')}:/usr/local/lib/node_modules/npm:ro`,
        '-v', `${ROOT}:/src:ro`,
        '-v', `${nodeModules}:/app/node_modules:ro`,
        '-v', `${path.join(dir, 'repo')}:/airlock-apt:ro`,
        '-v', `${dir}:/driver:ro`,
        BASE_IMAGE, 'bash', '-c', script,
      ], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (out += d.toString()));
      const timer = setTimeout(() => child.kill('SIGKILL'), 600_000);
      child.on('error', reject);
      child.on('close', () => {
        clearTimeout(timer);
        resolve(out);
      });
    });
    const summaryLine = output.split('\n').find((l) => l.startsWith('SUMMARY '));
    assert.ok(summaryLine, output);
    const summary = JSON.parse(summaryLine.slice('SUMMARY '.length)) as {
      before: { redis: boolean; docker: boolean };
      after: { redis: boolean };
      runs: { lines: string[]; readyz: { status: number; body: unknown } | null; task: { status?: string; result?: { value?: unknown } } | null; exit: unknown }[];
    };
    assert.deepEqual(summary.before, { redis: false, docker: false }, 'a fresh machine: no Redis, no Docker');
    assert.equal(summary.after.redis, true);
    const [first, second] = summary.runs;
    assert.ok(first && second, output);
    const all = (r: typeof first) => r.lines.join('\n');
    const records = (r: typeof first) =>
      r.lines.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { level: number; proc: string; msg: string });

    // First run: installed redis-server through apt, then served the isolate runtimes.
    assert.ok(records(first).some((r) => r.msg === "installing redis-server from Debian's packages (apt-get)…"), all(first));
    assert.ok(records(first).some((r) => r.proc === 'apt' && /Setting up redis-server/.test(r.msg)), all(first));
    assert.ok(records(first).some((r) => r.msg === 'set-up installed: redis-server'), all(first));
    assert.deepEqual(first.readyz, { status: 200, body: { status: 'ready', runners: 1, runtimes: { javascript: true, typescript: true, python: false, node: false, bash: false }, unavailable: CONTAINERS_UNAVAILABLE } }, all(first));
    assert.equal(first.task?.status, 'succeeded', JSON.stringify(first.task));
    assert.equal(first.task?.result?.value, 2);

    // Containers: off, the reason, and how to turn them on — in both runs.
    for (const r of [first, second]) {
      const line = records(r).find((x) => x.msg.startsWith('containers: '));
      assert.ok(line, all(r));
      assert.equal(line.level, 40);
      assert.match(line.msg, /^containers: unavailable \(this machine cannot run a Docker engine \(no CAP_SYS_ADMIN: an unprivileged container\?\)\)\. JavaScript and TypeScript only; to enable containers run: sudo bash scripts\/ensure-docker\.sh && sudo bash images\/build\.sh/);
    }

    // Second run: nothing installed, nothing asked of apt; ready and working all the same.
    assert.deepEqual(records(second).filter((r) => r.proc === 'apt' || /install/i.test(r.msg) && r.proc !== 'airlock' && r.proc !== 'harness'), [], all(second));
    assert.equal(records(second).some((r) => r.msg.startsWith('set-up installed')), false, all(second));
    assert.deepEqual(second.readyz, { status: 200, body: { status: 'ready', runners: 1, runtimes: { javascript: true, typescript: true, python: false, node: false, bash: false }, unavailable: CONTAINERS_UNAVAILABLE } }, all(second));
    assert.equal(second.task?.status, 'succeeded');
  });
});
