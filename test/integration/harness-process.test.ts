/**
 * The harness as the process operators run (`harness/server.ts`, with the flags it ships with):
 * SIGTERM closes it gracefully; a fault signal kills it, so a supervisor restarts it. (A fault
 * caught by the graceful-close handler used to re-run the faulting instruction forever: a V8
 * fatal error spun the harness at 100% CPU, answering nothing.)
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { after, describe, test } from 'node:test';
import { REDIS_URL } from '../helpers/stack.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const started: ChildProcess[] = [];

after(() => {
  for (const child of started) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Starts the harness and resolves once /healthz answers. */
async function startHarness(): Promise<{ child: ChildProcess; exited: Promise<{ code: number | null; signal: string | null }> }> {
  const port = await freePort();
  const child = spawn(process.execPath, ['--no-turbo-inline-js-wasm-calls', '--import', 'tsx', 'harness/server.ts'], {
    cwd: ROOT,
    env: { PATH: process.env['PATH'], REDIS_URL, PORT: String(port), HOST: '127.0.0.1', BROKER_PORT: '0', LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  started.push(child);
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the harness exited during start-up:\n${output}`);
    const up = await fetch(`http://127.0.0.1:${port}/healthz`).then((r) => r.ok, () => false);
    if (up) return { child, exited };
    if (Date.now() > deadline) throw new Error(`the harness did not start:\n${output}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('harness process signals', () => {
  test('SIGTERM closes it gracefully (exit code 0)', async () => {
    const { child, exited } = await startHarness();
    child.kill('SIGTERM');
    assert.deepEqual(await exited, { code: 0, signal: null });
  });

  for (const signal of ['SIGILL', 'SIGSEGV', 'SIGBUS', 'SIGFPE'] as const) {
    test(`${signal} kills it (default action, not a graceful close)`, async () => {
      const { child, exited } = await startHarness();
      child.kill(signal);
      assert.deepEqual(await exited, { code: null, signal });
    });
  }
});
