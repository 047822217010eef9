/**
 * The docker-compose stack (docker-compose.yml, docs/deploy.md) end to end, on the real engine:
 * images from images/build-service.sh (a ~2 s no-op when up to date; the first build takes a
 * few minutes), secrets from deploy/setup.sh into a temp dir, `up -d` under a project name of
 * its own on a free loopback port, then over HTTP and redis-cli: an isolate task, a container
 * task writing through a rw grant (same-path mounts), AOF persistence across a Redis restart,
 * and the ACL users (default disabled, runner refused outside its role, nothing denied in normal
 * operation). `down -v` and label-based removal of everything left over run even on failure.
 *
 * Every container, network and volume of the stack carries airlock.test=1 (an override file
 * adds it); sandbox containers the runner makes carry airlock.runner=<this stack's runner id>.
 * With CI=true a missing Docker engine or compose is a failure; locally AIRLOCK_SKIP_DOCKER=1
 * skips the suite with a written reason.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const CI = process.env['CI'] === 'true';
const TEST_LABEL = 'airlock.test';

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command; never rejects (a spawn error is code null). */
function run(
  cmd: string,
  args: readonly string[],
  options: { env?: NodeJS.ProcessEnv; input?: string; timeoutMs?: number } = {},
): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, {
      cwd: ROOT,
      env: options.env ?? process.env,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 120_000);
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => err.push(d));
    child.on('error', (e) => {
      clearTimeout(timer);
      resolve({ code: null, stdout: '', stderr: String(e) });
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({
        code,
        stdout: Buffer.concat(out).toString(),
        stderr: Buffer.concat(err).toString(),
      });
    });
    child.stdin.on('error', () => {});
    child.stdin.end(options.input ?? '');
  });
}

async function ok(
  cmd: string,
  args: readonly string[],
  options: Parameters<typeof run>[2] = {},
): Promise<string> {
  const r = await run(cmd, args, options);
  assert.equal(r.code, 0, `${cmd} ${args.join(' ')} failed (${r.code}):\n${r.stderr}\n${r.stdout}`);
  return r.stdout;
}

/** `docker-compose` (v1, Debian's package) or `docker compose` (v2 plugin), whichever works. */
async function findCompose(): Promise<string[] | null> {
  if ((await run('docker-compose', ['version'])).code === 0) return ['docker-compose'];
  if ((await run('docker', ['compose', 'version'])).code === 0) return ['docker', 'compose'];
  return null;
}

