import type Docker from 'dockerode';

/** The uid/gid every sandbox program runs as (the `sandbox` user of images/). */
export const SANDBOX_UID = 10001;
export const SANDBOX_GID = 10001;

/** Label on every container Airlock creates; live runners remove leftovers by it. */
export const MANAGED_LABEL = 'airlock.managed';
/** The id of the runner that made the container (its heartbeat says whether it still lives). */
export const RUNNER_LABEL = 'airlock.runner';
/** The installation (all runners sharing one Redis) the container belongs to; see docker-orphans.ts. */
export const INSTALLATION_LABEL = 'airlock.installation';
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

/** The supervisor's uid (the `airlock` user of images/). */
export const SUPERVISOR_UID = 10000;

/** Where the in-sandbox clients find the capability socket (a directory). */
export const CALL_SOCKET_TARGET = '/run/airlock';

/**
 * Where the supervisor listens for the program's capability calls: a tiny tmpfs owned by the
 * supervisor, mode 0755 (the program may traverse it and connect to the socket, not write).
 */
const SOCKET_TMPFS = `rw,noexec,nosuid,nodev,size=16k,nr_inodes=16,uid=${SUPERVISOR_UID},gid=${SUPERVISOR_UID},mode=0755`;

/**
 * The capabilities the container starts with, all of them for the supervisor's own start-up
 * (images/supervisor/supervisor.py `become_supervisor`): SETPCAP to empty the bounding set of
 * everything in the container, SETUID/SETGID to run the program as 10001 and itself as 10000,
 * KILL to kill what the program leaves behind. None of them opens a syscall in Docker's default
 * seccomp profile (unlike e.g. DAC_READ_SEARCH → open_by_handle_at). The program runs with none:
 * CapEff = CapPrm = CapBnd = 0 (test/integration/images.test.ts, docker-backend.test.ts).
 */
export const SUPERVISOR_CAPS: readonly string[] = ['SETUID', 'SETGID', 'KILL', 'SETPCAP'];

/**
 * Docker's default masked paths and read-only paths (what it fills in when a create request has
 * none), plus what Airlock makes read-only on top: every mount of the container is then `ro`
 * except the /tmp, /work, /out scratch and rw grants (issue 16; asserted from inside a container
 * by test/integration/docker-backend.test.ts).
 * - `/proc`: only read by anything in a sandbox (writes such as `/proc/self/oom_score_adj` or
 *   `comm` are not needed; `/proc/sys` & co. were read-only already).
 * - `/dev` then `/dev/pts`: Docker's /dev is a root-owned rw tmpfs (a root-in-container bug could
 *   write there); read-only, its device nodes still work (`/dev/null` accepts writes). `/dev/pts`
 *   after `/dev` because a read-only bind of `/dev` carries the rw devpts below it along. Coming
 *   before the masks, the `/dev/null` binds over masked `/proc` files are read-only too.
 * - `/sys/fs/cgroup`: with cgroup v1 a rw tmpfs holding the (read-only) controller mounts; the
 *   supervisor only reads its counters.
 * Each is a read-only bind over the original, which stays listed in mountinfo, covered and
 * unreachable.
 */
export const MASKED_PATHS: readonly string[] = [
  '/proc/asound',
  '/proc/acpi',
  '/proc/kcore',
  '/proc/keys',
  '/proc/latency_stats',
  '/proc/timer_list',
  '/proc/timer_stats',
  '/proc/sched_debug',
  '/proc/scsi',
  '/sys/firmware',
  '/sys/devices/virtual/powercap',
];
export const READONLY_PATHS: readonly string[] = [
  '/proc/bus',
  '/proc/fs',
  '/proc/irq',
  '/proc/sys',
  '/proc/sysrq-trigger',
  '/proc',
  '/dev',
  '/dev/pts',
  '/sys/fs/cgroup',
];

/**
 * The hardened HostConfig of every sandbox container (DKR-1..7): no network, read-only root and
 * read-only special mounts, only the supervisor's start-up capabilities (the program gets none),
 * no-new-privileges, default seccomp (never unconfined), an init process, pids/memory(=swap)/
 * CPU/nofile limits, size-capped tmpfs scratch owned by the sandbox user, no Docker socket, never
 * privileged, no log files on the host. Pure: unit-tested.
 */
export function buildHostConfig(
  limits: ContainerLimits,
  mounts: readonly BindMount[] = [],
  /**
   * The runner's capability socket directory for this container (call-socket.ts), mounted
   * read-only at /run/airlock; without it the supervisor listens there on a tmpfs of its own.
   */
  callSocketDir?: string,
): Docker.HostConfig {
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
    CapAdd: [...SUPERVISOR_CAPS],
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
      // The capability socket's directory: the supervisor's (uid 10000) alone to write, so the
      // program can connect to /run/airlock/caps.sock but never replace it (call_relay.py).
      // Or the runner's own socket, in a directory of this container's mounted read-only.
      ...(callSocketDir === undefined ? { [CALL_SOCKET_TARGET]: SOCKET_TMPFS } : {}),
      '/dev/mqueue': SEALED_TMPFS,
    },
    MaskedPaths: [...MASKED_PATHS],
    ReadonlyPaths: [...READONLY_PATHS],
    Mounts: [
      ...mounts.map((m) => ({ Type: 'bind' as const, Source: m.source, Target: m.target, ReadOnly: m.readOnly })),
      ...(callSocketDir === undefined ? [] : [{ Type: 'bind' as const, Source: callSocketDir, Target: CALL_SOCKET_TARGET, ReadOnly: true }]),
    ],
    // Output is read over the attach stream; a logging driver would copy floods to host disk.
    LogConfig: { Type: 'none', Config: {} },
    AutoRemove: false,
  };
}

/**
 * The container create options around the HostConfig: started as root for the supervisor's
 * start-up only (the program always runs as {@link SANDBOX_UID}), empty env, labels.
 */
export function buildContainerSpec(options: {
  image: string;
  cmd: readonly string[];
  runnerId: string;
  installationId: string;
  hostConfig: Docker.HostConfig;
  /** More labels (e.g. {@link POOL_LABEL}); cannot replace the managed/runner/installation labels. */
  labels?: Readonly<Record<string, string>>;
}): Docker.ContainerCreateOptions {
  return {
    Image: options.image,
    Cmd: [...options.cmd],
    User: '0:0',
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
    Labels: {
      ...options.labels,
      [MANAGED_LABEL]: '1',
      [RUNNER_LABEL]: options.runnerId,
      [INSTALLATION_LABEL]: options.installationId,
    },
    HostConfig: options.hostConfig,
  };
}
