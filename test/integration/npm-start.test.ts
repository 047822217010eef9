/**
 * `npm start` as a newcomer runs it: the real command (npm → scripts/start.mjs → redis-server,
 * harness, runner, isolate hosts), real processes, real HTTP on a free loopback port. Nothing
 * is faked. Containers are off (RUNNER_BACKENDS=isolate: a Docker backend would clean up
 * containers by its runner id on the shared engine), output is JSON (not a terminal), and the
 * keys and Redis data go to a temp AIRLOCK_STATE_DIR.
 *
 * - the banner gives the dev agent's effective limits, the variables that raise them, a local
 *   admin key kept in the state directory and a first admin call that works;
 * - the local-development limits let a loop of 40 creations and reads through in seconds
 *   (production defaults: 10 creations a minute, 4 at once);
 * - polling /readyz writes no log line;
 * - Ctrl-C (SIGINT to the whole process group) stops every process within 5 s, with no error
 *   lines; SIGTERM to the launcher does the same with exit code 0;
 * - a launcher killed with SIGKILL: its harness and runner stop by themselves, and the next
 *   start stops the redis-server it left (two on one AOF would corrupt it).
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { after, describe, test } from 'node:test';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const STOP_LIMIT_MS = 5000;
const launched: ChildProcess[] = [];
const dirs: string[] = [];

after(async () => {
  for (const child of launched) if (child.exitCode === null && child.signalCode === null) process.kill(-(child.pid as number), 'SIGKILL');
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

interface Record {
  level: number;
  proc: string;
  msg: string;
  [field: string]: unknown;
}

interface Started {
  child: ChildProcess;
  lines: string[];
  records: () => Record[];
  exited: Promise<{ code: number | null; signal: string | null }>;
  ready: Record;
  port: number;
  stateDir: string;
}

/** Starts `cmd` (npm start, or the launcher itself) detached, and waits for its `ready` record. */
async function start(cmd: string, args: string[], stateDir?: string): Promise<Started> {
  const port = await freePort();
  const dir = stateDir ?? (await mkdtemp(path.join(tmpdir(), 'airlock-start-')));
  if (!stateDir) dirs.push(dir);
  const child = spawn(cmd, args, {
    cwd: ROOT,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      PATH: process.env['PATH'],
      HOME: process.env['HOME'],
      AIRLOCK_STATE_DIR: dir,
      PORT: String(port),
      BROKER_PORT: String(await freePort()),
      RUNNER_BACKENDS: 'isolate',
      RUNNER_ID: `test-${randomUUID()}`,
      ISOLATE_HOSTS: '1',
    },
  });
  launched.push(child);
  const lines: string[] = [];
  let partial = '';
  const onData = (d: Buffer) => {
    const parts = (partial + d.toString()).split('\n');
    partial = parts.pop() ?? '';
    lines.push(...parts.filter((l) => l !== ''));
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const records = () => lines.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record);
  const deadline = Date.now() + 120_000;
  for (;;) {
    const ready = records().find((r) => r.msg === 'ready');
    if (ready) return { child, lines, records, exited, ready, port, stateDir: dir };
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`no ready record:\n${lines.join('\n')}`);
    await sleep(100);
  }
}

/** Pids of every live descendant of `pid` (by parent pid, whatever their process group). */
async function descendants(pid: number): Promise<number[]> {
  const parents = new Map<number, number>();
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
    // pid (comm) state ppid …: comm may contain spaces and parentheses.
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    if (ppid) parents.set(Number(entry), ppid);
  }
  const out: number[] = [];
  const walk = (p: number) => {
    for (const [child, parent] of parents) {
      if (parent === p) {
        out.push(child);
        walk(child);
      }
    }
  };
  walk(pid);
  return out;
}

const isAlive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

async function commandOf(pid: number): Promise<string> {
  return (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).replaceAll('\0', ' ');
}

/** Lines that look like errors: records at level error or above, and stack-trace or refused-connection text. */
const errorLines = (lines: readonly string[]) =>
  lines.filter((l) => {
    if (l.startsWith('{')) return (JSON.parse(l) as Record).level >= 50 || /ECONNREFUSED|Error:/.test(l);
    return /ECONNREFUSED|Error|ERR!/.test(l);
  });