/** Run/skip/fail decision: a string = skip with that reason; throws = fail. */
async function gate(): Promise<{ skip: string } | { compose: string[] }> {
  const skip = !CI && process.env['AIRLOCK_SKIP_DOCKER'] === '1';
  const info = await run('docker', ['info', '--format', '{{.ServerVersion}}'], {
    timeoutMs: 20_000,
  });
  const engine =
    info.code === 0
      ? null
      : `Docker engine not reachable (${info.stderr.trim() || 'no docker CLI'})`;
  if (skip)
    return {
      skip: `AIRLOCK_SKIP_DOCKER=1 (engine: ${engine ?? 'reachable'}): compose stack test skipped on request`,
    };
  if (engine) {
    throw new Error(
      `${engine}; run: bash scripts/ensure-docker.sh. Set AIRLOCK_SKIP_DOCKER=1 to skip locally (never in CI).`,
    );
  }
  let compose = await findCompose();
  if (!compose) {
    // Installs Debian's docker-compose (v1) when neither flavour exists (root + apt only).
    const ensure = await run('bash', [path.join(ROOT, 'deploy/ensure-compose.sh')], {
      timeoutMs: 300_000,
    });
    compose = await findCompose();
    if (!compose)
      throw new Error(
        `no docker compose and deploy/ensure-compose.sh could not install it:\n${ensure.stderr}`,
      );
  }
  return { compose };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * fetch with a timeout that keeps the event loop alive. (AbortSignal.timeout's timer is unref'd;
 * a connection docker-proxy accepted before the harness listens then leaves nothing ref'd, and
 * node:test ends the suite with "Promise resolution is still pending" — seen here.)
 */
async function fetchWithin(url: string, init: RequestInit, ms: number): Promise<Response> {
  const controller = new AbortController();
  const timer = setTimeout(
    () => controller.abort(new Error(`no answer from ${url} within ${ms} ms`)),
    ms,
  );
  try {
    return await fetch(url, { ...init, signal: controller.signal });
  } finally {
    clearTimeout(timer);
  }
}

const decision = await gate();

describe('docker-compose stack', { skip: 'skip' in decision ? decision.skip : false }, () => {
  const compose = 'compose' in decision ? decision.compose : [];
  const id = randomBytes(4).toString('hex');
  const project = `airlock-test-${id}`;
  const runnerId = `${project}-runner`;
  let dir = '';
  let grantRoot = '';
  let stagingDir = '';
  let callSocketDir = '';
  let base = '';
  let secrets: Record<string, string> = {};
  let env: NodeJS.ProcessEnv = {};
  let composeArgs: string[] = [];
  const timings: string[] = [];

  const dc = (args: string[], timeoutMs = 300_000) =>
    run(compose[0]!, [...compose.slice(1), ...composeArgs, ...args], { env, timeoutMs });
  const dcOk = async (args: string[], timeoutMs?: number) => {
    const r = await dc(args, timeoutMs);
    assert.equal(
      r.code,
      0,
      `compose ${args.join(' ')} failed (${r.code}):\n${r.stderr}\n${r.stdout}`,
    );
    return r.stdout;
  };
  const logs = async () => {
    const r = await dc(['logs', '--no-color', '--tail', '40']);
    return `--- compose logs (tail) ---\n${r.stdout}${r.stderr}`;
  };
  const containerOf = async (service: string) => (await dcOk(['ps', '-q', service])).trim();

  /** redis-cli in the redis container; the password goes over stdin, never into argv. */
  async function redisCli(user: string | null, commands: string[]): Promise<string[]> {
    const redis = await containerOf('redis');
    const auth = user ? [`AUTH ${user} ${secrets[`${user.toUpperCase()}_REDIS_PASSWORD`]}`] : [];
    const out = await ok(
      'docker',
      ['exec', '-i', redis, 'env', '-u', 'REDISCLI_AUTH', 'redis-cli'],
      {
        input: [...auth, ...commands].join('\n') + '\n',
      },
    );
    const lines = out.split('\n').filter((l) => l !== '');
    if (user) {
      assert.equal(lines[0], 'OK', `AUTH as ${user} failed: ${lines[0]}`);
      return lines.slice(1);
    }
    return lines;
  }

  async function api(
    method: string,
    url: string,
    options: { key?: string; body?: unknown; idempotencyKey?: string } = {},
  ): Promise<{ status: number; headers: Headers; json: Record<string, unknown> }> {
    const headers: Record<string, string> = {
      authorization: `Bearer ${options.key ?? secrets['AIRLOCK_DEV_API_KEY']}`,
    };
    if (options.body !== undefined) headers['content-type'] = 'application/json';
    if (options.idempotencyKey) headers['idempotency-key'] = `"${options.idempotencyKey}"`;
    const init = {
      method,
      headers,
      ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
    };
    const res = await fetchWithin(`${base}${url}`, init, 60_000);
    const text = await res.text();
    return {
      status: res.status,
      headers: res.headers,
      json: text ? (JSON.parse(text) as Record<string, unknown>) : {},
    };
  }

  let cleaned = false;
  /** Last resort if the process exits without running `after` (synchronous: 'exit' handler). */
  function cleanupAtExit(): void {
    if (cleaned || composeArgs.length === 0) return;
    spawnSync(compose[0]!, [...compose.slice(1), ...composeArgs, 'down', '-v', '--timeout', '10'], {
      env,
      stdio: 'ignore',
    });
    for (const filter of [
      `label=com.docker.compose.project=${project}`,
      `label=airlock.runner=${runnerId}`,
    ]) {
      const ids = spawnSync('docker', ['ps', '-aq', '--filter', filter], { encoding: 'utf8' })
        .stdout.split('\n')
        .filter(Boolean);
      if (ids.length > 0) spawnSync('docker', ['rm', '-f', '-v', ...ids], { stdio: 'ignore' });
    }
  }

  async function cleanup(): Promise<void> {
    cleaned = true;
    process.off('exit', cleanupAtExit);
    if (composeArgs.length > 0) {
      const down = await dc(['down', '-v', '--remove-orphans', '--timeout', '30'], 180_000);
      if (down.code !== 0) console.error(`[compose.test] down failed: ${down.stderr}`);
    }
    // Whatever survived: the stack's own objects, and sandbox containers of this stack's runner.
    const projectLabel = `label=com.docker.compose.project=${project}`;
    for (const filter of [projectLabel, `label=airlock.runner=${runnerId}`]) {
      const ids = (await run('docker', ['ps', '-aq', '--filter', filter])).stdout
        .split('\n')
        .filter(Boolean);
      if (ids.length > 0) await run('docker', ['rm', '-f', '-v', ...ids]);
    }
    for (const kind of ['volume', 'network'] as const) {
      const ls = await run('docker', [kind, 'ls', '-q', '--filter', projectLabel]);
      const ids = ls.stdout.split('\n').filter(Boolean);
      if (ids.length > 0) await run('docker', [kind, 'rm', ...ids]);
    }
    if (dir) await rm(dir, { recursive: true, force: true });
    if (timings.length > 0) console.log(`[compose.test] ${timings.join(', ')}`);
  }

  before(async () => {
    const t0 = performance.now();
    // 1. Images: sandbox images + redis + service. Pin the exact content-hash tags.
    const built = await ok('bash', [path.join(ROOT, 'images/build-service.sh'), '--print-env'], {
      timeoutMs: 900_000,
    });
    const images = Object.fromEntries(
      built
        .split('\n')
        .filter((l) => l.startsWith('AIRLOCK_'))
        .map((l) => l.split('=', 2) as [string, string]),
    );
    assert.match(images['AIRLOCK_SERVICE_IMAGE'] ?? '', /^airlock-service:[0-9a-f]{12}$/);
    assert.match(images['AIRLOCK_REDIS_IMAGE'] ?? '', /^airlock-redis:[0-9a-f]{12}$/);
    timings.push(`images ${((performance.now() - t0) / 1000).toFixed(1)} s`);

    // 2. Host dirs (same absolute paths in the containers) and secrets, all in a temp dir.
    dir = await mkdtemp(path.join(tmpdir(), 'airlock-compose-'));
    grantRoot = path.join(dir, 'grants');
    stagingDir = path.join(dir, 'staging');
    callSocketDir = path.join(dir, 'calls');
    await mkdir(grantRoot);
    await mkdir(stagingDir, { mode: 0o700 });
    // The harness (uid 10100) must be able to walk to the grant root to check grant paths.
    await chmod(dir, 0o755);
    await chmod(grantRoot, 0o755);
    const secretsDir = path.join(dir, 'secrets');
    await ok('bash', [path.join(ROOT, 'deploy/setup.sh'), '--secrets-dir', secretsDir]);
    secrets = Object.fromEntries(
      (await readFile(path.join(secretsDir, 'passwords.env'), 'utf8'))
        .split('\n')
        .filter((l) => /^[A-Z0-9_]+=/.test(l))
        .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
    );

    // 3. Compose invocation: our own project, a free port, no developer .env, test labels.
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    const envFile = path.join(dir, 'compose.env');
    await writeFile(envFile, '# empty: only the variables below count\n');
    const labels = path.join(dir, 'labels.yml');
    const l = `{ labels: { ${TEST_LABEL}: "1" } }`;
    await writeFile(
      labels,
      [
        'services:',
        ...['redis', 'harness', 'runner'].map((s) => `  ${s}: ${l}`),
        'networks:',
        `  backend: { internal: true, labels: { ${TEST_LABEL}: "1" } }`,
        `  frontend: ${l}`,
        'volumes:',
        `  redis-data: ${l}`,
        '',
      ].join('\n'),
    );
    env = {
      ...process.env,
      AIRLOCK_SECRETS_DIR: secretsDir,
      AIRLOCK_HTTP_PORT: String(port),
      AIRLOCK_GRANT_ROOT: grantRoot,
      AIRLOCK_STAGING_DIR: stagingDir,
      AIRLOCK_CALL_SOCKET_DIR: callSocketDir,
      AIRLOCK_RUNNER_ID: runnerId,
      AIRLOCK_REQUIRE_DOCKER: 'true',
      AIRLOCK_REDIS_IMAGE: images['AIRLOCK_REDIS_IMAGE'],
      AIRLOCK_SERVICE_IMAGE: images['AIRLOCK_SERVICE_IMAGE'],
    };
    for (const k of ['COMPOSE_FILE', 'COMPOSE_PROJECT_NAME', 'COMPOSE_PROFILES']) delete env[k];
    process.on('exit', cleanupAtExit);
    composeArgs = [
      '--env-file',
      envFile,
      '-p',
      project,
      '-f',
      path.join(ROOT, 'docker-compose.yml'),
      '-f',
      labels,
    ];

    // 4. Up, then wait until the harness sees a runner (/readyz).
    const t1 = performance.now();
    const up = await dc(['up', '-d'], 300_000);
    assert.equal(up.code, 0, `compose up failed:\n${up.stderr}\n${await logs()}`);
    const deadline = Date.now() + 120_000;
    let last = '';
    for (;;) {
      try {
        const res = await fetchWithin(`${base}/readyz`, {}, 3_000);
        last = `${res.status} ${await res.text()}`;
        if (res.status === 200) break;
      } catch (err) {
        last = String(err);
      }
      if (Date.now() > deadline)
        assert.fail(`/readyz not ready after 120 s (last: ${last})\n${await logs()}`);
      await sleep(500);
    }
    timings.push(`up+ready ${((performance.now() - t1) / 1000).toFixed(1)} s`);
  });

  after(cleanup);

  let firstTaskId = '';
  test('an isolate task runs over HTTP, and its Idempotency-Key replays the same answer', async () => {
    const key = randomUUID();
    const body = { runtime: 'javascript', code: '1+1', wait: 10 };
    const first = await api('POST', '/v1/tasks', { body, idempotencyKey: key });
    assert.equal(first.status, 201, JSON.stringify(first.json));
    assert.equal(first.json['status'], 'succeeded', JSON.stringify(first.json));
    assert.deepEqual((first.json['result'] as { value: unknown }).value, 2);

    const again = await api('POST', '/v1/tasks', { body, idempotencyKey: key });
    assert.equal(again.status, 201);
    assert.equal(again.headers.get('idempotent-replayed'), 'true');
    assert.equal(again.json['id'], first.json['id']);

    const got = await api('GET', `/v1/tasks/${String(first.json['id'])}`);
    assert.equal(got.json['status'], 'succeeded');
    firstTaskId = String(first.json['id']);
  });

  test("the sealer seals the task's audit trail and signs a checkpoint the harness serves", async () => {
    assert.ok(firstTaskId, 'the isolate task ran');
    let entries: { action: string }[] = [];
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      const trace = await api('GET', `/v1/tasks/${firstTaskId}/trace`);
      entries = (trace.json['entries'] ?? trace.json['items'] ?? []) as { action: string }[];
      if (trace.status === 200 && entries.some((e) => e.action === 'task.succeeded')) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    const actions = entries.map((e) => e.action);
    assert.ok(actions.includes('task.created') && actions.includes('task.succeeded'), actions.join(', '));
    let checkpoint = await api('GET', '/v1/audit/checkpoint');
    while (checkpoint.status !== 200 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 500));
      checkpoint = await api('GET', '/v1/audit/checkpoint');
    }
    assert.equal(checkpoint.status, 200, JSON.stringify(checkpoint.json));
  });

  test('a container task writes through a rw grant (Docker socket + same-path mounts)', async () => {
    // The harness checks the grant path in its read-only view of the grant root; the runner
    // stages a copy under the staging dir, which the engine bind-mounts by its host path.
    const project = path.join(grantRoot, 'proj');
    await mkdir(project, { mode: 0o755 });
    await writeFile(path.join(project, 'in.txt'), 'hello\n');
    const grant = await api('PUT', '/v1/admin/grants/proj', {
      key: secrets['AIRLOCK_ADMIN_API_KEY'],
      body: { hostPath: project, mode: 'rw', maxBytes: 1_000_000, allowedAgents: ['*'] },
    });
    assert.equal(grant.status, 201, JSON.stringify(grant.json));

    const res = await api('POST', '/v1/tasks', {
      idempotencyKey: randomUUID(),
      body: {
        runtime: 'python',
        code: 'print(open("/mnt/p/in.txt").read().strip())\nopen("/mnt/p/out.txt", "w").write("from the sandbox\\n")',
        mounts: [{ grant: 'proj', path: '/mnt/p', mode: 'rw' }],
        wait: 30,
      },
    });
    assert.equal(res.json['status'], 'succeeded', `${JSON.stringify(res.json)}\n${await logs()}`);
    assert.equal((res.json['result'] as { stdout: string }).stdout, 'hello\n');
    assert.equal(await readFile(path.join(project, 'out.txt'), 'utf8'), 'from the sandbox\n');
  });

  test('only the runner reaches the Docker socket; mounts keep their host paths', async () => {
    const mounts = async (service: string) => {
      const json = await ok('docker', [
        'inspect',
        '--format',
        '{{json .Mounts}}',
        await containerOf(service),
      ]);
      return (JSON.parse(json) as { Source: string; Destination: string; RW: boolean }[]).map(
        (m) => `${m.Source}->${m.Destination}:${m.RW ? 'rw' : 'ro'}`,
      );
    };
    const runner = await mounts('runner');
    assert.ok(runner.includes('/var/run/docker.sock->/var/run/docker.sock:rw'), runner.join('\n'));
    assert.ok(runner.includes(`${grantRoot}->${grantRoot}:rw`), runner.join('\n'));
    assert.ok(runner.includes(`${stagingDir}->${stagingDir}:rw`), runner.join('\n'));
    assert.ok(runner.includes(`${callSocketDir}->${callSocketDir}:rw`), runner.join('\n'));
    const harness = await mounts('harness');
    assert.ok(harness.includes(`${grantRoot}->${grantRoot}:ro`), harness.join('\n'));
    for (const service of ['harness', 'redis']) {
      assert.ok(
        !(await mounts(service)).some((m) => m.includes('docker.sock')),
        `${service} must not see docker.sock`,
      );
    }
    // The API is published on loopback only.
    const ports = await ok('docker', ['port', await containerOf('harness'), '8080/tcp']);
    assert.match(ports.trim(), /^127\.0\.0\.1:\d+$/);
  });

  test('redis ACL: nothing denied in normal operation, default disabled, roles enforced', async () => {
    // Everything the tests above did went through the harness and runner users.
    assert.deepEqual(
      await redisCli('admin', ['ACL LOG']),
      [],
      'ACL LOG must be empty after normal operation',
    );

    // default: unauthenticated connections get nothing; logging in as default fails.
    const anon = await redisCli(null, ['PING', 'AUTH default x', 'FLUSHALL']);
    assert.match(anon[0] ?? '', /^NOAUTH/);
    assert.match(anon[1] ?? '', /^WRONGPASS/);
    assert.match(anon[2] ?? '', /^NOAUTH/);
    const defaultUser = await redisCli('admin', ['ACL GETUSER default']);
    assert.equal(defaultUser[0], 'flags');
    assert.equal(defaultUser[1], 'off', defaultUser.join(' '));

    // runner: queue and task keys yes; FLUSHALL/CONFIG/KEYS and the harness' keys no.
    const runner = await redisCli('runner', [
      'FLUSHALL',
      'CONFIG GET appendonly',
      'KEYS *',
      'SCAN 0',
      'DEBUG SLEEP 0',
      'GET airlock:idem:x',
      'HGETALL airlock:grants:dev',
      'PUBLISH not-airlock x',
      'ZCARD airlock:runners',
    ]);
    assert.equal(runner.length, 9, runner.join('\n'));
    for (const [i, line] of runner.slice(0, 8).entries()) {
      // DEBUG is also switched off in redis.conf (enable-debug-command no), and Redis checks that
      // before the ACL: either refusal proves the runner cannot run it.
      if (i === 4) assert.match(line, /^(NOPERM|ERR DEBUG command not allowed)/);
      else assert.match(line, /^NOPERM/);
    }
    assert.match(runner[8] ?? '', /^\d+$/);

    // harness: may not write the runner registry, nor run admin commands.
    const harness = await redisCli('harness', [
      'ZADD airlock:runners 1 fake',
      'FLUSHDB',
      'ZCARD airlock:runners',
    ]);
    assert.match(harness[0] ?? '', /^NOPERM/);
    assert.match(harness[1] ?? '', /^NOPERM/);
    assert.match(harness[2] ?? '', /^\d+$/);

    // healthcheck: PING only.
    const health = await redisCli('healthcheck', ['PING', 'GET x']);
    assert.deepEqual(health.slice(0, 1), ['PONG']);
    assert.match(health[1] ?? '', /^NOPERM/);
  });

  test('redis persists to the AOF in its volume: tasks survive a Redis restart', async () => {
    const info = (await redisCli('harness', ['INFO persistence'])).join('\n');
    assert.match(info, /aof_enabled:1/);
    assert.deepEqual(await redisCli('admin', ['CONFIG GET appendonly']), ['appendonly', 'yes']);
    const mounts = await ok('docker', [
      'inspect',
      '--format',
      '{{json .Mounts}}',
      await containerOf('redis'),
    ]);
    const data = (
      JSON.parse(mounts) as { Type: string; Name?: string; Destination: string }[]
    ).find((m) => m.Destination === '/var/lib/redis');
    assert.equal(data?.Type, 'volume');
    assert.equal(data?.Name, `${project}_redis-data`);

    const task = await api('POST', '/v1/tasks', {
      idempotencyKey: randomUUID(),
      body: { runtime: 'javascript', code: '"persisted"', wait: 10 },
    });
    assert.equal(task.json['status'], 'succeeded');
    const taskId = String(task.json['id']);

    // docker restart: SIGTERM, Redis flushes the AOF, then replays it on start (MULTI/EXEC
    // blocks included: see the `default` user in deploy/redis/users.acl.template).
    await dcOk(['restart', 'redis'], 120_000);
    const deadline = Date.now() + 60_000;
    let last: { status: number; json: Record<string, unknown> } | null = null;
    for (;;) {
      try {
        last = await api('GET', `/v1/tasks/${taskId}`);
        if (last.status !== 500 && last.status !== 503) break;
      } catch {
        // harness reconnecting
      }
      if (Date.now() > deadline) break;
      await sleep(500);
    }
    assert.equal(
      last?.status,
      200,
      `task lost after the restart: ${JSON.stringify(last?.json)}\n${await logs()}`,
    );
    assert.equal(last?.json['status'], 'succeeded');
    assert.equal((last?.json['result'] as { value: unknown }).value, 'persisted');
    const redisLog = await dc(['logs', '--no-color', 'redis']);
    assert.doesNotMatch(redisLog.stdout, /CRITICAL/, 'AOF replay reported errors');

    // Harness and runner reconnected: a new task runs.
    let again: Awaited<ReturnType<typeof api>> | null = null;
    for (let i = 0; i < 40; i++) {
      again = await api('POST', '/v1/tasks', {
        idempotencyKey: randomUUID(),
        body: { runtime: 'javascript', code: '40+2', wait: 10 },
      }).catch(() => null);
      if (again?.json['status'] === 'succeeded') break;
      await sleep(500);
    }
    assert.equal(
      (again?.json['result'] as { value: unknown } | undefined)?.value,
      42,
      JSON.stringify(again?.json),
    );
  });
});
