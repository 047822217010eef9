/**
 * Filesystem grants for isolate tasks through the `fs` global: real isolated-vm in real host
 * processes, real temp directories as grants. The last suite goes through the real HTTP app,
 * Redis and runner. Nothing is mocked.
 */
import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { existsSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { link, mkdir, mkdtemp, readdir, readFile, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, beforeEach, describe, test } from 'node:test';
import type { FileChange, ResolvedMount } from '../../protocol/task.ts';
import { IsolateBackend } from '../../runner/backends/isolate.ts';
import { IsolateHostPool } from '../../runner/isolate-host/host-pool.ts';
import { startStack, type Stack } from '../helpers/stack.ts';
import { session } from '../helpers/session.ts';

let backend: IsolateBackend;
let base: string;
let grantDir: string;
let outside: string;

/** Every file under `dir` with its sha256: "byte-for-byte untouched" is equality of this. */
async function manifest(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const walk = async (d: string) => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      const rel = path.relative(dir, p);
      if (e.isDirectory()) {
        out[`${rel}/`] = 'dir';
        await walk(p);
      } else if (e.isSymbolicLink()) out[rel] = 'symlink';
      else out[rel] = createHash('sha256').update(await readFile(p)).digest('hex');
    }
  };
  await walk(dir);
  return out;
}

const limits = { timeoutMs: 3000, cpuMs: 3000, memoryMb: 64, outputBytes: 1 << 20 };
function run(code: string, mounts: ResolvedMount[], extra: Partial<typeof limits> = {}) {
  return backend.execute(
    { version: 'v1', taskId: randomUUID(), tenantId: 't', agentId: 'a', runtime: 'javascript', code, limits: { ...limits, ...extra }, mounts },
    session(new AbortController().signal, { output() {} }),
  );
}
const ro = (): ResolvedMount => ({ grant: 'data', hostPath: grantDir, path: '/mnt/data', mode: 'ro', maxBytes: 1 << 20 });
const rw = (maxBytes = 1 << 20): ResolvedMount => ({ grant: 'data', hostPath: grantDir, path: '/mnt/data', mode: 'rw', maxBytes });

before(async () => {
  base = await mkdtemp(path.join(tmpdir(), 'airlock-isofs-'));
  outside = path.join(base, 'outside');
  await mkdir(outside);
  await writeFile(path.join(outside, 'secret.txt'), 'host secret');
  const pool = new IsolateHostPool({ size: 2 });
  await pool.ready();
  backend = new IsolateBackend({ pool, stagingRoot: path.join(base, 'staging') });
});
after(async () => {
  await backend.dispose();
});
beforeEach(async () => {
  grantDir = await mkdtemp(path.join(base, 'grant-'));
  await mkdir(path.join(grantDir, 'sub'));
  await writeFile(path.join(grantDir, 'hello.txt'), 'hello');
  await writeFile(path.join(grantDir, 'sub', 'old.txt'), 'old');
});

describe('fs global on a read-only grant', () => {
  test('fs functions are functions of the isolate: no way to the host through them', async () => {
    const r = await run(
      '[await fs.read.constructor("return typeof process")(), Object.isFrozen(fs), typeof fs.deliver, Object.getOwnPropertyNames(fs).sort()]',
      [ro()],
    );
    assert.deepEqual(r.result.value, ['undefined', true, 'undefined', ['list', 'read', 'stat', 'write']]);
  });
  test('without mounts every fs call fails cleanly', async () => {
    const r = await run('await fs.read("/mnt/data/hello.txt")', []);
    assert.equal(r.error?.code, 'runtime_error');
    assert.match(r.error?.message ?? '', /not_found/);
  });
  test('read, list and stat work', async () => {
    const r = await run(
      'const t = await fs.read("/mnt/data/hello.txt"); const l = await fs.list("/mnt/data"); const s = await fs.stat("/mnt/data/sub/old.txt"); [t, l.map(e => e.name + ":" + e.type).sort(), s.type, s.size]',
      [ro()],
    );
    assert.equal(r.status, 'succeeded', JSON.stringify(r.error));
    assert.deepEqual(r.result.value, ['hello', ['hello.txt:file', 'sub:dir'], 'file', 3]);
  });
  test('writing is refused and changes nothing', async () => {
    const before = await manifest(grantDir);
    const r = await run('await fs.write("/mnt/data/hello.txt", "x")', [ro()]);
    assert.equal(r.error?.code, 'runtime_error');
    assert.match(r.error?.message ?? '', /read_only/);
    assert.deepEqual(await manifest(grantDir), before);
  });
});

