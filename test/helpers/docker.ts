/**
 * Helpers for tests on the real Docker engine: the gate that decides run/skip/fail, job payloads,
 * a recording sink, manifests of host directories, and label-based cleanup. Nothing is faked.
 */
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Docker from 'dockerode';
import type { JobPayload } from '../../protocol/job.ts';
import type { Limits, OutputStream, ResolvedMount, Runtime } from '../../protocol/task.ts';
import { RUNNER_LABEL } from '../../runner/backends/docker-config.ts';
import type { OutputSink } from './session.ts';
import { scanGrant } from '../../runner/grants/scan.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export const docker = new Docker({
  socketPath: process.env['DOCKER_SOCKET'] ?? '/var/run/docker.sock',
});

/**
 * Whether Docker suites run. With CI=true a missing engine is a failure (throws). Locally it is a
 * failure too, unless AIRLOCK_SKIP_DOCKER=1 says to skip — the returned string is the written
 * reason node:test prints. Also makes sure the sandbox images exist (`images/build.sh`, a
 * sub-second no-op when they are up to date).
 */
export async function dockerGate(): Promise<string | false> {
  const ci = process.env['CI'] === 'true';
  const skip = !ci && process.env['AIRLOCK_SKIP_DOCKER'] === '1';
  const problem = await docker.ping().then(
    () => null,
    (err: Error) =>
      `Docker engine not reachable (${err.message}); run: bash scripts/ensure-docker.sh`,
  );
  if (skip)
    return `AIRLOCK_SKIP_DOCKER=1 (engine: ${problem ?? 'reachable'}): container tests skipped on request`;
  if (problem)
    throw new Error(
      `${problem}. Set AIRLOCK_SKIP_DOCKER=1 to skip these tests locally (never in CI).`,
    );
  const build = spawnSync('bash', [path.join(ROOT, 'images/build.sh')], { encoding: 'utf8' });
  if (build.status !== 0) throw new Error(`images/build.sh failed:\n${build.stderr}`);
  return false;
}

export const DEFAULT_LIMITS: Limits = {
  timeoutMs: 10_000,
  cpuMs: 10_000,
  memoryMb: 256,
  outputBytes: 1024 * 1024,
};

export function job(
  runtime: Runtime,
  code: string,
  extra: Partial<Pick<JobPayload, 'stdin' | 'files' | 'args' | 'mounts'>> & {
    limits?: Partial<Limits>;
  } = {},
): JobPayload {
  const { limits, ...rest } = extra;
  return {
    version: 'v1',
    taskId: randomUUID(),
    tenantId: 'acme',
    agentId: 'alice',
    runtime,
    code,
    limits: { ...DEFAULT_LIMITS, ...limits },
    ...rest,
  };
}

/**
 * A sink that records what it got: `out` as text (UTF-8), `bytes` exactly; `calls` per stream
 * (each as received). `onFirst` fires on the first output (e.g. to cancel then).
 */
export function recordingSink(
  onFirst?: (stream: OutputStream, data: Buffer) => void,
): OutputSink & {
  out: Record<OutputStream, string>;
  bytes: Record<OutputStream, Buffer>;
  calls: Record<OutputStream, Buffer[]>;
} {
  const calls: Record<OutputStream, Buffer[]> = { stdout: [], stderr: [] };
  const bytes = (s: OutputStream) => Buffer.concat(calls[s]);
  let first = true;
  return {
    calls,
    out: {
      get stdout() {
        return bytes('stdout').toString('utf8');
      },
      get stderr() {
        return bytes('stderr').toString('utf8');
      },
    },
    bytes: {
      get stdout() {
        return bytes('stdout');
      },
      get stderr() {
        return bytes('stderr');
      },
    },
    output(stream, data) {
      const buf = typeof data === 'string' ? Buffer.from(data, 'utf8') : Buffer.from(data);
      calls[stream].push(buf);
      if (first && onFirst) {
        first = false;
        onFirst(stream, buf);
      }
    },
  };
}

export function mount(
  grant: string,
  hostPath: string,
  mode: 'ro' | 'rw',
  maxBytes = 1024 * 1024,
): ResolvedMount {
  return { grant, hostPath, path: `/mnt/${grant}`, mode, maxBytes };
}

/** path → type/size/sha256/mode of everything under `dir` (links recorded, not refused). */
export async function manifest(dir: string): Promise<Record<string, string>> {
  const m = await scanGrant(dir, { hash: true, refuseSpecial: false });
  return Object.fromEntries(
    [...m].map(([p, e]) => [
      p,
      `${e.type} ${e.size} ${e.sha256 ?? '-'} ${e.mode.toString(8)} ${e.mtimeMs}`,
    ]),
  );
}

/** Ids of the containers (any state) labelled with this runner id. */
export async function containersOf(runnerId: string): Promise<string[]> {
  const list = await docker.listContainers({
    all: true,
    filters: { label: [`${RUNNER_LABEL}=${runnerId}`] },
  });
  return list.map((c) => c.Id);
}

export async function removeContainersOf(runnerId: string): Promise<void> {
  for (const id of await containersOf(runnerId)) {
    await docker
      .getContainer(id)
      .remove({ force: true })
      .catch(() => undefined);
  }
}

export function median(xs: number[]): number {
  return [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
}
