/**
 * Grant filesystem layer (runner/grants/): path safety, scan, staging, diff, apply, discard, and
 * TaskMounts (the grants of one task, as both backends use them) with its staging-disk guard.
 * Real temp directories only, nothing mocked. Every escape attempt has a case; the ones that
 * could write outside assert the outside tree is byte-for-byte (and inode-for-inode) unchanged.
 *
 * Runs as root in CI: root ignores permission bits, so no case relies on chmod for safety.
 * The whole suite runs twice: with /proc/self/fd resolution (the race-free mode) and with the
 * path-string fallback, which must refuse the same things.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, afterEach, before, beforeEach, describe, test } from 'node:test';
import type { ExecuteResult, ResolvedMount } from '../../protocol/task.ts';
import { _setProcFdResolution, usingProcFd } from '../../runner/grants/dir-handle.ts';
import * as gfs from '../../runner/grants/safe-path.ts';
import { GrantPathError, type GrantPathErrorCode } from '../../runner/grants/safe-path.ts';
import { scanGrant, type Manifest } from '../../runner/grants/scan.ts';
import {
  apply,
  diff,
  discard,
  stage,
  withGrantLock,
  type StagedGrant,
} from '../../runner/grants/staging.ts';
import { stagingGuard } from '../../runner/grants/staging-guard.ts';
import { TaskMounts } from '../../runner/grants/task-mounts.ts';

const SECRET = 'TOP SECRET outside the grant\n';

interface Fx {
  base: string;
  grant: string;
  outside: string;
  staging: string;
}

/** base/{grant,outside,staging}: a small grant, a tree it must never reach, a staging root. */
function makeFixture(): Fx {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'airlock-grants-'));
  const fx = {
    base,
    grant: path.join(base, 'grant'),
    outside: path.join(base, 'outside'),
    staging: path.join(base, 'staging'),
  };
  fs.mkdirSync(path.join(fx.grant, 'sub', 'deep'), { recursive: true });
  fs.writeFileSync(path.join(fx.grant, 'a.txt'), 'alpha\n');
  fs.writeFileSync(path.join(fx.grant, 'sub', 'b.txt'), 'bravo\n');
  fs.writeFileSync(path.join(fx.grant, 'sub', 'deep', 'c.txt'), 'charlie\n');
  fs.writeFileSync(path.join(fx.grant, 'run.sh'), '#!/bin/sh\necho hi\n', { mode: 0o755 });
  fs.mkdirSync(path.join(fx.outside, 'dir'), { recursive: true });
  fs.writeFileSync(path.join(fx.outside, 'secret.txt'), SECRET);
  fs.writeFileSync(path.join(fx.outside, 'dir', 'inner.txt'), SECRET);
  fs.mkdirSync(fx.staging, { mode: 0o700 });
  return fx;
}

/** Everything observable about a tree: entries with sha256, inode, mtime, plus the root itself. */
async function fingerprint(dir: string): Promise<{ root: string; entries: [string, unknown][] }> {
  const st = fs.lstatSync(dir, { bigint: true });
  const m: Manifest = await scanGrant(dir, { refuseSpecial: false });
  return {
    root: `${st.ino}:${st.mtimeNs}:${st.mode}`,
    entries: [...m].sort(([a], [b]) => (a < b ? -1 : 1)),
  };
}

async function rejectsWith(
  p: Promise<unknown>,
  code: GrantPathErrorCode,
  label = '',
): Promise<GrantPathError> {
  let caught: unknown;
  try {
    await p;
  } catch (err) {
    caught = err;
  }
  assert.ok(
    caught instanceof GrantPathError,
    `${label}: expected GrantPathError ${code}, got ${String(caught)}`,
  );
  assert.equal(caught.code, code, `${label}: ${caught.message}`);
  return caught;
}

/** Applies `fn` to the staged dir as the sandboxed code would (plain fs calls, no safety). */
function inStage(staged: StagedGrant, rel: string): string {
  return path.join(staged.dir, rel);
}