describe('fs global on a writable grant (staged)', () => {
  test('a successful task applies exactly its changes and lists them', async () => {
    const r = await run(
      'await fs.write("/mnt/data/new/n.txt", "new"); await fs.write("/mnt/data/hello.txt", "changed"); (await fs.read("/mnt/data/hello.txt"))',
      [rw()],
    );
    assert.equal(r.status, 'succeeded', JSON.stringify(r.error));
    assert.equal(r.result.value, 'changed');
    const sha = (s: string) => createHash('sha256').update(s).digest('hex');
    assert.deepEqual(r.result.changes, [
      { grant: 'data', path: 'hello.txt', change: 'modified', size: 7, sha256: sha('changed') },
      { grant: 'data', path: 'new', change: 'created' },
      { grant: 'data', path: 'new/n.txt', change: 'created', size: 3, sha256: sha('new') },
    ]);
    assert.equal(await readFile(path.join(grantDir, 'hello.txt'), 'utf8'), 'changed');
    assert.equal(await readFile(path.join(grantDir, 'new', 'n.txt'), 'utf8'), 'new');
  });
  for (const [name, code, extra, status] of [
    ['throws', 'await fs.write("/mnt/data/hello.txt", "x"); throw new Error("no")', {}, 'failed'],
    ['times out', 'await fs.write("/mnt/data/hello.txt", "x"); while (true) {}', { timeoutMs: 300 }, 'timed_out'],
  ] as const) {
    test(`a task that ${name} leaves the grant byte-for-byte untouched`, async () => {
      const before = await manifest(grantDir);
      const r = await run(code, [rw()], extra);
      assert.equal(r.status, status);
      assert.deepEqual(await manifest(grantDir), before);
    });
  }
  test('a cancelled task leaves the grant untouched', async () => {
    const before = await manifest(grantDir);
    const ac = new AbortController();
    // Aborted once the write is done and the loop runs (the code says so), not after a guessed
    // delay; without that output the task would time out and fail this test.
    const p = backend.execute(
      { version: 'v1', taskId: randomUUID(), tenantId: 't', agentId: 'a', runtime: 'javascript', code: 'await fs.write("/mnt/data/hello.txt", "x"); console.log("written"); while (true) {}', limits, mounts: [rw()] },
      session(ac.signal, { output: () => ac.abort() }),
    );
    assert.equal((await p).status, 'cancelled');
    assert.deepEqual(await manifest(grantDir), before);
  });
  test('writing past maxBytes fails with disk_limit-sized refusal and nothing is applied', async () => {
    const before = await manifest(grantDir);
    const r = await run('await fs.write("/mnt/data/big.txt", "x".repeat(5000))', [rw(4096)]);
    assert.equal(r.status, 'failed');
    assert.match(r.error?.message ?? '', /quota_exceeded/);
    assert.deepEqual(await manifest(grantDir), before);
  });
});