describe('npm start', () => {
  test('banner with limits, admin key and a working first admin call; generous local limits; no /readyz lines; Ctrl-C stops everything within 5 s', async () => {
    const s = await start('npm', ['start']);
    const { ready } = s;
    const base = `http://127.0.0.1:${s.port}`;
    assert.equal(ready['url'], base);
    // Limits the dev agent really has (asked from the harness), and how to raise them.
    assert.deepEqual(ready['limits'], { taskCreatesPerMin: 600, concurrentTasks: 50, readsPerMin: 6000, writesPerMin: 600 });
    assert.equal(ready['maxWaitSeconds'], 60);
    const text = (ready['text'] as string[]).join('\n');
    for (const name of ['RATE_LIMIT_TASK_CREATES_PER_MIN', 'RATE_LIMIT_CONCURRENT_TASKS', 'RATE_LIMIT_READS_PER_MIN', 'MAX_WAIT_SECONDS']) {
      assert.ok(text.includes(name), `banner names ${name}:\n${text}`);
    }
    // A local admin key, kept like the dev key, and the first admin call the banner shows works.
    const adminKey = ready['adminApiKey'] as string;
    assert.equal((await readFile(path.join(s.stateDir, 'admin-api-key'), 'utf8')).trim(), adminKey);
    assert.equal((await readFile(path.join(s.stateDir, 'dev-api-key'), 'utf8')).trim(), ready['devApiKey']);
    const adminCall = /curl -s (\S+) -H 'Authorization: Bearer (\S+)'/.exec(text);
    assert.ok(adminCall, text);
    const limits = await fetch(adminCall[1] as string, { headers: { authorization: `Bearer ${adminCall[2]}` } });
    assert.equal(limits.status, 200);
    assert.match(text, /containers: off \(RUNNER_BACKENDS does not list docker\)/);

    // A loop of experiments: 40 creations without waiting, then reads of each, all accepted.
    const dev = { authorization: `Bearer ${ready['devApiKey']}`, 'content-type': 'application/json' };
    const statuses: number[] = [];
    const ids: string[] = [];
    for (let i = 0; i < 40; i++) {
      const res = await fetch(`${base}/v1/tasks`, {
        method: 'POST',
        headers: { ...dev, 'idempotency-key': `"${randomUUID()}"` },
        body: JSON.stringify({ runtime: 'javascript', code: `${i} + 1` }),
      });
      statuses.push(res.status);
      ids.push(((await res.json()) as { id: string }).id);
    }
    for (const id of ids) {
      for (;;) {
        const res = await fetch(`${base}/v1/tasks/${id}`, { headers: dev });
        statuses.push(res.status);
        const task = (await res.json()) as { status: string };
        if (task.status === 'succeeded' || res.status !== 200) break;
        await sleep(20);
      }
    }
    assert.deepEqual([...new Set(statuses)].sort(), [200, 201], 'no 429 (nor anything else)');

    // Every line is JSON (not a terminal), and no line is about /readyz (the launcher polled it).
    assert.deepEqual(s.lines.filter((l) => !l.startsWith('{') && !l.startsWith('>') && l.trim() !== ''), []);
    assert.deepEqual(s.lines.filter((l) => l.includes('/readyz')), []);

    // Ctrl-C: SIGINT to the whole foreground process group of `npm start`.
    const pids = await descendants(s.child.pid as number);
    const commands = await Promise.all(pids.map(commandOf));
    for (const what of ['scripts/start.mjs', 'redis-server', 'harness/server.ts', 'runner/worker.ts', 'isolate-host/host.ts']) {
      assert.ok(commands.some((c) => c.includes(what)), `${what} among ${commands.join('\n')}`);
    }
    const before = s.lines.length;
    const signalled = Date.now();
    process.kill(-(s.child.pid as number), 'SIGINT');
    const exit = await s.exited;
    // npm ends the way it was told to (it re-raises the SIGINT it got, as shells expect of
    // Ctrl-C) once the launcher is done; the launcher itself exits 0 (next test).
    assert.ok(exit.code === 0 || exit.signal === 'SIGINT', JSON.stringify(exit));
    while (pids.some(isAlive) && Date.now() - signalled < STOP_LIMIT_MS) await sleep(50);
    const left = pids.filter(isAlive);
    assert.deepEqual(left, [], `still running ${Date.now() - signalled} ms after Ctrl-C: ${(await Promise.all(left.map(commandOf))).join('\n')}`);
    const after = s.lines.slice(before);
    assert.deepEqual(errorLines(after), [], after.join('\n'));
    assert.ok(s.records().some((r) => r.msg === 'stopped'), after.join('\n'));
  });

  test('SIGTERM to the launcher: exit code 0 within 5 s; a launcher killed by SIGKILL leaves nothing that keeps running wrongly', async () => {
    const first = await start(process.execPath, ['scripts/start.mjs']);
    const firstPids = await descendants(first.child.pid as number);
    const signalled = Date.now();
    first.child.kill('SIGTERM');
    assert.deepEqual(await first.exited, { code: 0, signal: null });
    assert.ok(Date.now() - signalled < STOP_LIMIT_MS, `took ${Date.now() - signalled} ms`);
    assert.deepEqual(firstPids.filter(isAlive), []);
    assert.deepEqual(errorLines(first.lines), [], first.lines.join('\n'));

    // Same state directory: same keys. Then the launcher dies without a chance to clean up.
    const second = await start(process.execPath, ['scripts/start.mjs'], first.stateDir);
    assert.equal(second.ready['devApiKey'], first.ready['devApiKey']);
    const pids = await descendants(second.child.pid as number);
    const commands = await Promise.all(pids.map(async (pid) => ({ pid, cmd: await commandOf(pid) })));
    const redisPid = commands.find((c) => c.cmd.includes('redis-server'))?.pid as number;
    const others = commands.filter((c) => c.pid !== redisPid).map((c) => c.pid);
    second.child.kill('SIGKILL');
    await second.exited;
    // The harness and the runner see their IPC channel close and stop by themselves.
    const killed = Date.now();
    while (others.some(isAlive) && Date.now() - killed < 15_000) await sleep(50);
    assert.deepEqual(others.filter(isAlive), [], 'harness, runner and hosts stop without their launcher');
    assert.ok(isAlive(redisPid), 'redis-server is in its own process group and was not told');

    // The next start stops that redis-server before it starts its own on the same data.
    const third = await start(process.execPath, ['scripts/start.mjs'], first.stateDir);
    assert.ok(third.records().some((r) => r.level === 40 && r.msg.includes(`(pid ${redisPid})`)), third.lines.join('\n'));
    assert.equal(isAlive(redisPid), false);
    third.child.kill('SIGTERM');
    assert.deepEqual(await third.exited, { code: 0, signal: null });
  });
});