for (const mode of ['procfd', 'fallback'] as const) {
  describe(`grants fs (${mode === 'procfd' ? '/proc/self/fd resolution' : 'path-string fallback'})`, () => {
    let fx: Fx;
    before(async () => {
      _setProcFdResolution(mode === 'procfd' ? undefined : false);
      if (mode === 'procfd')
        assert.equal(await usingProcFd(), true, '/proc/self/fd must work on Linux');
    });
    after(() => _setProcFdResolution(undefined));
    beforeEach(() => {
      fx = makeFixture();
    });
    afterEach(() => fs.rmSync(fx.base, { recursive: true, force: true }));

    describe('safe-path: lexical checks', () => {
      const ops = {
        readFile: (rel: string) => gfs.readFile(fx.grant, rel, 1024),
        writeFile: (rel: string) => gfs.writeFile(fx.grant, rel, 'x', gfs.createQuota(1e6)),
        list: (rel: string) => gfs.list(fx.grant, rel),
        stat: (rel: string) => gfs.stat(fx.grant, rel),
        remove: (rel: string) => gfs.remove(fx.grant, rel),
        makeDir: (rel: string) => gfs.makeDir(fx.grant, rel),
      };

      test('".." in any position is path_escape for every operation', async () => {
        for (const [op, fn] of Object.entries(ops)) {
          for (const rel of [
            '..',
            '../outside/secret.txt',
            'sub/../../outside/secret.txt',
            'sub/..',
            'sub/deep/../../..',
          ]) {
            await rejectsWith(fn(rel), 'path_escape', `${op}(${rel})`);
          }
        }
      });

      test('absolute paths, including /proc/self/root/..., are path_escape', async () => {
        const before = await fingerprint(fx.outside);
        for (const [op, fn] of Object.entries(ops)) {
          for (const rel of [
            path.join(fx.outside, 'secret.txt'),
            '/etc/passwd',
            '/proc/self/root/etc/passwd',
            `/proc/self/root${fx.outside}/secret.txt`,
            '/proc/self/cwd/x',
          ]) {
            await rejectsWith(fn(rel), 'path_escape', `${op}(${rel})`);
          }
        }
        assert.deepEqual(await fingerprint(fx.outside), before);
      });

      test('NUL, control characters, backslash, empty and "." segments are path_invalid', async () => {
        for (const [op, fn] of Object.entries(ops)) {
          for (const rel of [
            'a.txt\0',
            'a\0/../../etc',
            '\0',
            'sub//b.txt',
            './a.txt',
            'sub/./b.txt',
            'sub/',
            '.',
            'a\\..\\b',
            'a\nb',
            'x'.repeat(1025),
            'n'.repeat(256),
          ]) {
            await rejectsWith(
              fn(rel),
              'path_invalid',
              `${op}(${JSON.stringify(rel.slice(0, 20))})`,
            );
          }
        }
      });

      test('"" is the root for list/stat and invalid for the rest', async () => {
        assert.deepEqual(
          (await gfs.list(fx.grant, '')).map((e) => e.name),
          ['a.txt', 'run.sh', 'sub'],
        );
        assert.equal((await gfs.stat(fx.grant, '')).type, 'dir');
        for (const op of ['readFile', 'writeFile', 'remove', 'makeDir'] as const) {
          await rejectsWith(ops[op](''), 'path_invalid', op);
        }
      });

      test('a relative "proc/self/root/..." is just a name inside the grant', async () => {
        await rejectsWith(gfs.readFile(fx.grant, 'proc/self/root/etc/passwd', 1024), 'not_found');
        fs.mkdirSync(path.join(fx.grant, 'proc/self/root/etc'), { recursive: true });
        fs.writeFileSync(path.join(fx.grant, 'proc/self/root/etc/passwd'), 'grant-owned\n');
        assert.equal(
          (await gfs.readFile(fx.grant, 'proc/self/root/etc/passwd', 1024)).toString(),
          'grant-owned\n',
        );
      });

      test('a grant root that is itself a symlink, or relative, is refused', async () => {
        const link = path.join(fx.base, 'grant-link');
        fs.symlinkSync(fx.outside, link);
        await rejectsWith(gfs.readFile(link, 'secret.txt', 1024), 'path_escape');
        await rejectsWith(gfs.list('grant', ''), 'path_invalid');
      });
    });

    describe('safe-path: plain operations', () => {
      test('read, write (creating parents 0755, file 0644), list, stat, remove', async () => {
        const q = gfs.createQuota(1000, 0);
        await gfs.writeFile(fx.grant, 'new/nested/f.txt', 'hello', q);
        assert.equal(q.usedBytes, 5);
        assert.equal((await gfs.readFile(fx.grant, 'new/nested/f.txt', 100)).toString(), 'hello');
        assert.equal(fs.statSync(path.join(fx.grant, 'new/nested')).mode & 0o777, 0o755);
        assert.equal(fs.statSync(path.join(fx.grant, 'new/nested/f.txt')).mode & 0o777, 0o644);
        assert.deepEqual(await gfs.list(fx.grant, 'sub'), [
          { name: 'b.txt', type: 'file', size: 6 },
          { name: 'deep', type: 'dir', size: 0 },
        ]);
        const st = await gfs.stat(fx.grant, 'sub/b.txt');
        assert.equal(st.type, 'file');
        assert.equal(st.size, 6);
        await gfs.writeFile(fx.grant, 'new/nested/f.txt', 'hi', q);
        assert.equal(q.usedBytes, 2, 'overwrite charges the difference');
        await gfs.remove(fx.grant, 'new', q);
        assert.equal(q.usedBytes, 0);
        assert.equal(fs.existsSync(path.join(fx.grant, 'new')), false);
        await rejectsWith(gfs.readFile(fx.grant, 'sub', 100), 'is_a_directory');
        await rejectsWith(gfs.readFile(fx.grant, 'a.txt/x', 100), 'not_a_directory');
        await rejectsWith(gfs.writeFile(fx.grant, 'sub', 'x', q), 'is_a_directory');
        await rejectsWith(gfs.list(fx.grant, 'a.txt'), 'not_a_directory');
        await rejectsWith(gfs.stat(fx.grant, 'nope'), 'not_found');
        // No temp files left behind by the atomic writes.
        assert.deepEqual(
          fs.readdirSync(path.join(fx.grant)).filter((n) => n.startsWith('.airlock')),
          [],
        );
      });

      test('too_large on read; quota_exceeded on write leaves nothing behind', async () => {
        await rejectsWith(gfs.readFile(fx.grant, 'a.txt', 5), 'too_large');
        assert.equal((await gfs.readFile(fx.grant, 'a.txt', 6)).toString(), 'alpha\n');
        const q = gfs.createQuota(10, 8);
        await rejectsWith(gfs.writeFile(fx.grant, 'x/y/big.txt', 'abc', q), 'quota_exceeded');
        assert.equal(q.usedBytes, 8);
        assert.equal(fs.existsSync(path.join(fx.grant, 'x')), false, 'no parent dirs created');
        await gfs.writeFile(fx.grant, 'x/ok.txt', 'ab', q);
        assert.equal(q.usedBytes, 10);
        // Replacing a.txt (6 bytes) by 6 bytes costs nothing; by 7 bytes costs 1 too many.
        await gfs.writeFile(fx.grant, 'a.txt', 'ALPHA\n', q);
        await rejectsWith(gfs.writeFile(fx.grant, 'a.txt', 'ALPHA!\n', q), 'quota_exceeded');
        assert.equal(fs.readFileSync(path.join(fx.grant, 'a.txt'), 'utf8'), 'ALPHA\n');
      });
    });

    describe('symlinks planted in the grant (absolute and relative) are never followed', () => {
      beforeEach(() => {
        fs.symlinkSync(path.join(fx.outside, 'secret.txt'), path.join(fx.grant, 'abs-link'));
        fs.symlinkSync('../outside/secret.txt', path.join(fx.grant, 'rel-link'));
        fs.symlinkSync(fx.outside, path.join(fx.grant, 'sub', 'abs-dir'));
        fs.symlinkSync('../../outside', path.join(fx.grant, 'sub', 'rel-dir'));
        fs.symlinkSync('/proc/self/root', path.join(fx.grant, 'proc-root'));
        fs.symlinkSync('.', path.join(fx.grant, 'self-loop'));
      });

      test('read', async () => {
        for (const rel of [
          'abs-link',
          'rel-link',
          'sub/abs-dir/secret.txt',
          'sub/rel-dir/secret.txt',
          'sub/rel-dir/dir/inner.txt',
          `proc-root${fx.outside}/secret.txt`,
          'self-loop/a.txt',
        ]) {
          await rejectsWith(gfs.readFile(fx.grant, rel, 1 << 20), 'path_escape', rel);
        }
      });

      test('write (through a link, into a linked dir, over a link): outside unchanged', async () => {
        const before = await fingerprint(fx.outside);
        const q = gfs.createQuota(1e6);
        for (const rel of [
          'abs-link',
          'rel-link',
          'sub/abs-dir/secret.txt',
          'sub/abs-dir/new.txt',
          'sub/rel-dir/new.txt',
          'sub/rel-dir/dir/deeper/new.txt',
          `proc-root${fx.outside}/secret.txt`,
        ]) {
          await rejectsWith(gfs.writeFile(fx.grant, rel, 'pwned', q), 'path_escape', rel);
          await rejectsWith(gfs.makeDir(fx.grant, `${rel}/d`), 'path_escape', `makeDir ${rel}`);
        }
        assert.equal(q.usedBytes, 0);
        assert.deepEqual(await fingerprint(fx.outside), before);
        assert.equal(fs.readFileSync(path.join(fx.outside, 'secret.txt'), 'utf8'), SECRET);
      });

      test('list: a linked dir is refused; links are left out of listings', async () => {
        for (const rel of ['sub/abs-dir', 'sub/rel-dir', 'proc-root', 'self-loop', 'abs-link']) {
          await rejectsWith(gfs.list(fx.grant, rel), 'path_escape', rel);
        }
        assert.deepEqual(
          (await gfs.list(fx.grant, '')).map((e) => e.name),
          ['a.txt', 'run.sh', 'sub'],
        );
        assert.deepEqual(
          (await gfs.list(fx.grant, 'sub')).map((e) => e.name),
          ['b.txt', 'deep'],
        );
      });

      test('stat and remove: refused, link and target both still there', async () => {
        for (const rel of [
          'abs-link',
          'rel-link',
          'sub/abs-dir',
          'sub/rel-dir',
          'sub/abs-dir/secret.txt',
          'sub/rel-dir/dir',
        ]) {
          await rejectsWith(gfs.stat(fx.grant, rel), 'path_escape', `stat ${rel}`);
        }
        const before = await fingerprint(fx.outside);
        for (const rel of [
          'abs-link',
          'sub/abs-dir',
          'sub/rel-dir/secret.txt',
          'sub/rel-dir/dir',
        ]) {
          await rejectsWith(gfs.remove(fx.grant, rel), 'path_escape', `remove ${rel}`);
        }
        assert.ok(fs.lstatSync(path.join(fx.grant, 'abs-link')).isSymbolicLink());
        assert.deepEqual(await fingerprint(fx.outside), before);
      });

      test('removing a directory that contains links unlinks the links, not their targets', async () => {
        fs.symlinkSync(path.join(fx.outside, 'dir'), path.join(fx.grant, 'sub', 'deep', 'to-dir'));
        const before = await fingerprint(fx.outside);
        await gfs.remove(fx.grant, 'sub');
        assert.equal(fs.existsSync(path.join(fx.grant, 'sub')), false);
        assert.deepEqual(await fingerprint(fx.outside), before);
      });

      test('scan and stage refuse with special_file naming the link; no staging dir is left', async () => {
        const err = await rejectsWith(scanGrant(fx.grant), 'special_file');
        assert.match(err.message, /symlink/);
        assert.equal(err.path, 'abs-link');
        await rejectsWith(
          stage({ grant: 'g', hostPath: fx.grant, maxBytes: 1e6 }, fx.staging),
          'special_file',
        );
        assert.deepEqual(fs.readdirSync(fx.staging), []);
        // Each link alone is enough.
        for (const l of ['abs-link', 'proc-root', 'self-loop', 'sub/abs-dir', 'sub/rel-dir'])
          fs.unlinkSync(path.join(fx.grant, l));
        const e2 = await rejectsWith(
          stage({ grant: 'g', hostPath: fx.grant, maxBytes: 1e6 }, fx.staging),
          'special_file',
        );
        assert.equal(e2.path, 'rel-link');
      });
    });

    describe('hard links and special files', () => {
      test('a hard link to a file outside: read/write/stat refused, left out of list, scan/stage refuse', async () => {
        fs.linkSync(path.join(fx.outside, 'secret.txt'), path.join(fx.grant, 'sub', 'hard.txt'));
        const before = await fingerprint(fx.outside);
        await rejectsWith(gfs.readFile(fx.grant, 'sub/hard.txt', 1 << 20), 'special_file');
        await rejectsWith(
          gfs.writeFile(fx.grant, 'sub/hard.txt', 'pwned', gfs.createQuota(1e6)),
          'special_file',
        );
        await rejectsWith(gfs.stat(fx.grant, 'sub/hard.txt'), 'special_file');
        assert.deepEqual(
          (await gfs.list(fx.grant, 'sub')).map((e) => e.name),
          ['b.txt', 'deep'],
        );
        const err = await rejectsWith(scanGrant(fx.grant), 'special_file');
        assert.equal(err.path, 'sub/hard.txt');
        assert.match(err.message, /hard link/);
        await rejectsWith(
          stage({ grant: 'g', hostPath: fx.grant, maxBytes: 1e6 }, fx.staging),
          'special_file',
        );
        assert.deepEqual(fs.readdirSync(fx.staging), []);
        assert.deepEqual(await fingerprint(fx.outside), before);
      });

      test('FIFO (read does not hang), socket, device: refused everywhere', async () => {
        const fifo = path.join(fx.grant, 'fifo');
        execFileSync('mkfifo', [fifo]);
        await rejectsWith(gfs.readFile(fx.grant, 'fifo', 100), 'special_file');
        await rejectsWith(
          gfs.writeFile(fx.grant, 'fifo', 'x', gfs.createQuota(100)),
          'special_file',
        );
        let err = await rejectsWith(scanGrant(fx.grant), 'special_file');
        assert.equal(err.path, 'fifo');
        fs.unlinkSync(fifo);

        const server = net.createServer();
        await new Promise<void>((resolve) => server.listen(path.join(fx.grant, 'sock'), resolve));
        try {
          err = await rejectsWith(scanGrant(fx.grant), 'special_file');
          assert.match(err.message, /socket/);
          await rejectsWith(
            stage({ grant: 'g', hostPath: fx.grant, maxBytes: 1e6 }, fx.staging),
            'special_file',
          );
        } finally {
          await new Promise((resolve) => server.close(resolve));
          fs.rmSync(path.join(fx.grant, 'sock'), { force: true });
        }

        let mknod = true;
        try {
          execFileSync('mknod', [path.join(fx.grant, 'null'), 'c', '1', '3'], { stdio: 'ignore' });
        } catch {
          mknod = false; // no CAP_MKNOD here: FIFO and socket above cover the code path
        }
        if (mknod) {
          err = await rejectsWith(scanGrant(fx.grant), 'special_file');
          assert.match(err.message, /device/);
          await rejectsWith(gfs.readFile(fx.grant, 'null', 100), 'special_file');
        }
      });
    });

    describe('staging', () => {
      const grantOf = (maxBytes = 1e6) => ({ grant: 'docs', hostPath: fx.grant, maxBytes });

      test('stage copies content + normalized modes into a private 0700 dir and records sha256', async () => {
        fs.chmodSync(path.join(fx.grant, 'a.txt'), 0o666);
        const staged = await stage(grantOf(), fx.staging, { owner: { uid: 10001, gid: 10001 } });
        try {
          assert.equal(path.dirname(staged.dir), fx.staging);
          const st = fs.statSync(staged.dir);
          assert.equal(st.mode & 0o777, 0o700);
          assert.equal(st.uid, 10001);
          assert.equal(fs.statSync(inStage(staged, 'sub/deep/c.txt')).uid, 10001);
          assert.equal(
            fs.statSync(inStage(staged, 'a.txt')).mode & 0o777,
            0o644,
            'world-writable not copied',
          );
          assert.equal(fs.statSync(inStage(staged, 'run.sh')).mode & 0o777, 0o755);
          assert.equal(fs.readFileSync(inStage(staged, 'sub/deep/c.txt'), 'utf8'), 'charlie\n');
          assert.deepEqual([...staged.original.keys()].sort(), [
            'a.txt',
            'run.sh',
            'sub',
            'sub/b.txt',
            'sub/deep',
            'sub/deep/c.txt',
          ]);
          assert.match(staged.original.get('a.txt')?.sha256 ?? '', /^[0-9a-f]{64}$/);
          assert.equal(staged.quota.usedBytes, 6 + 6 + 8 + 18);
          assert.deepEqual(await diff(staged), [], 'nothing changed yet');
        } finally {
          await discard(staged);
        }
        assert.deepEqual(fs.readdirSync(fx.staging), []);
      });

      test('stage refuses a grant already over its byte cap, leaving nothing', async () => {
        await rejectsWith(stage(grantOf(10), fx.staging), 'quota_exceeded');
        assert.deepEqual(fs.readdirSync(fx.staging), []);
      });

      test('failed task: discard leaves the real grant byte-for-byte untouched', async () => {
        const before = await fingerprint(fx.grant);
        const staged = await stage(grantOf(), fx.staging);
        fs.writeFileSync(inStage(staged, 'a.txt'), 'changed');
        fs.rmSync(inStage(staged, 'sub'), { recursive: true });
        fs.mkdirSync(inStage(staged, 'new/dir'), { recursive: true });
        fs.writeFileSync(inStage(staged, 'new/dir/f'), 'x');
        fs.symlinkSync(fx.outside, inStage(staged, 'escape'));
        fs.writeFileSync(
          Buffer.concat([Buffer.from(`${staged.dir}/raw-`), Buffer.from([0xff, 0xfe])]),
          'not utf-8',
        );
        await discard(staged);
        await discard(staged); // idempotent
        assert.equal(fs.existsSync(staged.dir), false);
        assert.deepEqual(await fingerprint(fx.grant), before);
        assert.equal(fs.readFileSync(path.join(fx.outside, 'secret.txt'), 'utf8'), SECRET);
        assert.equal(fs.existsSync(path.join(fx.outside, 'dir', 'inner.txt')), true);
      });

      test('successful task: diff lists exactly the changes and apply reproduces the staged tree', async () => {
        fs.mkdirSync(path.join(fx.grant, 'gone', 'inner'), { recursive: true });
        fs.writeFileSync(path.join(fx.grant, 'gone', 'inner', 'x.txt'), 'x');
        fs.writeFileSync(path.join(fx.grant, 'gone', 'y.txt'), 'y');
        fs.writeFileSync(path.join(fx.grant, 'becomes-dir'), 'file now');
        fs.mkdirSync(path.join(fx.grant, 'becomes-file'));
        fs.writeFileSync(path.join(fx.grant, 'becomes-file', 'z.txt'), 'z');
        const staged = await stage(grantOf(), fx.staging);
        try {
          // The "code": modify, create nested, delete a file and a whole tree, change types,
          // create an empty dir, chmod only (not a change).
          fs.writeFileSync(inStage(staged, 'a.txt'), 'ALPHA\n');
          await gfs.writeFile(staged.dir, 'new/nested/n.txt', 'new file\n', staged.quota);
          fs.mkdirSync(inStage(staged, 'empty-dir'));
          fs.unlinkSync(inStage(staged, 'sub/b.txt'));
          fs.rmSync(inStage(staged, 'gone'), { recursive: true });
          fs.unlinkSync(inStage(staged, 'becomes-dir'));
          fs.mkdirSync(inStage(staged, 'becomes-dir'));
          fs.writeFileSync(inStage(staged, 'becomes-dir/w.txt'), 'w');
          fs.rmSync(inStage(staged, 'becomes-file'), { recursive: true });
          fs.writeFileSync(inStage(staged, 'becomes-file'), 'now a file');
          fs.chmodSync(inStage(staged, 'sub/deep/c.txt'), 0o600);

          const changes = await diff(staged);
          assert.deepEqual(changes, [
            { grant: 'docs', path: 'a.txt', change: 'modified', size: 6, sha256: sha('ALPHA\n') },
            { grant: 'docs', path: 'becomes-dir', change: 'deleted' },
            { grant: 'docs', path: 'becomes-dir', change: 'created' },
            {
              grant: 'docs',
              path: 'becomes-dir/w.txt',
              change: 'created',
              size: 1,
              sha256: sha('w'),
            },
            { grant: 'docs', path: 'becomes-file', change: 'deleted' },
            {
              grant: 'docs',
              path: 'becomes-file',
              change: 'created',
              size: 10,
              sha256: sha('now a file'),
            },
            { grant: 'docs', path: 'becomes-file/z.txt', change: 'deleted' },
            { grant: 'docs', path: 'empty-dir', change: 'created' },
            { grant: 'docs', path: 'gone', change: 'deleted' },
            { grant: 'docs', path: 'gone/inner', change: 'deleted' },
            { grant: 'docs', path: 'gone/inner/x.txt', change: 'deleted' },
            { grant: 'docs', path: 'gone/y.txt', change: 'deleted' },
            { grant: 'docs', path: 'new', change: 'created' },
            { grant: 'docs', path: 'new/nested', change: 'created' },
            {
              grant: 'docs',
              path: 'new/nested/n.txt',
              change: 'created',
              size: 9,
              sha256: sha('new file\n'),
            },
            { grant: 'docs', path: 'sub/b.txt', change: 'deleted' },
          ]);
          const outsideBefore = await fingerprint(fx.outside);
          const untouchedIno = fs.statSync(path.join(fx.grant, 'sub/deep/c.txt')).ino;
          const applied = await apply(staged, changes);
          assert.deepEqual(applied, changes);

          const [real, copy] = [await scanGrant(fx.grant), await scanGrant(staged.dir)];
          const shape = (m: Manifest) =>
            [...m].map(([p, e]) => [p, e.type, e.size, e.sha256]).sort();
          assert.deepEqual(shape(real), shape(copy));
          assert.equal(
            fs.statSync(path.join(fx.grant, 'sub/deep/c.txt')).ino,
            untouchedIno,
            'unchanged file not rewritten',
          );
          assert.equal(fs.statSync(path.join(fx.grant, 'new/nested')).mode & 0o777, 0o755);
          assert.equal(fs.statSync(path.join(fx.grant, 'new/nested/n.txt')).mode & 0o777, 0o644);
          assert.deepEqual(
            fs.readdirSync(fx.grant).filter((n) => n.startsWith('.airlock')),
            [],
            'no temp dir left',
          );
          assert.deepEqual(await fingerprint(fx.outside), outsideBefore);
        } finally {
          await discard(staged);
        }
      });

      test('code-created symlinks (absolute, relative, to a dir) in the staging dir: diff refuses', async () => {
        for (const [name, target] of [
          ['abs', path.join(fx.outside, 'secret.txt')],
          ['rel', '../../outside/secret.txt'],
          ['sub/dirlink', fx.outside],
          ['inside', 'a.txt'],
        ] as const) {
          const staged = await stage(grantOf(), fx.staging);
          try {
            fs.symlinkSync(target, inStage(staged, name));
            const err = await rejectsWith(diff(staged), 'special_file', name);
            assert.equal(err.path, name);
          } finally {
            await discard(staged);
          }
        }
        assert.equal(fs.readFileSync(path.join(fx.outside, 'secret.txt'), 'utf8'), SECRET);
      });

      test('code-created hard links (inside the copy, or to a file outside) and FIFOs: diff refuses', async () => {
        const staged = await stage(grantOf(), fx.staging);
        try {
          fs.linkSync(inStage(staged, 'a.txt'), inStage(staged, 'a2.txt'));
          await rejectsWith(diff(staged), 'special_file', 'internal hard link');
          fs.unlinkSync(inStage(staged, 'a2.txt'));
          fs.linkSync(path.join(fx.outside, 'secret.txt'), inStage(staged, 'sub/leak.txt'));
          const err = await rejectsWith(diff(staged), 'special_file', 'hard link to outside');
          assert.equal(err.path, 'sub/leak.txt');
          fs.unlinkSync(inStage(staged, 'sub/leak.txt'));
          execFileSync('mkfifo', [inStage(staged, 'sub/deep/pipe')]);
          await rejectsWith(diff(staged), 'special_file', 'fifo');
        } finally {
          await discard(staged);
        }
        assert.equal(fs.statSync(path.join(fx.outside, 'secret.txt')).nlink, 1);
      });

      test('diff: quota_exceeded past maxBytes; path_invalid for names the protocol cannot carry', async () => {
        const staged = await stage(grantOf(100), fx.staging);
        try {
          fs.writeFileSync(inStage(staged, 'big.bin'), Buffer.alloc(100));
          await rejectsWith(diff(staged), 'quota_exceeded');
          await rejectsWith(
            gfs.writeFile(staged.dir, 'big2.bin', Buffer.alloc(100), staged.quota),
            'quota_exceeded',
          );
          fs.unlinkSync(inStage(staged, 'big.bin'));
          fs.writeFileSync(inStage(staged, 'line\nbreak'), 'x');
          await rejectsWith(diff(staged), 'path_invalid');
          fs.unlinkSync(inStage(staged, 'line\nbreak'));
          fs.writeFileSync(
            Buffer.concat([Buffer.from(`${staged.dir}/raw-`), Buffer.from([0xff])]),
            'x',
          );
          await rejectsWith(diff(staged), 'path_invalid', 'non-UTF-8 name');
        } finally {
          await discard(staged);
        }
      });

      test('apply refuses a symlink planted in the REAL grant after staging; nothing written outside', async () => {
        // Each scenario: the code makes a change under a path; then, before apply, something
        // replaces part of that path in the real grant with a link to the outside tree.
        const scenarios: { name: string; code: (s: StagedGrant) => void; plant: () => void }[] = [
          {
            name: 'parent dir replaced by absolute symlink (modify)',
            code: (s) => fs.writeFileSync(inStage(s, 'sub/b.txt'), 'pwned'),
            plant: () => {
              fs.rmSync(path.join(fx.grant, 'sub'), { recursive: true });
              fs.symlinkSync(path.join(fx.outside, 'dir'), path.join(fx.grant, 'sub'));
            },
          },
          {
            name: 'deep parent replaced by relative symlink (create)',
            code: (s) => fs.writeFileSync(inStage(s, 'sub/deep/new.txt'), 'pwned'),
            plant: () => {
              fs.rmSync(path.join(fx.grant, 'sub', 'deep'), { recursive: true });
              fs.symlinkSync('../../outside/dir', path.join(fx.grant, 'sub', 'deep'));
            },
          },
          {
            name: 'new directory pre-created as symlink',
            code: (s) => {
              fs.mkdirSync(inStage(s, 'newdir'));
              fs.writeFileSync(inStage(s, 'newdir/x.txt'), 'pwned');
            },
            plant: () =>
              fs.symlinkSync(path.join(fx.outside, 'dir'), path.join(fx.grant, 'newdir')),
          },
          {
            name: 'target file replaced by symlink to a file outside (modify)',
            code: (s) => fs.writeFileSync(inStage(s, 'a.txt'), 'pwned'),
            plant: () => {
              fs.unlinkSync(path.join(fx.grant, 'a.txt'));
              fs.symlinkSync(path.join(fx.outside, 'secret.txt'), path.join(fx.grant, 'a.txt'));
            },
          },
          {
            name: 'deleted file replaced by symlink to a file outside',
            code: (s) => fs.unlinkSync(inStage(s, 'a.txt')),
            plant: () => {
              fs.unlinkSync(path.join(fx.grant, 'a.txt'));
              fs.symlinkSync(path.join(fx.outside, 'secret.txt'), path.join(fx.grant, 'a.txt'));
            },
          },
          {
            name: 'the grant root itself replaced by a symlink',
            code: (s) => fs.writeFileSync(inStage(s, 'a.txt'), 'pwned'),
            plant: () => {
              fs.renameSync(fx.grant, `${fx.grant}.old`);
              fs.symlinkSync(fx.outside, fx.grant);
            },
          },
          {
            name: 'deleted dir replaced by symlink to a dir outside',
            code: (s) => fs.rmSync(inStage(s, 'sub'), { recursive: true }),
            plant: () => {
              fs.rmSync(path.join(fx.grant, 'sub'), { recursive: true });
              fs.symlinkSync(path.join(fx.outside, 'dir'), path.join(fx.grant, 'sub'));
            },
          },
        ];
        for (const sc of scenarios) {
          const staged = await stage(grantOf(), fx.staging);
          try {
            sc.code(staged);
            const changes = await diff(staged);
            assert.ok(changes.length > 0, sc.name);
            sc.plant();
            const outsideBefore = await fingerprint(fx.outside);
            const realBefore = await fingerprint(fx.grant).catch(() => undefined);
            const realNames = fs.readdirSync(fx.grant).sort();
            await rejectsWith(apply(staged, changes), 'path_escape', sc.name);
            assert.deepEqual(
              await fingerprint(fx.outside),
              outsideBefore,
              `${sc.name}: outside unchanged`,
            );
            assert.equal(fs.readFileSync(path.join(fx.outside, 'secret.txt'), 'utf8'), SECRET);
            assert.deepEqual(
              fs.readdirSync(fx.grant).sort(),
              realNames,
              `${sc.name}: no temp dir left`,
            );
            if (realBefore) assert.deepEqual(await fingerprint(fx.grant), realBefore);
          } finally {
            await discard(staged);
          }
          fs.rmSync(fx.base, { recursive: true, force: true });
          fx = makeFixture();
        }
      });

      test('apply refuses a hard link planted in the real grant, and doctored change lists', async () => {
        const staged = await stage(grantOf(), fx.staging);
        try {
          fs.writeFileSync(inStage(staged, 'a.txt'), 'new');
          const changes = await diff(staged);
          const realBefore = await fingerprint(fx.grant);
          // Content that does not match the list (the copy changed after diff, or a forged hash).
          await rejectsWith(
            apply(staged, [{ ...changes[0]!, sha256: '0'.repeat(64) }]),
            'conflict',
          );
          // A deletion the sandbox never made.
          await rejectsWith(
            apply(staged, [{ grant: 'docs', path: 'sub/b.txt', change: 'deleted' }]),
            'conflict',
          );
          // Another grant's change, and escape paths in the list itself.
          await rejectsWith(apply(staged, [{ ...changes[0]!, grant: 'other' }]), 'conflict');
          await rejectsWith(
            apply(staged, [{ ...changes[0]!, path: '../outside/secret.txt' }]),
            'path_escape',
          );
          await rejectsWith(
            apply(staged, [{ ...changes[0]!, path: '/etc/passwd' }]),
            'path_escape',
          );
          assert.deepEqual(await fingerprint(fx.grant), realBefore);

          fs.unlinkSync(path.join(fx.grant, 'a.txt'));
          fs.linkSync(path.join(fx.outside, 'secret.txt'), path.join(fx.grant, 'a.txt'));
          await rejectsWith(apply(staged, changes), 'special_file');
          assert.equal(fs.readFileSync(path.join(fx.outside, 'secret.txt'), 'utf8'), SECRET);
        } finally {
          await discard(staged);
        }
      });

      test('discard never follows a link the code planted, even in place of a directory', async () => {
        const staged = await stage(grantOf(), fx.staging);
        const before = await fingerprint(fx.outside);
        fs.rmSync(inStage(staged, 'sub'), { recursive: true });
        fs.symlinkSync(fx.outside, inStage(staged, 'sub'));
        fs.symlinkSync(path.join(fx.outside, 'secret.txt'), inStage(staged, 'a.txt.link'));
        await discard(staged);
        assert.equal(fs.existsSync(staged.dir), false);
        assert.deepEqual(await fingerprint(fx.outside), before);
      });
    });
  });
}