// A call the task starts but does not await still runs in the host when the code ends. These
// tests start many sizeable writes at once so that, without the host waiting for them before it
// reports, the runner would diff/discard the staged copy while they are still landing.
describe('fs calls the task did not await', () => {
  const staging = () => path.join(base, 'staging');
  const sha = (s: string) => createHash('sha256').update(s).digest('hex');
  const FILES = 40;
  /** Content of file `i`: 512 KiB, distinct per file (CONTENT_JS is the same in the task). */
  const content = (i: number) => `${i}:`.padEnd(512 * 1024, String.fromCharCode(97 + (i % 26)));
  const CONTENT_JS = '(i) => `${i}:`.padEnd(512 * 1024, String.fromCharCode(97 + (i % 26)))';
  const writeAll = (dir: (i: string) => string) =>
    `const content = ${CONTENT_JS}; for (let i = 0; i < ${FILES}; i++) fs.write(${dir('i')}, content(i));`;

  test('un-awaited writes of several files all reach the grant and are all listed', async () => {
    const r = await run(`${writeAll((i) => `"/mnt/data/u/f" + ${i} + ".txt"`)} "done"`, [rw(64 << 20)]);
    assert.equal(r.status, 'succeeded', JSON.stringify(r.error));
    assert.equal(r.result.value, 'done');
    const expected: FileChange[] = [{ grant: 'data', path: 'u', change: 'created' }];
    for (let i = 0; i < FILES; i++) {
      const text = content(i);
      expected.push({ grant: 'data', path: `u/f${i}.txt`, change: 'created', size: text.length, sha256: sha(text) });
      assert.equal(await readFile(path.join(grantDir, 'u', `f${i}.txt`), 'utf8'), text, `u/f${i}.txt`);
    }
    const byPath = (a: { path: string }, b: { path: string }) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0);
    assert.deepEqual([...(r.result.changes ?? [])].sort(byPath), expected.sort(byPath));
    assert.deepEqual((await readdir(path.join(grantDir, 'u'))).length, FILES, 'no temp file applied');
    assert.deepEqual(await readdir(staging()), [], 'no staged copy left behind');
  });

  for (const [name, tail, extra, code] of [
    ['throws', 'throw new Error("no")', {}, 'runtime_error'],
    ['exceeds its output limit', 'console.log("x".repeat(2048))', { outputBytes: 1024 }, 'output_limit'],
  ] as const) {
    test(`un-awaited writes, then the task ${name}: grant byte-for-byte untouched, no staged leftovers`, async () => {
      // 1000 files already in the grant: removing their staged copy takes long enough that
      // writes still landing in it when the task ends would be caught there.
      await mkdir(path.join(grantDir, 'many'));
      for (let i = 0; i < 1000; i++) await writeFile(path.join(grantDir, 'many', `m${i}`), 'm');
      const before = await manifest(grantDir);
      // One new directory per file: entries keep appearing while the copy would be removed.
      const r = await run(`${writeAll((i) => `"/mnt/data/d" + ${i} + "/f.txt"`)} ${tail}`, [rw(64 << 20)], extra);
      assert.equal(r.status, 'failed');
      assert.equal(r.error?.code, code, r.error?.message);
      assert.deepEqual(await manifest(grantDir), before);
      assert.deepEqual(await readdir(staging()), [], 'no staged copy left behind');
    });
  }

  test('a write chained after an un-awaited one: what is listed is exactly what reached the grant', async () => {
    const before = await manifest(grantDir);
    const r = await run(
      `(async () => { await fs.write("/mnt/data/first.txt", "${'1'.repeat(1000)}"); await fs.write("/mnt/data/second.txt", "2"); })(); ${writeAll((i) => `"/mnt/data/f" + ${i} + ".txt"`)} 1`,
      [rw(64 << 20)],
    );
    assert.equal(r.status, 'succeeded', JSON.stringify(r.error));
    const changed = (r.result.changes ?? []).map((c) => c.path).sort();
    // The first write was started by the code, so it is done; the second starts only once the
    // first has answered, which may be after the task ended (then it never runs).
    assert.ok(changed.includes('first.txt'), JSON.stringify(changed));
    const now = await manifest(grantDir);
    const added = Object.keys(now).filter((k) => !(k in before)).sort();
    assert.deepEqual(added, changed);
    for (const c of r.result.changes ?? []) assert.equal(now[c.path], c.sha256, c.path);
    assert.deepEqual(await readdir(staging()), [], 'no staged copy left behind');
  });
});

