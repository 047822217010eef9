/**
 * Grant mounts of container tasks, on the REAL Docker engine with the REAL sandbox images and
 * real directories on the host disk (under /tmp): read-only binds, staged writable grants
 * (applied only on success), and escape attempts from inside the container. Nothing is mocked.
 * "Untouched" is a manifest (type, size, sha256, mode, mtime of every entry) taken before and
 * compared after.
 *
 * With CI=true a missing engine fails the suite; locally too, unless AIRLOCK_SKIP_DOCKER=1.
 * Containers carry this file's runner id and are removed by it at the end.
 */
import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { link, mkdir, readdir, readFile, rm, statfs, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import type { JobPayload } from '../../protocol/job.ts';
import {
  buildContainerSpec,
  buildHostConfig,
  type BindMount,
} from '../../runner/backends/docker-config.ts';
import { DockerBackend } from '../../runner/backends/docker.ts';
import { SANDBOX_IMAGE_TAG } from '../../runner/backends/supervisor-protocol.ts';
import { GrantPathError } from '../../runner/grants/errors.ts';
import { scanGrant } from '../../runner/grants/scan.ts';
import { stage } from '../../runner/grants/staging.ts';
import {
  docker,
  dockerGate,
  job,
  manifest,
  mount,
  recordingSink,
  removeContainersOf,
} from '../helpers/docker.ts';
import { session } from '../helpers/session.ts';

const skip = await dockerGate();
const RUNNER_ID = `test-grants-${randomUUID()}`;
const INSTALLATION_ID = `test-grants-${randomUUID()}`;
const BASE = `/tmp/airlock-grants-${RUNNER_ID}`;
const STAGING = path.join(BASE, 'staging');
const SECRET = 'HOST-SECRET-d41d8cd9';
const never = new AbortController().signal;
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

let n = 0;
/** A fresh grant directory with a few files. */
async function grantDir(
  files: Record<string, string> = {
    'keep.txt': 'keep',
    'modify.txt': 'old',
    'delete.txt': 'bye',
    'sub/x.txt': 'x',
  },
) {
  const dir = path.join(BASE, `grant-${n++}`);
  for (const [p, content] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(dir, p)), { recursive: true });
    await writeFile(path.join(dir, p), content);
  }
  await mkdir(dir, { recursive: true });
  return dir;
}

/** Runs python code in a hardened container WITHOUT the backend's grant checks (to show what a planted link does). */
async function rawRun(binds: BindMount[], code: string): Promise<string> {
  const image = (await docker.getImage(`airlock-sandbox-python:${SANDBOX_IMAGE_TAG}`).inspect()).Id;
  const limits = { memoryMb: 64, cpus: 1, pidsLimit: 16, nofile: 64, scratchMb: 1, outMb: 1 };
  const spec = buildContainerSpec({
    image,
    cmd: ['python3', '-c', code],
    runnerId: RUNNER_ID,
    installationId: INSTALLATION_ID,
    hostConfig: buildHostConfig(limits, binds),
  });
  // No supervisor here: the code itself runs as the container's user, the sandbox user.
  Object.assign(spec, {
    User: '10001:10001',
    AttachStdin: false,
    OpenStdin: false,
    StdinOnce: false,
  });
  const c = await docker.createContainer(spec);
  try {
    const stream = await c.attach({ stream: true, stdout: true, stderr: true });
    const out = new PassThrough();
    const chunks: Buffer[] = [];
    out.on('data', (d: Buffer) => chunks.push(d));
    c.modem.demuxStream(stream, out, out);
    const ended = new Promise((r) => stream.on('end', r));
    await c.start();
    await c.wait();
    await ended;
    return Buffer.concat(chunks).toString();
  } finally {
    await c.remove({ force: true });
  }
}

// Writes to the grant the way most tests expect: modify, delete, create (file + dir).
const CHANGE = [
  'import os',
  'open("/mnt/g/modify.txt", "w").write("new content")',
  'os.unlink("/mnt/g/delete.txt")',
  'open("/mnt/g/new.txt", "w").write("created")',
  'os.makedirs("/mnt/g/newdir")',
  'open("/mnt/g/newdir/n.txt", "w").write("nested")',
].join('\n');

