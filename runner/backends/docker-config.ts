import type Docker from 'dockerode';

/** The uid/gid every sandbox runs as (the `sandbox` user of images/). */
export const SANDBOX_UID = 10001;
export const SANDBOX_GID = 10001;

/** Label on every container Airlock creates; a restarted runner removes its leftovers by it. */
export const MANAGED_LABEL = 'airlock.managed';
export const RUNNER_LABEL = 'airlock.runner';
/** Extra label on warm-pool containers (created before their task was known). */
export const POOL_LABEL = 'airlock.pool';

/** The image's own entrypoint, spelled out so a changed image CMD cannot change what runs. */
export const SUPERVISOR_CMD: readonly string[] = ['python3', '-I', '-S', '/opt/airlock/supervisor.py'];

/** Where grants may be mounted inside a container (the harness allows only `/mnt/<name>…`). */
const GRANT_TARGET = /^\/mnt\/[A-Za-z0-9_.-]+(\/[A-Za-z0-9_.-]+)*$/;

export interface ContainerLimits {
  /** Memory limit; swap is set equal, i.e. no swap (DKR-2). */
  memoryMb: number;
  /** CPU share, e.g. 1 = one core. */
  cpus: number;
  /** Processes/threads the container may have (fork-bomb cap). */
  pidsLimit: number;
  /** Open files per process. */
  nofile: number;
  /** Size of the /tmp and /work scratch tmpfs. */
  scratchMb: number;
  /** Size of the /out tmpfs (files handed back to the agent). */
  outMb: number;
}

export interface BindMount {
  /** Host directory (already resolved and checked by the grant layer). */
  source: string;
  /** Absolute path inside the container. */
  target: string;
  readOnly: boolean;
}

function tmpfsOptions(sizeMb: number): string {
  // uid/gid make the tmpfs writable by the sandbox user; mode=1777 alone does not (DKR-3).
  return `rw,noexec,nosuid,nodev,size=${sizeMb}m,uid=${SANDBOX_UID},gid=${SANDBOX_GID},mode=0700`;
}

/**
 * Docker mounts a world-writable tmpfs on /dev/shm (64 MiB, IpcMode private) and the mqueue fs on
 * /dev/mqueue. Both would be writable scratch outside the size-capped, disk_limit-checked ones,
 * so an empty read-only tmpfs takes their place (Docker skips its own mount when one is given).
 * Cost: POSIX shared memory / named semaphores (Python multiprocessing locks) are unavailable.
 */
const SEALED_TMPFS = 'ro,noexec,nosuid,nodev,size=4k,mode=0755';

/**
 * The hardened HostConfig of every sandbox container (DKR-1..7): no network, read-only root,
 * no capabilities, no-new-privileges, default seccomp (never unconfined), non-root, an init
 * process, pids/memory(=swap)/CPU/nofile limits, size-capped tmpfs scratch owned by the sandbox
 * user, no Docker socket, never privileged, no log files on the host. Pure: unit-tested.
 */
export function buildHostConfig(limits: ContainerLimits, mounts: readonly BindMount[] = []): Docker.HostConfig {
  const memoryBytes = limits.memoryMb * 1024 * 1024;
  for (const m of mounts) {
    if (m.source.includes('docker.sock') || m.target === '/var/run' || m.target === '/run') {
      throw new Error(`refusing to mount ${m.source} into a sandbox`);
    }
    // Only below /mnt: a grant mounted over /work, /tmp, /proc, /etc… would replace or expose
    // what the sandbox relies on. Checked again here because the queue is not trusted.
    if (!GRANT_TARGET.test(m.target) || m.target.split('/').some((seg) => seg === '.' || seg === '..')) {
      throw new Error(`refusing to mount at ${m.target}: grants go below /mnt`);
    }
  }
  return {
    NetworkMode: 'none',
    ReadonlyRootfs: true,
    CapDrop: ['ALL'],
    CapAdd: [],
    SecurityOpt: ['no-new-privileges:true'],
    Privileged: false,
    Init: true,
    IpcMode: 'private',
    PidsLimit: limits.pidsLimit,
    Memory: memoryBytes,
    MemorySwap: memoryBytes,
    NanoCpus: Math.round(limits.cpus * 1e9),
    Ulimits: [{ Name: 'nofile', Soft: limits.nofile, Hard: limits.nofile }],
    Tmpfs: {
      '/tmp': tmpfsOptions(limits.scratchMb),
      '/work': tmpfsOptions(limits.scratchMb),
      '/out': tmpfsOptions(limits.outMb),
      '/dev/shm': SEALED_TMPFS,
      '/dev/mqueue': SEALED_TMPFS,
    },
    Mounts: mounts.map((m) => ({ Type: 'bind' as const, Source: m.source, Target: m.target, ReadOnly: m.readOnly })),
    // Output is read over the attach stream; a logging driver would copy floods to host disk.
    LogConfig: { Type: 'none', Config: {} },
    AutoRemove: false,
  };
}

/** The container create options around the HostConfig: non-root user, empty env, labels. */
export function buildContainerSpec(options: {
  image: string;
  cmd: readonly string[];
  runnerId: string;
  hostConfig: Docker.HostConfig;
  /** More labels (e.g. {@link POOL_LABEL}); cannot replace the managed/runner labels. */
  labels?: Readonly<Record<string, string>>;
}): Docker.ContainerCreateOptions {
  return {
    Image: options.image,
    Cmd: [...options.cmd],
    User: `${SANDBOX_UID}:${SANDBOX_GID}`,
    // No host environment ever reaches a sandbox (DKR-7).
    Env: [],
    WorkingDir: '/work',
    NetworkDisabled: true,
    AttachStdin: true,
    AttachStdout: true,
    AttachStderr: true,
    OpenStdin: true,
    StdinOnce: true,
    Tty: false,
    Labels: { ...options.labels, [MANAGED_LABEL]: '1', [RUNNER_LABEL]: options.runnerId },
    HostConfig: options.hostConfig,
  };
}