describe('two writable grants: refusals are reported as for container tasks', () => {
  let second: string;
  beforeEach(async () => {
    second = await mkdtemp(path.join(base, 'second-'));
    await writeFile(path.join(second, 'b.txt'), 'b');
  });
  const both = (secondMaxBytes = 1 << 20): ResolvedMount[] => [
    rw(),
    { grant: 'second', hostPath: second, path: '/mnt/second', mode: 'rw', maxBytes: secondMaxBytes },
  ];
  const CODE = 'await fs.write("/mnt/data/hello.txt", "changed"); await fs.write("/mnt/second/new.txt", "pwned"); console.log("written"); 1';
  /** Runs CODE; `meanwhile` runs on the host when it prints: after staging, before apply. */
  function runMeanwhile(mounts: ResolvedMount[], meanwhile: () => void) {
    let done = false;
    return backend.execute(
      { version: 'v1', taskId: randomUUID(), tenantId: 't', agentId: 'a', runtime: 'javascript', code: CODE, limits, mounts },
      session(new AbortController().signal, {
        output() {
          if (!done) meanwhile();
          done = true;
        },
      }),
    );
  }

  test('the second refused at apply after the first was written: the first one\'s changes are listed, the second is named (internal)', async () => {
    const outsideBefore = await manifest(outside);
    const r = await runMeanwhile(both(), () => {
      // The real second grant changes under the task: a link where the code created a file.
      symlinkSync(path.join(outside, 'secret.txt'), path.join(second, 'new.txt'));
    });
    assert.equal(r.status, 'failed');
    assert.equal(r.error?.code, 'internal', r.error?.message);
    assert.match(r.error?.message ?? '', /^Grant "second" was not updated: path_escape/);
    assert.equal(r.result.stdout, 'written\n');
    const sha = (s: string) => createHash('sha256').update(s).digest('hex');
    assert.deepEqual(r.result.changes, [
      { grant: 'data', path: 'hello.txt', change: 'modified', size: 7, sha256: sha('changed') },
    ]);
    assert.equal(await readFile(path.join(grantDir, 'hello.txt'), 'utf8'), 'changed', 'the first grant was applied');
    assert.deepEqual(await manifest(second), { 'b.txt': sha('b'), 'new.txt': 'symlink' }, 'the second was not');
    assert.deepEqual(await manifest(outside), outsideBefore);
    assert.deepEqual(await readdir(path.join(base, 'staging')), [], 'no staged copy left behind');
  });

  test('the second refused at diff (over its byte cap): disk_limit naming it, nothing applied in any grant', async () => {
    const before = [await manifest(grantDir), await manifest(second)];
    const staging = path.join(base, 'staging');
    const r = await runMeanwhile(both(4096), () => {
      // The bridge keeps the code under the cap; grow the second grant's copy past it directly.
      const copy = readdirSync(staging)
        .map((d) => path.join(staging, d))
        .find((d) => existsSync(path.join(d, 'b.txt')));
      if (copy) writeFileSync(path.join(copy, 'big.bin'), Buffer.alloc(8192)); // else: no disk_limit below
    });
    assert.equal(r.status, 'failed');
    assert.equal(r.error?.code, 'disk_limit', r.error?.message);
    assert.match(r.error?.message ?? '', /^Grant "second": quota_exceeded: .*; nothing was applied$/);
    assert.deepEqual(r.result.changes, []);
    assert.deepEqual([await manifest(grantDir), await manifest(second)], before);
    assert.deepEqual(await readdir(staging), [], 'no staged copy left behind');
  });
});

describe('".." alone cannot leave a grant through fs (targets are plain files: nothing else would refuse them)', () => {
  // Not the describe below: its hard link to outside/secret.txt makes that file refused as a
  // hard link (nlink 2) however it is reached, which would hide a missing ".." guard.
  let plain: string;
  beforeEach(async () => {
    plain = path.join(outside, `plain-${randomUUID()}.txt`);
    await writeFile(plain, 'outside plain');
    assert.equal((await stat(plain)).nlink, 1);
  });
  const reads = (name: string) => [
    `fs.read("/mnt/data/../outside/${name}")`,
    `fs.read("/mnt/data/sub/../../outside/${name}")`,
    `fs.stat("/mnt/data/../outside/${name}")`,
    'fs.list("/mnt/data/..")',
    'fs.list("/mnt/data/sub/../..")',
  ];
  for (const mode of ['ro', 'rw'] as const) {
    test(`${mode}: reads, stats and lists through ".." are refused (path_escape)`, async () => {
      for (const attempt of reads(path.basename(plain))) {
        const r = await run(`await ${attempt}`, [mode === 'ro' ? ro() : rw()]);
        assert.equal(r.status, 'failed', attempt);
        assert.equal(r.error?.code, 'runtime_error', attempt);
        assert.match(r.error?.message ?? '', /path_escape|path_invalid/, attempt);
        assert.doesNotMatch(r.error?.message ?? '', /outside plain/);
      }
    });
  }
  test('rw: a write through ".." fails and nothing outside changes', async () => {
    const before = await manifest(base);
    const r = await run(
      `await fs.write("/mnt/data/../outside/${path.basename(plain)}", "pwned")`,
      [rw()],
    );
    assert.equal(r.status, 'failed');
    assert.match(r.error?.message ?? '', /path_escape|path_invalid/);
    const after = await manifest(base);
    assert.deepEqual(
      Object.fromEntries(Object.entries(after).filter(([p]) => !p.startsWith('staging'))),
      Object.fromEntries(Object.entries(before).filter(([p]) => !p.startsWith('staging'))),
    );
    assert.equal(await readFile(plain, 'utf8'), 'outside plain');
  });
});

