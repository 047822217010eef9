/**
 * Test fixture: the harness as the real process operators run (`harness/server.ts` with the
 * flags `npm run harness` uses), on a free loopback port, with only the environment given.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface HarnessProcess {
  child: ChildProcess;
  url: string;
  /** Resolves with how the process ended. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** What it wrote so far (stdout and stderr). */
  output(): string;
  /** SIGKILLs it (if it still runs) and waits until it is gone. */
  kill(): Promise<void>;
}

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Starts the harness and resolves once /healthz answers (60 s deadline). */
export async function spawnHarness(env: Record<string, string>): Promise<HarnessProcess> {
  const port = await freePort();
  const child = spawn(process.execPath, ['--no-turbo-inline-js-wasm-calls', '--import', 'tsx', 'harness/server.ts'], {
    cwd: ROOT,
    env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', PORT: String(port), HOST: '127.0.0.1', BROKER_PORT: '0', LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const url = `http://127.0.0.1:${port}`;
  const harness: HarnessProcess = {
    child,
    url,
    exited,
    output: () => output,
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`the harness exited during start-up:\n${output}`);
    }
    if (await fetch(`${url}/healthz`).then((r) => r.ok, () => false)) return harness;
    if (Date.now() > deadline) {
      await harness.kill();
      throw new Error(`the harness did not start within 60 s:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}