describe('DockerBackend grants (real engine, real host dirs)', { skip }, () => {
  let backend: DockerBackend;
  const run = (j: JobPayload, signal = never) => backend.execute(j, session(signal, recordingSink()));
  const stagingEmpty = async () =>
    assert.deepEqual(await readdir(STAGING), [], 'no staged copy left behind');

  before(async () => {
    await mkdir(BASE, { recursive: true });
    await writeFile(path.join(BASE, 'outside-secret.txt'), SECRET);
    backend = await DockerBackend.create({
      docker,
      runnerId: RUNNER_ID,
      installationId: INSTALLATION_ID,
      stagingRoot: STAGING,
      poolSize: 0,
    });
  });
  after(async () => {
    await backend?.dispose();
    await removeContainersOf(RUNNER_ID);
    await rm(BASE, { recursive: true, force: true });
  });

  test('ro: readable, not writable, real dir untouched', async () => {
    const dir = await grantDir();
    const before = await manifest(dir);
    const code = String.raw`
import errno
print(open('/mnt/g/sub/x.txt').read())
for p in ['/mnt/g/keep.txt', '/mnt/g/new.txt']:
    try:
        open(p, 'w').write('x'); print('wrote', p)
    except OSError as e:
        print(errno.errorcode[e.errno])`;
    const r = await run(job('python', code, { mounts: [mount('g', dir, 'ro')] }));
    assert.equal(r.status, 'succeeded', r.result.stderr);
    assert.equal(r.result.stdout, 'x\nEROFS\nEROFS\n');
    assert.equal(r.result.changes, undefined);
    assert.deepEqual(await manifest(dir), before);
  });

  test('rw success: exactly the listed changes are applied; only /tmp /work /out and the grant are writable', async () => {
    const dir = await grantDir();
    const code = `${CHANGE}
w = []
for root, dirs, files in os.walk('/'):
    if root in ('/proc', '/sys'): dirs[:] = []; continue
    if os.access(root, os.W_OK): w.append(root)
print(sorted(w))`;
    const r = await run(job('python', code, { mounts: [mount('g', dir, 'rw')] }));
    assert.equal(r.status, 'succeeded', r.result.stderr);
    assert.equal(
      r.result.stdout,
      "['/mnt/g', '/mnt/g/newdir', '/mnt/g/sub', '/out', '/tmp', '/work']\n",
    );
    assert.deepEqual(r.result.changes, [
      { grant: 'g', path: 'delete.txt', change: 'deleted' },
      {
        grant: 'g',
        path: 'modify.txt',
        change: 'modified',
        size: 11,
        sha256: sha256('new content'),
      },
      { grant: 'g', path: 'new.txt', change: 'created', size: 7, sha256: sha256('created') },
      { grant: 'g', path: 'newdir', change: 'created' },
      { grant: 'g', path: 'newdir/n.txt', change: 'created', size: 6, sha256: sha256('nested') },
    ]);
    assert.equal(await readFile(path.join(dir, 'modify.txt'), 'utf8'), 'new content');
    assert.equal(await readFile(path.join(dir, 'newdir/n.txt'), 'utf8'), 'nested');
    assert.deepEqual((await readdir(dir)).sort(), [
      'keep.txt',
      'modify.txt',
      'new.txt',
      'newdir',
      'sub',
    ]);
    await stagingEmpty();
  });

  const untouchedCases: [string, string, Partial<JobPayload['limits']>, boolean, string][] = [
    ['non-zero exit', `${CHANGE}\nraise SystemExit(1)`, {}, false, 'nonzero_exit'],
    ['timeout', `${CHANGE}\nimport time\ntime.sleep(60)`, { timeoutMs: 1000 }, false, 'timeout'],
    [
      'cancel',
      `${CHANGE}\nimport time\nprint('changed', flush=True)\ntime.sleep(60)`,
      {},
      true,
      'cancelled',
    ],
    [
      'over the grant byte cap',
      'open("/mnt/g/big", "wb").write(b"x" * 2_000_000)',
      {},
      false,
      'disk_limit',
    ],
    [
      'a link left in the grant',
      'import os\nos.symlink("/etc/passwd", "/mnt/g/link")\nos.link("/mnt/g/keep.txt", "/mnt/g/hard")',
      {},
      false,
      'runtime_error',
    ],
  ];
  for (const [name, code, limits, cancel, expected] of untouchedCases) {
    test(`rw ${name} → ${expected}; the real dir is byte-for-byte untouched`, async () => {
      const dir = await grantDir();
      const before = await manifest(dir);
      const ac = new AbortController();
      const sink = recordingSink(() => cancel && ac.abort());
      const r = await backend.execute(
        job('python', code, { mounts: [mount('g', dir, 'rw')], limits }),
        session(ac.signal, sink),
      );
      assert.equal(r.error?.code, expected, r.error?.message);
      assert.deepEqual(r.result.changes ?? [], []);
      assert.deepEqual(await manifest(dir), before);
      await stagingEmpty();
    });
  }

  test('links made inside resolve in the container, never on the host', async () => {
    const dir = await grantDir();
    const code = String.raw`
import errno, os, sys
os.symlink(sys.argv[1] + '/outside-secret.txt', '/mnt/g/abs')
os.symlink('../outside-secret.txt', '/mnt/g/rel')
for p in ['/mnt/g/abs', '/mnt/g/rel']:
    try:
        print(open(p).read())
    except OSError as e:
        print(errno.errorcode[e.errno])`;
    const r = await run(job('python', code, { args: [BASE], mounts: [mount('g', dir, 'rw')] }));
    assert.equal(r.result.stdout, 'ENOENT\nENOENT\n');
    assert.equal(r.error?.code, 'runtime_error', 'the links are refused by diff: nothing applied');
  });

  test('.. and /proc/self/root tricks cannot reach the grant parent on the host', async () => {
    const rw = await grantDir();
    const ro = await grantDir();
    const code = String.raw`
import errno, json, os, sys
base = sys.argv[1]
tries = [
    '/mnt/g/../outside-secret.txt', '/mnt/r/../outside-secret.txt',
    '/mnt/g/' + '../' * 12 + base.lstrip('/') + '/outside-secret.txt',
    '/proc/self/root' + base + '/outside-secret.txt', '/proc/1/root' + base + '/outside-secret.txt',
    base + '/outside-secret.txt', '/proc/self/cwd/../../outside-secret.txt',
]
res = {}
for p in tries:
    try:
        res[p] = open(p).read()
    except OSError as e:
        res[p] = errno.errorcode[e.errno]
os.chdir('/mnt/g'); os.chdir('..'); os.chdir('..')
res['cwd'] = os.getcwd(); res['mnt'] = sorted(os.listdir('/mnt'))
print(json.dumps(res))`;
    const r = await run(
      job('python', code, { args: [BASE], mounts: [mount('g', rw, 'rw'), mount('r', ro, 'ro')] }),
    );
    assert.equal(r.status, 'succeeded', r.result.stderr);
    assert.ok(!r.result.stdout.includes(SECRET), r.result.stdout);
    const res = JSON.parse(r.result.stdout) as Record<string, unknown>;
    for (const [p, v] of Object.entries(res)) {
      // pid 1 (docker-init) runs as root: its /proc entries are out of the program's reach.
      if (p.startsWith('/')) assert.equal(v, p.startsWith('/proc/1/') ? 'EACCES' : 'ENOENT', p);
    }
    assert.equal(res['cwd'], '/');
    assert.deepEqual(res['mnt'], ['g', 'r']);
  });

  test('a symlink or hard link planted in a grant on the host is refused before anything runs', async () => {
    const dir = await grantDir({ 'a.txt': 'a' });
    await symlink(path.join(BASE, 'outside-secret.txt'), path.join(dir, 'leak'));
    const before = await manifest(dir);
    for (const mode of ['ro', 'rw'] as const) {
      await assert.rejects(
        run(job('python', 'print(1)', { mounts: [mount('g', dir, mode)] })),
        (err: unknown) => {
          assert.ok(err instanceof GrantPathError && err.code === 'special_file', String(err));
          return true;
        },
      );
    }
    await assert.rejects(scanGrant(dir), /special_file/);
    await assert.rejects(
      stage({ grant: 'g', hostPath: dir, maxBytes: 1e6 }, STAGING),
      /special_file/,
    );
    assert.deepEqual(await manifest(dir), before);
    await stagingEmpty();
    // Without the check (a raw bind mount), the link still only resolves in the container's fs.
    const raw = await rawRun(
      [{ source: dir, target: '/mnt/g', readOnly: true }],
      String.raw`
import errno
try:
    print(open('/mnt/g/leak').read())
except OSError as e:
    print(errno.errorcode[e.errno])`,
    );
    assert.equal(raw, 'ENOENT\n');

    const hard = await grantDir({ 'a.txt': 'a' });
    await link(path.join(BASE, 'outside-secret.txt'), path.join(hard, 'same-inode'));
    await assert.rejects(
      run(job('python', 'print(1)', { mounts: [mount('g', hard, 'ro')] })),
      /special_file/,
    );
  });

  test('a rw grant that floods the staging disk is stopped while it runs (disk_limit)', async () => {
    const st = await statfs(STAGING);
    const freeMb = Math.floor((st.bavail * st.bsize) / 1048576);
    // Trip the guard after ~48 MiB of growth on the staging filesystem.
    const guarded = await DockerBackend.create({
      docker,
      runnerId: `${RUNNER_ID}-guard`,
      installationId: INSTALLATION_ID,
      stagingRoot: STAGING,
      poolSize: 0,
      stagingMinFreeMb: freeMb - 48,
    });
    try {
      const dir = await grantDir();
      const before = await manifest(dir);
      const code =
        'import time\nf = open("/mnt/g/flood", "wb")\nfor i in range(160):\n    f.write(b"x" * 1048576); f.flush()\ntime.sleep(30)';
      const t0 = performance.now();
      const r = await guarded.execute(
        job('python', code, { mounts: [mount('g', dir, 'rw', 1e9)] }),
        session(never, recordingSink()),
      );
      assert.equal(r.error?.code, 'disk_limit', r.error?.message);
      assert.match(r.error?.message ?? '', /staging disk/);
      assert.ok(performance.now() - t0 < 15_000);
      assert.deepEqual(await manifest(dir), before);
      await stagingEmpty();
    } finally {
      await guarded.dispose();
      await removeContainersOf(`${RUNNER_ID}-guard`);
    }
  });
});