describe('grants fs: races (/proc/self/fd mode only)', () => {
  let fx: Fx;
  beforeEach(() => {
    _setProcFdResolution(undefined);
    fx = makeFixture();
  });
  afterEach(() => fs.rmSync(fx.base, { recursive: true, force: true }));

  test('a directory swapped for a symlink in a tight loop never redirects a read or a write', async (t) => {
    if (!(await usingProcFd())) {
      t.skip('no /proc/self/fd: the fallback narrows but does not close this race');
      return;
    }
    const d = path.join(fx.grant, 'd');
    fs.mkdirSync(d);
    fs.writeFileSync(path.join(d, 'secret.txt'), 'inside\n');
    // Outside has a file of the same name; the swapper alternates d between the real dir and a
    // symlink to outside/, in another process so it truly runs between our syscalls.
    const swapper = spawn(
      process.execPath,
      [
        '-e',
        `const fs=require('fs');const [d,o]=process.argv.slice(1);const t=d+'.real';
       for(;;){try{fs.renameSync(d,t);fs.symlinkSync(o,d);fs.unlinkSync(d);fs.renameSync(t,d);}catch{}}`,
        d,
        fx.outside,
      ],
      { stdio: 'ignore' },
    );
    const before = await fingerprint(fx.outside);
    const outcomes = new Map<string, number>();
    try {
      const deadline = Date.now() + 400;
      let i = 0;
      while (Date.now() < deadline) {
        i++;
        for (const op of [
          () =>
            gfs
              .readFile(fx.grant, 'd/secret.txt', 1024)
              .then((b) => assert.equal(b.toString(), 'inside\n')),
          () => gfs.writeFile(fx.grant, `d/w${i % 4}.txt`, 'pwned', gfs.createQuota(1e9)),
          () =>
            gfs
              .list(fx.grant, 'd')
              .then((l) => assert.ok(!l.some((e) => e.name === 'dir'), 'listed outside')),
        ]) {
          try {
            await op();
            outcomes.set('ok', (outcomes.get('ok') ?? 0) + 1);
          } catch (err) {
            if (!(err instanceof GrantPathError)) throw err;
            outcomes.set(err.code, (outcomes.get(err.code) ?? 0) + 1);
          }
        }
      }
    } finally {
      swapper.kill('SIGKILL');
      await new Promise((resolve) => swapper.once('exit', resolve));
    }
    assert.deepEqual(await fingerprint(fx.outside), before, 'outside never written');
    assert.ok(
      (outcomes.get('ok') ?? 0) > 0,
      `some operations succeeded: ${JSON.stringify([...outcomes])}`,
    );
    t.diagnostic(`outcomes: ${JSON.stringify([...outcomes])}`);
  });

  test('apply while a real-grant directory is swapped for a symlink in a tight loop never writes outside', async (t) => {
    if (!(await usingProcFd())) {
      t.skip('no /proc/self/fd');
      return;
    }
    const sub = path.join(fx.grant, 'sub');
    const before = await fingerprint(fx.outside);
    const outcomes = new Map<string, number>();
    const count = (k: string) => outcomes.set(k, (outcomes.get(k) ?? 0) + 1);
    const swapper = spawn(
      process.execPath,
      [
        '-e',
        `const fs=require('fs');const [d,o]=process.argv.slice(1);const t=d+'.real';
       for(;;){try{fs.renameSync(d,t);fs.symlinkSync(o,d);fs.unlinkSync(d);fs.renameSync(t,d);}catch{}}`,
        sub,
        path.join(fx.outside, 'dir'),
      ],
      { stdio: 'ignore' },
    );
    try {
      const deadline = Date.now() + 500;
      for (let i = 0; Date.now() < deadline; i++) {
        let staged: StagedGrant | undefined;
        try {
          staged = await stage({ grant: 'g', hostPath: fx.grant, maxBytes: 1e6 }, fx.staging);
          // The swapper may have the dir renamed away while we staged: write wherever it is.
          fs.mkdirSync(inStage(staged, 'sub/deep'), { recursive: true });
          fs.writeFileSync(inStage(staged, 'sub/deep/c.txt'), `pwned ${i}`);
          fs.writeFileSync(inStage(staged, `sub/inner.txt`), `pwned ${i}`);
          fs.rmSync(inStage(staged, 'sub/b.txt'), { force: true });
          await apply(staged, await diff(staged));
          count('ok');
        } catch (err) {
          if (!(err instanceof GrantPathError)) throw err;
          count(err.code);
        } finally {
          if (staged) await discard(staged);
        }
      }
    } finally {
      swapper.kill('SIGKILL');
      await new Promise((resolve) => swapper.once('exit', resolve));
    }
    assert.deepEqual(await fingerprint(fx.outside), before, 'outside never written');
    assert.equal(fs.readFileSync(path.join(fx.outside, 'dir', 'inner.txt'), 'utf8'), SECRET);
    t.diagnostic(`outcomes: ${JSON.stringify([...outcomes])}`);
  });

  test('the per-grant lock serializes work on one grant and not across grants', async () => {
    const order: string[] = [];
    const slow = (tag: string, ms: number) => async () => {
      order.push(`${tag}+`);
      await new Promise((r) => setTimeout(r, ms));
      order.push(`${tag}-`);
    };
    await Promise.all([
      withGrantLock(fx.grant, slow('a', 30)),
      withGrantLock(`${fx.grant}/`, slow('b', 1)),
      withGrantLock(fx.outside, slow('x', 1)),
    ]);
    assert.deepEqual(
      order.filter((s) => s !== 'x+' && s !== 'x-'),
      ['a+', 'a-', 'b+', 'b-'],
    );
    assert.ok(order.indexOf('x-') < order.indexOf('a-'), 'another grant is not blocked');
  });
});

