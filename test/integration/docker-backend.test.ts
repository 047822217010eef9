/**
 * DockerBackend driven directly, on the REAL Docker engine (docker.io 20.10 here, cgroup v1) with
 * the REAL sandbox images (images/build.sh) and the real supervisor: real containers, real
 * kernel limits (pids, memory, tmpfs sizes), real network namespaces, real kills through the
 * engine API. Nothing is mocked or faked. Grants: docker-backend-grants.test.ts.
 *
 * With CI=true a missing engine fails the suite; locally too, unless AIRLOCK_SKIP_DOCKER=1 (the
 * skip prints its reason). Every container is labelled with this file's own runner id and
 * removed by that label at the end.
 */
import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { JobPayload } from '../../protocol/job.ts';
import {
  buildContainerSpec,
  buildHostConfig,
  MANAGED_LABEL,
  POOL_LABEL,
  READONLY_PATHS,
  RUNNER_LABEL,
  SUPERVISOR_CMD,
} from '../../runner/backends/docker-config.ts';
import { DockerBackend } from '../../runner/backends/docker.ts';
import { SANDBOX_IMAGE_TAG } from '../../runner/backends/supervisor-protocol.ts';
import {
  containersOf,
  docker,
  dockerGate,
  job,
  median,
  mount,
  recordingSink,
  removeContainersOf,
} from '../helpers/docker.ts';
import { session } from '../helpers/session.ts';

const skip = await dockerGate();
const RUNNER_ID = `test-docker-${randomUUID()}`;
const INSTALLATION_ID = `test-docker-${randomUUID()}`;
const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');
const never = new AbortController().signal;
// A variable of the test process: it must never reach a sandbox (Env is empty, DKR-7).
process.env['AIRLOCK_TEST_SENTINEL'] = 'host-secret';