describe('no path escapes a grant through fs', () => {
  beforeEach(async () => {
    await symlink(outside, path.join(grantDir, 'abs-link'));
    await symlink('../outside/secret.txt', path.join(grantDir, 'rel-link'));
    await link(path.join(outside, 'secret.txt'), path.join(grantDir, 'hard-link'));
  });
  // ".." is tested alone above (here its target is a hard link, refused whatever the path).
  const attempts = [
    'fs.read("/mnt/data/abs-link/secret.txt")',
    'fs.read("/mnt/data/rel-link")',
    'fs.read("/mnt/data/hard-link")',
    'fs.read("/proc/self/root/etc/passwd")',
    'fs.read("/mnt/data/proc/self/root/etc/passwd")',
    'fs.list("/mnt/data/abs-link")',
    'fs.stat("/mnt/data/rel-link")',
    'fs.read("/mnt/data/sub/\\u0000x")',
  ];
  for (const attempt of attempts) {
    test(`ro: ${attempt} fails`, async () => {
      const r = await run(`await ${attempt}`, [ro()]);
      assert.equal(r.status, 'failed');
      assert.equal(r.error?.code, 'runtime_error');
      assert.match(r.error?.message ?? '', /path_escape|special_file|not_found|path_invalid/);
      assert.doesNotMatch(r.error?.message ?? '', /host secret/);
    });
  }
  test('rw: a grant holding symlinks or hard links cannot be staged; the outside is untouched', async () => {
    const before = await manifest(outside);
    const r = await run('await fs.write("/mnt/data/abs-link/secret.txt", "pwned")', [rw()]);
    assert.equal(r.status, 'failed');
    assert.equal(r.error?.code, 'internal');
    assert.match(r.error?.message ?? '', /grant could not be mounted/);
    assert.deepEqual(await manifest(outside), before);
    assert.equal((await stat(path.join(outside, 'secret.txt'))).size, 'host secret'.length);
  });
});

describe('through the API', () => {
  const ADMIN = `admin-${randomUUID()}`;
  let stack: Stack;
  before(async () => {
    stack = await startStack({ harnessEnv: { AIRLOCK_ADMIN_API_KEY: ADMIN, AIRLOCK_ADMIN_TENANT: 'acme', GRANT_ROOTS: base } });
  });
  after(async () => {
    await stack.close();
  });
  test('an isolate task with an rw grant returns its changes, which are applied', async () => {
    const put = await stack.app.inject({
      method: 'PUT',
      url: '/v1/admin/grants/notes',
      headers: { authorization: `Bearer ${ADMIN}` },
      payload: { hostPath: grantDir, mode: 'rw', maxBytes: 1 << 20, allowedAgents: ['alice'] },
    });
    assert.ok([200, 201].includes(put.statusCode), put.body);
    const res = await stack.app.inject({
      method: 'POST',
      url: '/v1/tasks',
      headers: stack.headers('alice'),
      payload: { runtime: 'typescript', code: 'const n: string = "note"; await fs.write("/mnt/notes/a.txt", n); 1', mounts: [{ grant: 'notes', path: '/mnt/notes', mode: 'rw' }], wait: 10 },
    });
    const task = res.json();
    assert.equal(task.status, 'succeeded', res.body);
    assert.deepEqual(task.result.changes.map((c: { path: string; change: string }) => [c.path, c.change]), [['a.txt', 'created']]);
    assert.equal(await readFile(path.join(grantDir, 'a.txt'), 'utf8'), 'note');
  });
});
