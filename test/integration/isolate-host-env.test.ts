/**
 * The isolate host's environment is empty (README, Security model): nothing of the runner's
 * environment — which may hold REDIS_URL with a password, or anything an operator exported —
 * reaches the process that runs untrusted code. Real isolate host processes started by the real
 * IsolateHostPool; their environment is read from the kernel (/proc/<pid>/environ: what the
 * process was started with), not from anything the host reports. Linux only, like the runner.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { IsolateHostPool } from '../../runner/isolate-host/host-pool.ts';

/** What Node itself adds to a forked child for its IPC channel (not ours to remove). */
const NODE_IPC_VARIABLES = ['NODE_CHANNEL_FD', 'NODE_CHANNEL_SERIALIZATION_MODE', 'NODE_UNIQUE_ID'];

/** Pids of this process's children whose command line runs the isolate host. */
async function hostPids(): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = await readFile(`/proc/${entry}/stat`, 'utf8');
      // Fields after the command name (in parentheses, which may contain anything): state, ppid.
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid !== process.pid) continue;
      const cmdline = await readFile(`/proc/${entry}/cmdline`, 'utf8');
      if (cmdline.includes('isolate-host/host.ts')) pids.push(Number(entry));
    } catch {
      // The process ended while we looked.
    }
  }
  return pids;
}

test("an isolate host starts with an empty environment: none of the runner's variables", async () => {
  const secret = `runner-secret-${randomUUID()}`;
  process.env['AIRLOCK_TEST_RUNNER_SECRET'] = secret;
  const pool = new IsolateHostPool({ size: 2 });
  try {
    await pool.ready();
    const pids = await hostPids();
    assert.equal(pids.length, 2, 'both hosts found');
    for (const pid of pids) {
      const environ = await readFile(`/proc/${pid}/environ`, 'utf8');
      const names = environ.split('\0').filter(Boolean).map((line) => line.slice(0, line.indexOf('=')));
      assert.deepEqual(
        names.filter((name) => !NODE_IPC_VARIABLES.includes(name)),
        [],
        `host ${pid} has variables: ${names.join(', ')}`,
      );
      assert.ok(!environ.includes(secret));
    }
  } finally {
    delete process.env['AIRLOCK_TEST_RUNNER_SECRET'];
    await pool.dispose();
  }
});