describe('DockerBackend (real engine)', { skip }, () => {
  let backend: DockerBackend;
  const run = (j: JobPayload, signal = never) => backend.execute(j, session(signal, recordingSink()));

  before(async () => {
    backend = await DockerBackend.create({
      docker,
      runnerId: RUNNER_ID,
      installationId: INSTALLATION_ID,
      stagingRoot: `/tmp/airlock-test-staging-${RUNNER_ID}`,
      poolSize: 2,
    });
    await backend.pool.settled();
  });
  after(async () => {
    await backend?.dispose();
    await backend?.dispose(); // idempotent
    await removeContainersOf(RUNNER_ID);
  });

  describe('runtimes: stdin, input files, args, /out files', () => {
    const bin = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    const programs = {
      python: [
        'import os, sys',
        'data = open("data/in.txt").read()',
        'print(sys.argv[1:], sys.stdin.read(), data)',
        'print("warn", file=sys.stderr)',
        'os.makedirs("/out/sub")',
        'open("/out/r.txt", "w").write(data.upper())',
        'open("/out/sub/b.bin", "wb").write(bytes(range(256)))',
      ].join('\n'),
      node: [
        "const fs = require('fs');",
        "const data = fs.readFileSync('data/in.txt', 'utf8');",
        "console.log(JSON.stringify(process.argv.slice(2)), fs.readFileSync(0, 'utf8'), data);",
        "console.error('warn');",
        "fs.mkdirSync('/out/sub'); fs.writeFileSync('/out/r.txt', data.toUpperCase());",
        "fs.writeFileSync('/out/sub/b.bin', Buffer.from([...Array(256).keys()]));",
      ].join('\n'),
      bash: [
        'read -r line',
        'echo "$*" "$line" "$(cat data/in.txt)"',
        'echo warn >&2',
        'mkdir /out/sub; tr a-z A-Z < data/in.txt > /out/r.txt',
        'for i in $(seq 0 255); do printf "\\\\$(printf %03o $i)"; done > /out/sub/b.bin',
      ].join('\n'),
    } as const;
    const expected = {
      python: "['x', 'y z'] from stdin file content\n",
      node: '["x","y z"] from stdin file content\n',
      bash: 'x y z from stdin file content\n',
    };
    for (const rt of ['python', 'node', 'bash'] as const) {
      test(rt, async () => {
        const sink = recordingSink();
        const r = await backend.execute(
          job(rt, programs[rt], {
            stdin: 'from stdin',
            args: ['x', 'y z'],
            files: [
              {
                path: 'data/in.txt',
                contentBase64: Buffer.from('file content').toString('base64'),
              },
            ],
          }),
          session(never, sink),
        );
        assert.equal(r.status, 'succeeded', JSON.stringify(r.error ?? r.result.stderr));
        assert.equal(r.error, undefined);
        assert.equal(r.result.stdout, expected[rt]);
        assert.equal(r.result.stderr, 'warn\n');
        assert.equal(sink.out.stdout, r.result.stdout, 'streamed output = result');
        assert.equal(r.result.exitCode, 0);
        assert.deepEqual(r.result.files, [
          { path: 'r.txt', size: 12, sha256: sha256('FILE CONTENT') },
          { path: 'sub/b.bin', size: 256, sha256: sha256(bin) },
        ]);
        assert.deepEqual(
          r.fileContents?.map((f) => [f.path, Buffer.from(f.contentBase64, 'base64')]),
          [
            ['r.txt', Buffer.from('FILE CONTENT')],
            ['sub/b.bin', bin],
          ],
        );
        assert.ok(r.usage.wallMs > 0 && r.usage.cpuMs > 0, JSON.stringify(r.usage));
        assert.ok((r.usage.peakMemoryBytes ?? 0) > 1024 * 1024, JSON.stringify(r.usage));
      });
    }
  });

  describe('python runs as `python3 main.py` would (prestarted interpreter)', () => {
    test('__main__, __file__, sys.argv, sys.path[0], stdin EOF, atexit, sys.exit status', async () => {
      const r = await run(
        job(
          'python',
          [
            'import atexit, os, sys',
            'atexit.register(lambda: print("atexit ran"))',
            'print(__name__, __file__, sys.argv, sys.path[0], repr(sys.stdin.read()))',
            'print(sorted(k for k in os.environ if k.startswith("AIRLOCK")))',
            'sys.exit(3)',
          ].join('\n'),
          { args: ['a b', 'c'] },
        ),
      );
      assert.equal(r.status, 'failed');
      assert.equal(r.error?.code, 'nonzero_exit');
      assert.equal(r.result.exitCode, 3);
      assert.equal(
        r.result.stdout,
        "__main__ /work/main.py ['/work/main.py', 'a b', 'c'] /work ''\n[]\natexit ran\n",
      );
    });

    test('an uncaught exception: exit 1, a traceback of the program\'s own frames only', async () => {
      const r = await run(job('python', 'def f():\n    1 / 0\nf()\n'));
      assert.equal(r.result.exitCode, 1);
      assert.equal(
        r.result.stderr,
        [
          'Traceback (most recent call last):',
          '  File "/work/main.py", line 3, in <module>',
          '    f()',
          '  File "/work/main.py", line 2, in f',
          '    1 / 0',
          '    ~~^~~',
          'ZeroDivisionError: division by zero',
          '',
        ].join('\n'),
      );
    });

    test('a syntax error is reported like the interpreter does, exit 1', async () => {
      const r = await run(job('python', 'print(1)\nif True print(2)\n'));
      assert.equal(r.result.exitCode, 1);
      assert.match(r.result.stderr, /^ {2}File "\/work\/main\.py", line 2\n/);
      assert.match(r.result.stderr, /SyntaxError: /);
      assert.doesNotMatch(r.result.stderr, /<string>|supervisor/);
      assert.equal(r.result.stdout, '');
    });
  });

  describe('limits and error codes', () => {
    test('fork bomb → pids_limit', async () => {
      const r = await run(
        job(
          'python',
          'import os, time\nwhile True:\n    try:\n        pid = os.fork()\n    except OSError:\n        raise SystemExit(3)\n    if pid == 0:\n        time.sleep(60)\n        os._exit(0)',
        ),
      );
      assert.equal(r.status, 'failed');
      assert.equal(r.error?.code, 'pids_limit', r.error?.message);
      assert.equal(r.result.exitCode, 3);
    });
    test('memory bomb → memory_limit', async () => {
      const r = await run(
        job('python', 'b = b"x" * (400 * 1024 * 1024)', { limits: { memoryMb: 64 } }),
      );
      assert.equal(r.error?.code, 'memory_limit', r.error?.message);
      assert.equal(r.status, 'failed');
      assert.equal(r.result.exitCode, null, 'killed by the OOM killer');
    });
    test('filling /tmp → disk_limit', async () => {
      const r = await run(
        job('python', 'f = open("/tmp/fill", "wb")\nwhile True:\n    f.write(b"x" * 65536)'),
      );
      assert.equal(r.error?.code, 'disk_limit', r.error?.message);
      assert.match(r.error?.message ?? '', /\/tmp/);
      assert.match(r.result.stderr, /No space left on device/);
    });
    test('a sparse file far over the /out cap → disk_limit', async () => {
      const r = await run(job('bash', 'truncate -s 100M /out/sparse'));
      assert.equal(r.error?.code, 'disk_limit', r.error?.message);
      assert.equal(r.fileContents, undefined);
    });
    test('more than 1000 files under /out, exit 0 → disk_limit naming the cap; exactly 1000 are returned', async () => {
      const write = (n: number) =>
        `import os\nfor i in range(${n}):\n    open(f"/out/f{i:04}", "w").write(str(i))`;
      const over = await run(job('python', write(1001)));
      assert.equal(over.status, 'failed');
      assert.equal(over.error?.code, 'disk_limit', over.error?.message);
      assert.match(over.error?.message ?? '', /More than 1000 files under \/out \(the cap is 1000 files\)/);
      assert.equal(over.result.exitCode, 0);
      assert.equal(over.fileContents, undefined, 'no partial listing');
      const at = await run(job('python', write(1000)));
      assert.equal(at.status, 'succeeded', at.error?.message);
      assert.equal(at.result.files?.length, 1000);
      assert.equal(at.result.files?.[999]?.path, 'f0999');
    });
    test('/out files and directories the program made unreadable (chmod 000, /out itself too) are returned', async () => {
      const code = [
        'import os',
        'os.makedirs("/out/d/e")',
        'for p, t in (("/out/a.txt", "a"), ("/out/d/b.txt", "b"), ("/out/d/e/c.txt", "c")):',
        '    open(p, "w").write(t)',
        '    os.chmod(p, 0)',
        'for d in ("/out/d/e", "/out/d", "/out"):',
        '    os.chmod(d, 0)',
      ].join('\n');
      const r = await run(job('python', code));
      assert.equal(r.status, 'succeeded', r.error?.message);
      assert.deepEqual(
        r.fileContents?.map((f) => [f.path, Buffer.from(f.contentBase64, 'base64').toString()]),
        [
          ['a.txt', 'a'],
          ['d/b.txt', 'b'],
          ['d/e/c.txt', 'c'],
        ],
      );
    });
    test('/out names as long as the API allows, 1000 of them, plus content: listed, never a platform error', async () => {
      // 7 directories of 63 four-byte characters (NAME_MAX is 255 bytes) and a 58-character
      // file name: 1008 UTF-16 units per path, the most RelativePathSchema allows, each 6 kB
      // as JSON escapes; with ~7 MiB of content the files frame is ~16 MB.
      const code = [
        'import os',
        'd = "/out/" + "/".join(["\\U0001F600" * 63] * 7)',
        'os.makedirs(d)',
        'for i in range(1000):',
        '    open(f"{d}/{i:03}" + "\\U0001F600" * 57, "wb").write(os.urandom(7000))',
      ].join('\n');
      const r = await run(job('python', code, { limits: { timeoutMs: 60_000 } }));
      assert.equal(r.status, 'succeeded', `${r.error?.code}: ${r.error?.message}`);
      assert.equal(r.result.files?.length, 1000);
      assert.equal(r.fileContents?.length, 1000);
    });
    test('output flood → output_limit, truncated to exactly the limit', async () => {
      const sink = recordingSink();
      const r = await backend.execute(
        job('python', 'while True:\n    print("flood" * 100)', {
          limits: { outputBytes: 100_000 },
        }),
        session(never, sink),
      );
      assert.equal(r.error?.code, 'output_limit');
      assert.equal(r.status, 'failed');
      assert.equal(Buffer.byteLength(r.result.stdout), 100_000);
      assert.equal(sink.out.stdout, r.result.stdout);
      assert.equal(r.result.stdoutTruncated, true);
      assert.equal(r.result.stderrTruncated, false);
    });
    test('sleeping past the timeout → timed_out / timeout, killed on time', async () => {
      const t0 = performance.now();
      const r = await run(
        job('python', 'import time\nprint("start", flush=True)\ntime.sleep(60)', {
          limits: { timeoutMs: 1000 },
        }),
      );
      const ms = performance.now() - t0;
      assert.equal(r.status, 'timed_out');
      assert.equal(r.error?.code, 'timeout');
      assert.equal(r.result.stdout, 'start\n', 'output before the kill is kept');
      assert.ok(ms < 3000, `took ${ms} ms`);
    });
    test('non-zero exit → failed / nonzero_exit with the output and exit code', async () => {
      const r = await run(job('bash', 'echo partial; echo oops >&2; exit 3'));
      assert.equal(r.status, 'failed');
      assert.equal(r.error?.code, 'nonzero_exit');
      assert.equal(r.result.exitCode, 3);
      assert.equal(r.result.stdout, 'partial\n');
      assert.equal(r.result.stderr, 'oops\n');
    });
  });

  describe('isolation from the host', () => {
    test('network: only lo, no route anywhere, nothing of the host reachable', async () => {
      const code = String.raw`
import errno, json, os, socket
def udp(ip):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.connect((ip, 53)); return 'connected'
    except OSError as e:
        return errno.errorcode[e.errno]
def tcp(ip, port):
    s = socket.socket(); s.settimeout(2)
    try:
        s.connect((ip, port)); return 'connected'
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e))
print(json.dumps({
    'ifaces': sorted(os.listdir('/sys/class/net')),
    'udp': {ip: udp(ip) for ip in ['8.8.8.8', '10.0.0.1', '172.17.0.1', '169.254.169.254']},
    'redis': tcp('127.0.0.1', 6379),
}))`;
      const r = await run(job('python', code));
      assert.equal(r.status, 'succeeded', r.result.stderr);
      const p = JSON.parse(r.result.stdout) as {
        ifaces: string[];
        udp: Record<string, string>;
        redis: string;
      };
      assert.deepEqual(p.ifaces, ['lo']);
      // connect() on a datagram socket only consults the routing table: nothing is sent.
      for (const ip of ['8.8.8.8', '10.0.0.1', '172.17.0.1', '169.254.169.254'])
        assert.equal(p.udp[ip], 'ENETUNREACH', ip);
      assert.equal(p.redis, 'ECONNREFUSED', "127.0.0.1 is the container's own loopback");
    });

    test('no host env, no docker.sock, no capabilities, seccomp, read-only root, writable only /tmp /work /out', async () => {
      const code = String.raw`
import errno, json, os
def status(key):
    return next(l.split()[1] for l in open('/proc/self/status') if l.startswith(key + ':'))
def write(d):
    p = os.path.join(d, 'probe')
    try:
        with open(p, 'w') as f: f.write('x')
        os.unlink(p); return 'ok'
    except OSError as e:
        return errno.errorcode[e.errno]
writable = []
for root, dirs, files in os.walk('/'):
    if root in ('/proc', '/sys'): dirs[:] = []; continue
    if os.access(root, os.W_OK): writable.append(root)
root = [l.split() for l in open('/proc/self/mounts') if l.split()[1] == '/'][-1]
print(json.dumps({
    'env': dict(os.environ),
    'sock': [p for p in ('/var/run/docker.sock', '/run/docker.sock') if os.path.exists(p)],
    'capEff': status('CapEff'), 'capBnd': status('CapBnd'), 'noNewPrivs': status('NoNewPrivs'), 'seccomp': status('Seccomp'),
    'uid': os.getuid(), 'rootRo': 'ro' in root[3].split(','),
    'writes': {d: write(d) for d in ['/', '/etc', '/home', '/var/tmp', '/dev/shm', '/dev/mqueue', '/dev', '/run/airlock', '/tmp', '/work', '/out']},
    'writable': sorted(writable),
}))`;
      const r = await run(job('python', code));
      assert.equal(r.status, 'succeeded', r.result.stderr);
      const p = JSON.parse(r.result.stdout) as Record<string, unknown>;
      const env = p['env'] as Record<string, string>;
      // Exactly the image's ENV plus the HOSTNAME Docker sets; nothing of the runner's.
      assert.deepEqual(Object.keys(env).sort(), [
        'HOME',
        'HOSTNAME',
        'LANG',
        'PATH',
        'PYTHONDONTWRITEBYTECODE',
        'TMPDIR',
      ]);
      assert.ok(!JSON.stringify(env).includes('host-secret'));
      assert.deepEqual(p['sock'], []);
      assert.equal(p['capEff'], '0000000000000000');
      assert.equal(p['capBnd'], '0000000000000000');
      assert.equal(p['noNewPrivs'], '1');
      assert.equal(p['seccomp'], '2');
      assert.equal(p['uid'], 10001);
      assert.equal(p['rootRo'], true);
      assert.deepEqual(p['writes'], {
        '/': 'EROFS',
        '/etc': 'EROFS',
        '/home': 'EROFS',
        '/var/tmp': 'EROFS',
        '/dev/shm': 'EROFS', // sealed by an empty read-only tmpfs (docker-config.ts)
        '/dev/mqueue': 'EROFS',
        '/dev': 'EROFS', // Docker's root-owned /dev tmpfs, under a read-only bind (READONLY_PATHS)
        '/run/airlock': 'EACCES', // the capability socket's tmpfs: the supervisor's (10000) alone
        '/tmp': 'ok',
        '/work': 'ok',
        '/out': 'ok',
      });
      assert.deepEqual(p['writable'], ['/out', '/tmp', '/work']);
    });

    test('every reachable mount is read-only except /tmp, /work, /out, rw grants and the supervisor\'s socket directory (mountinfo, strict)', async () => {
      const roDir = await mkdtemp(path.join(tmpdir(), 'airlock-mounts-ro-'));
      const rwDir = await mkdtemp(path.join(tmpdir(), 'airlock-mounts-rw-'));
      await writeFile(path.join(roDir, 'a.txt'), 'a');
      // /run/airlock is writable by the supervisor (uid 10000) only: the program's writes there
      // fail EACCES (the test above), and its socket cannot be replaced (container-caps.test.ts).
      const WRITABLE_MOUNTS = ['/mnt/rw', '/out', '/run/airlock', '/tmp', '/work'];
      const code = String.raw`
import json
mounts = []
for line in open('/proc/self/mountinfo'):
    f = line.split()
    sep = f.index('-')
    mounts.append({'id': int(f[0]), 'parent': int(f[1]), 'point': f[4], 'opts': f[5].split(','), 'fstype': f[sep + 1]})
print(json.dumps(mounts))`;
      try {
        const r = await run(
          job('python', code, { mounts: [mount('ro', roDir, 'ro'), mount('rw', rwDir, 'rw')] }),
        );
        assert.equal(r.status, 'succeeded', r.result.stderr);
        type Entry = { id: number; parent: number; point: string; opts: string[]; fstype: string };
        const mounts = JSON.parse(r.result.stdout) as Entry[];
        const byId = new Map(mounts.map((m) => [m.id, m]));
        // A mount is covered when another is mounted on the same point on top of it (the
        // read-only binds of READONLY_PATHS over Docker's originals): nothing can reach it or
        // what is mounted below it any more (umount needs CAP_SYS_ADMIN).
        // A mount is reachable when it is not covered and the mount it hangs below is reachable
        // (for a covering mount: the one below the mount it covers).
        const covered = (m: Entry) => mounts.some((n) => n.parent === m.id && n.point === m.point);
        const reachable = (m: Entry): boolean => {
          let below = byId.get(m.parent);
          while (below && below.point === m.point) below = byId.get(below.parent);
          return !covered(m) && (below === undefined || reachable(below));
        };
        const rw = (m: Entry) => !m.opts.includes('ro');
        const show = (ms: Entry[]) => ms.map((m) => `${m.point} (${m.fstype} ${m.opts.join(',')})`);
        assert.deepEqual(
          show(mounts.filter((m) => reachable(m) && rw(m))).sort(),
          show(mounts.filter((m) => reachable(m) && rw(m) && WRITABLE_MOUNTS.includes(m.point))).sort(),
          'nothing else reachable is writable',
        );
        assert.deepEqual(
          mounts.filter((m) => reachable(m) && rw(m)).map((m) => m.point).sort(),
          WRITABLE_MOUNTS,
        );
        for (const p of ['/', '/proc', '/dev', '/dev/pts', '/sys', '/sys/fs/cgroup', '/mnt/ro'])
          assert.ok(mounts.some((m) => m.point === p && reachable(m) && !rw(m)), `${p} is mounted read-only`);
        // What is writable but unreachable: exactly Docker's originals of the read-only paths.
        for (const m of mounts.filter((n) => rw(n) && covered(n)))
          assert.ok(READONLY_PATHS.includes(m.point), `${m.point} covered by a read-only bind`);
      } finally {
        await rm(roDir, { recursive: true, force: true });
        await rm(rwDir, { recursive: true, force: true });
      }
    });
  });

  describe('lifecycle', () => {
    const hostnameThenSleep =
      'import socket, time\nprint(socket.gethostname(), flush=True)\ntime.sleep(60)';
    const running = async (hostname: string) =>
      (
        await docker.listContainers({
          filters: { label: [`${RUNNER_LABEL}=${RUNNER_ID}`], status: ['running'] },
        })
      ).some((c) => c.Id.startsWith(hostname));
    /** Removal runs in the background after the result: poll for it (up to 5 s). */
    const gone = async (hostname: string) => {
      for (let i = 0; i < 50; i++) {
        if (!(await containersOf(RUNNER_ID)).some((id) => id.startsWith(hostname))) return true;
        await new Promise((r) => setTimeout(r, 100));
      }
      return false;
    };

    test('cancel kills the container itself, promptly', async () => {
      const ac = new AbortController();
      let abortedAt = 0;
      const sink = recordingSink(() => {
        abortedAt = performance.now();
        ac.abort();
      });
      const r = await backend.execute(job('python', hostnameThenSleep), session(ac.signal, sink));
      const ms = performance.now() - abortedAt;
      assert.equal(r.status, 'cancelled');
      assert.equal(r.error?.code, 'cancelled');
      // The engine killed the container before the result came back (a killed CLI client would
      // have left it running), and removes it right after.
      assert.equal(
        await running(sink.out.stdout.trim()),
        false,
        'not running when cancel resolved',
      );
      assert.ok(await gone(sink.out.stdout.trim()), 'container removed');
      console.log(
        `  cancel: abort → resolved in ${ms.toFixed(0)} ms (container killed and removed)`,
      );
      assert.ok(ms < 1000, `cancel took ${ms} ms`);
    });

    test('cancel while a cold container is being created: cancelled at once, nothing left', async () => {
      // Task containers only: the pool may be refilling meanwhile.
      const taskContainers = async () =>
        (
          await docker.listContainers({
            all: true,
            filters: { label: [`${RUNNER_LABEL}=${RUNNER_ID}`] },
          })
        )
          .filter((c) => c.Labels[POOL_LABEL] === undefined)
          .map((c) => c.Id);
      const ac = new AbortController();
      const before = new Set(await taskContainers());
      const pending = run(job('python', 'print("ran")', { limits: { memoryMb: 200 } }), ac.signal);
      setTimeout(() => ac.abort(), 20);
      const r = await pending;
      assert.equal(r.status, 'cancelled');
      assert.equal(r.result.stdout, '', 'the program never ran');
      const fresh = async () => (await taskContainers()).filter((id) => !before.has(id));
      for (let i = 0; i < 50 && (await fresh()).length > 0; i++)
        await new Promise((res) => setTimeout(res, 100));
      assert.deepEqual(await fresh(), [], 'its container was removed');
    });

    test('timeout kills the container itself', async () => {
      const sink = recordingSink();
      const r = await backend.execute(
        job('python', hostnameThenSleep, { limits: { timeoutMs: 800 } }),
        session(never, sink),
      );
      assert.equal(r.error?.code, 'timeout');
      assert.equal(
        await running(sink.out.stdout.trim()),
        false,
        'not running when the result came back',
      );
      assert.ok(await gone(sink.out.stdout.trim()), 'container removed');
    });

    test('warm pool: labelled, one container per task, never reused, refilled in the background', async () => {
      await backend.pool.settled();
      const pooled = await docker.listContainers({
        filters: {
          label: [`${POOL_LABEL}=1`, `${RUNNER_LABEL}=${RUNNER_ID}`, `${MANAGED_LABEL}=1`],
        },
      });
      assert.ok(
        pooled.filter((c) => c.Image.startsWith('sha256:')).length >= 2,
        'pool containers run by image ID',
      );
      const before = backend.stats.warm;
      const a = await run(job('python', 'import socket; print(socket.gethostname())'));
      const b = await run(job('python', 'import socket; print(socket.gethostname())'));
      assert.equal(backend.stats.warm - before, 2, 'both took a warm container');
      assert.notEqual(a.result.stdout, b.result.stdout, 'two tasks, two containers');
      assert.ok(await gone(a.result.stdout.trim()), 'removed after its task');
      await backend.pool.settled();
      assert.equal(backend.pool.readyCount('python'), 2, 'refilled');
    });

    test('a restarted runner removes the containers its previous run left behind, in its own installation only', async () => {
      const orphanRunner = `test-orphans-${randomUUID()}`;
      const otherRunner = `test-other-${randomUUID()}`;
      const otherInstallation = `test-other-${randomUUID()}`;
      const image = (await docker.getImage(`airlock-sandbox-python:${SANDBOX_IMAGE_TAG}`).inspect())
        .Id;
      const limits = { memoryMb: 64, cpus: 1, pidsLimit: 16, nofile: 64, scratchMb: 1, outMb: 1 };
      const make = async (runnerId: string, installationId = INSTALLATION_ID) => {
        const c = await docker.createContainer(
          buildContainerSpec({
            image,
            cmd: SUPERVISOR_CMD,
            runnerId,
            installationId,
            hostConfig: buildHostConfig(limits),
          }),
        );
        await c.start();
        return c.id;
      };
      const left = [await make(orphanRunner), await make(orphanRunner)];
      const other = await make(otherRunner);
      // The same runner id in another installation (another checkout with its own Redis).
      const sameIdElsewhere = await make(orphanRunner, otherInstallation);
      try {
        const restarted = await DockerBackend.create({
          docker,
          runnerId: orphanRunner,
          installationId: INSTALLATION_ID,
          stagingRoot: `/tmp/airlock-test-staging-${RUNNER_ID}`,
          poolSize: 0,
        });
        await restarted.dispose();
        assert.deepEqual(await containersOf(orphanRunner), [sameIdElsewhere], 'orphans removed');
        assert.deepEqual(
          await containersOf(otherRunner),
          [other],
          "another runner's container is left alone",
        );
        for (const id of left)
          await assert.rejects(docker.getContainer(id).inspect(), /no such container/i);
      } finally {
        await removeContainersOf(orphanRunner);
        await removeContainersOf(otherRunner);
      }
    });

    test('latency of print(1): warm vs cold (printed, not asserted)', async () => {
      const N = 5;
      const warm: number[] = [];
      const cold: number[] = [];
      for (let i = 0; i < N; i++) {
        await backend.pool.settled();
        let t0 = performance.now();
        assert.equal((await run(job('python', 'print(1)'))).result.stdout, '1\n');
        warm.push(performance.now() - t0);
        t0 = performance.now();
        // Another memory limit than the pool's: create + start a container for this task.
        assert.equal(
          (await run(job('python', 'print(1)', { limits: { memoryMb: 255 } }))).result.stdout,
          '1\n',
        );
        cold.push(performance.now() - t0);
      }
      const fmt = (xs: number[]) =>
        `median ${median(xs).toFixed(0)} ms (min ${Math.min(...xs).toFixed(0)}, max ${Math.max(...xs).toFixed(0)})`;
      console.log(
        `  python print(1) through DockerBackend.execute, ${N} runs each:\n    warm: ${fmt(warm)}\n    cold: ${fmt(cold)}`,
      );
    });
  });
});
