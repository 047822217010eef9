/**
 * Engine-level helpers of the Docker backend: start-up checks (engine answers, images exist) and
 * host-side usage of a container about to be killed. Leftover containers: docker-orphans.ts.
 */
import { readFile } from 'node:fs/promises';
import type Docker from 'dockerode';
import { CONTAINER_RUNTIMES, type ContainerRuntime } from './supervisor-protocol.ts';

/** Throws a readable error when the engine does not answer. */
export async function pingEngine(docker: Docker): Promise<void> {
  try {
    await docker.ping();
  } catch (err) {
    throw new Error(`Docker engine not reachable: ${(err as Error).message}`);
  }
}

/**
 * Image ID of `airlock-sandbox-<runtime>:<tag>` for every runtime, resolved once: containers are
 * created by ID, so a rebuild while the runner runs never mixes two images (images/README.md).
 * The tag is the supervisor protocol version: images of another protocol are never used.
 */
export async function resolveImages(
  docker: Docker,
  tag: string,
): Promise<Record<ContainerRuntime, string>> {
  const images = {} as Record<ContainerRuntime, string>;
  for (const rt of CONTAINER_RUNTIMES) {
    const name = `airlock-sandbox-${rt}:${tag}`;
    try {
      images[rt] = (await docker.getImage(name).inspect()).Id;
    } catch (err) {
      throw new Error(
        `sandbox image ${name} not found (${(err as Error).message}); run: bash images/build.sh`,
      );
    }
  }
  return images;
}

/**
 * CPU time and peak memory of a container about to be killed, from the host's cgroup files
 * (cgroupfs driver, v1 or v2). Best effort: empty when the runner is not on the engine's host.
 */
export async function readCgroupUsage(
  id: string,
): Promise<{ cpuMs?: number; peakMemoryBytes?: number }> {
  const num = (p: string, key?: string) =>
    readFile(p, 'utf8').then(
      (t) =>
        Number(
          key
            ? /^(\S+) (\d+)$/m.exec(t.split('\n').find((l) => l.startsWith(`${key} `)) ?? '')?.[2]
            : t.trim(),
        ),
      () => NaN,
    );
  const v1cpu = await num(`/sys/fs/cgroup/cpuacct/docker/${id}/cpuacct.usage`);
  if (Number.isFinite(v1cpu)) {
    const peak = await num(`/sys/fs/cgroup/memory/docker/${id}/memory.max_usage_in_bytes`);
    return { cpuMs: v1cpu / 1e6, ...(Number.isFinite(peak) ? { peakMemoryBytes: peak } : {}) };
  }
  const v2 = `/sys/fs/cgroup/system.slice/docker-${id}.scope`;
  const usec = await num(`${v2}/cpu.stat`, 'usage_usec');
  const peak = await num(`${v2}/memory.peak`);
  return {
    ...(Number.isFinite(usec) ? { cpuMs: usec / 1000 } : {}),
    ...(Number.isFinite(peak) ? { peakMemoryBytes: peak } : {}),
  };
}