describe('TaskMounts: the grants of one task', () => {
  let fx: Fx;
  /** A second grant beside fx.grant, so "one grant stops the others" can be shown. */
  let other: string;
  beforeEach(() => {
    _setProcFdResolution(undefined);
    fx = makeFixture();
    other = path.join(fx.base, 'other');
    fs.mkdirSync(other);
    fs.writeFileSync(path.join(other, 'o.txt'), 'other\n');
  });
  afterEach(() => fs.rmSync(fx.base, { recursive: true, force: true }));

  const mountOf = (
    grant: string,
    hostPath: string,
    mode: 'ro' | 'rw',
    maxBytes = 1e6,
  ): ResolvedMount => ({ grant, hostPath, path: `/mnt/${grant}`, mode, maxBytes });
  const rootOf = (m: TaskMounts, i: number) => m.list[i]?.root ?? assert.fail(`no mount ${i}`);
  const stagingLeft = () => fs.readdirSync(fx.staging);
  const bothWritable = () =>
    TaskMounts.prepare([mountOf('docs', fx.grant, 'rw'), mountOf('other', other, 'rw')], {
      stagingRoot: fx.staging,
    });

  test('ro grants are used in place; checkReadOnly refuses a link in one up front', async () => {
    fs.symlinkSync(path.join(fx.outside, 'secret.txt'), path.join(fx.grant, 'leak'));
    const plain = await TaskMounts.prepare([mountOf('docs', fx.grant, 'ro')], {
      stagingRoot: fx.staging,
    });
    assert.equal(rootOf(plain, 0), fx.grant, 'the fs bridge refuses the link at access time');
    assert.equal(plain.hasStaged, false);
    await plain.discard();
    fs.linkSync(path.join(fx.outside, 'secret.txt'), path.join(other, 'same-inode'));
    for (const dir of [fx.grant, other]) {
      await rejectsWith(
        TaskMounts.prepare([mountOf('docs', dir, 'ro')], {
          stagingRoot: fx.staging,
          checkReadOnly: true,
        }),
        'special_file',
        dir,
      );
    }
  });

  test('rw grants are staged for the owner; a failed prepare removes what it staged', async () => {
    const stagingRoot = path.join(fx.base, 'made-by-prepare');
    const m = await TaskMounts.prepare(
      [mountOf('docs', fx.grant, 'rw'), mountOf('other', other, 'ro')],
      { stagingRoot, owner: { uid: 10001, gid: 10001 } },
    );
    assert.equal(fs.statSync(stagingRoot).mode & 0o777, 0o700);
    assert.equal(path.dirname(rootOf(m, 0)), stagingRoot);
    assert.equal(fs.statSync(path.join(rootOf(m, 0), 'a.txt')).uid, 10001);
    assert.equal(rootOf(m, 1), other);
    assert.equal(m.hasStaged, true);
    await m.discard();
    await m.discard(); // idempotent
    assert.deepEqual(fs.readdirSync(stagingRoot), []);

    fs.symlinkSync(fx.outside, path.join(other, 'leak'));
    await rejectsWith(
      TaskMounts.prepare([mountOf('docs', fx.grant, 'rw'), mountOf('other', other, 'rw')], {
        stagingRoot: fx.staging,
      }),
      'special_file',
    );
    assert.deepEqual(stagingLeft(), [], 'the first grant was staged, then removed');
  });

  test('apply: one grant refused at diff applies nothing, in any grant', async () => {
    const before = await fingerprint(fx.grant);
    const m = await bothWritable();
    fs.writeFileSync(path.join(rootOf(m, 0), 'a.txt'), 'changed');
    fs.symlinkSync('/etc/passwd', path.join(rootOf(m, 1), 'link'));
    const outcome = await m.apply();
    assert.ok(!outcome.ok);
    assert.equal(outcome.phase, 'diff');
    assert.equal(outcome.grant, 'other');
    assert.equal(outcome.error.code, 'special_file');
    assert.deepEqual(outcome.changes, []);
    assert.deepEqual(await fingerprint(fx.grant), before);
    await m.discard();
    assert.deepEqual(stagingLeft(), []);
  });

  test('apply: a grant changed on the host stops there; grants before it keep their changes', async () => {
    const before = await fingerprint(fx.outside);
    const m = await bothWritable();
    fs.writeFileSync(path.join(rootOf(m, 0), 'a.txt'), 'changed');
    fs.writeFileSync(path.join(rootOf(m, 1), 'new.txt'), 'pwned');
    fs.symlinkSync(path.join(fx.outside, 'secret.txt'), path.join(other, 'new.txt'));
    const outcome = await m.apply();
    assert.ok(!outcome.ok);
    assert.equal(outcome.phase, 'apply');
    assert.equal(outcome.grant, 'other');
    assert.equal(outcome.error.code, 'path_escape');
    assert.deepEqual(outcome.changes, [
      { grant: 'docs', path: 'a.txt', change: 'modified', size: 7, sha256: sha('changed') },
    ]);
    assert.equal(fs.readFileSync(path.join(fx.grant, 'a.txt'), 'utf8'), 'changed');
    assert.deepEqual(await fingerprint(fx.outside), before);
    await m.discard();
  });

  test('settle: applies only on success; a refusal fails the task naming the grant, with what was applied', async () => {
    const before = await fingerprint(fx.grant);
    const ran = (status: ExecuteResult['status'] = 'succeeded'): ExecuteResult => ({
      status,
      result: { value: 1, stdout: 'out', stderr: '', stdoutTruncated: false, stderrTruncated: false },
      ...(status === 'succeeded' ? {} : { error: { code: 'timeout', message: 'Timed out' } }),
      usage: { wallMs: 1, cpuMs: 1 },
    });
    const prepare = (maxBytes?: number) =>
      TaskMounts.prepare([mountOf('docs', fx.grant, 'rw', maxBytes)], { stagingRoot: fx.staging });

    // Not succeeded: the result as it was, nothing applied.
    let m = await prepare();
    fs.writeFileSync(path.join(rootOf(m, 0), 'a.txt'), 'changed');
    assert.deepEqual(await m.settle(ran('timed_out')), ran('timed_out'));
    await m.discard();
    assert.deepEqual(await fingerprint(fx.grant), before);
    assert.deepEqual(stagingLeft(), []);

    // Only ro grants: nothing to apply, no `changes`.
    m = await TaskMounts.prepare([mountOf('docs', fx.grant, 'ro')], { stagingRoot: fx.staging });
    assert.deepEqual(await m.settle(ran()), ran());

    // Refused at diff: over the byte cap → disk_limit; a link → runtime_error. Nothing applied.
    m = await prepare(100);
    fs.writeFileSync(path.join(rootOf(m, 0), 'big.txt'), 'x'.repeat(200));
    const over = await m.settle(ran());
    await m.discard();
    assert.equal(over.status, 'failed');
    assert.equal(over.error?.code, 'disk_limit');
    assert.match(over.error?.message ?? '', /^Grant "docs": quota_exceeded: .*; nothing was applied$/);
    assert.deepEqual(over.result.changes, []);
    assert.equal(over.result.stdout, 'out', 'the run\'s output is kept');
    assert.deepEqual(await fingerprint(fx.grant), before);

    m = await prepare();
    fs.symlinkSync('/etc/passwd', path.join(rootOf(m, 0), 'link'));
    const linked = await m.settle(ran());
    await m.discard();
    assert.equal(linked.error?.code, 'runtime_error');
    assert.match(linked.error?.message ?? '', /^Grant "docs": special_file: .*; nothing was applied$/);
    assert.deepEqual(linked.result.changes, []);
    assert.deepEqual(stagingLeft(), []);

    // Refused at apply of the second grant: the first grant's changes stay and are listed.
    m = await bothWritable();
    fs.writeFileSync(path.join(rootOf(m, 0), 'a.txt'), 'changed');
    fs.writeFileSync(path.join(rootOf(m, 1), 'new.txt'), 'pwned');
    fs.symlinkSync(path.join(fx.outside, 'secret.txt'), path.join(other, 'new.txt'));
    const partial = await m.settle(ran());
    await m.discard();
    assert.equal(partial.status, 'failed');
    assert.equal(partial.error?.code, 'internal');
    assert.match(partial.error?.message ?? '', /^Grant "other" was not updated: path_escape/);
    assert.deepEqual(partial.result.changes, [
      { grant: 'docs', path: 'a.txt', change: 'modified', size: 7, sha256: sha('changed') },
    ]);
    fs.writeFileSync(path.join(fx.grant, 'a.txt'), 'alpha\n'); // as before, for the last case

    // Succeeded: applied and listed.
    m = await prepare();
    fs.writeFileSync(path.join(rootOf(m, 0), 'a.txt'), 'changed');
    assert.deepEqual(await m.settle(ran()), {
      ...ran(),
      result: {
        ...ran().result,
        changes: [
          { grant: 'docs', path: 'a.txt', change: 'modified', size: 7, sha256: sha('changed') },
        ],
      },
    });
    await m.discard();
    assert.deepEqual(stagingLeft(), []);
  });

  test('stagingGuard stops a task only when the staging disk runs short', async () => {
    assert.equal(stagingGuard(fx.staging, 0).intervalMs, 250);
    assert.equal(await stagingGuard(fx.staging, 0).check(), null);
    assert.match(
      (await stagingGuard(fx.staging, Number.MAX_SAFE_INTEGER).check()) ?? '',
      /^A writable grant grew too large: the staging disk has \d+ MiB left$/,
    );
  });
});

function sha(s: string): string {
  return createHash('sha256').update(s).digest('hex');
}
