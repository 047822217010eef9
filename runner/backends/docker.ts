import { mkdir } from 'node:fs/promises';
import type Docker from 'dockerode';
import type { JobPayload } from '../../protocol/job.ts';
import type { ExecuteResult } from '../../protocol/task.ts';
import { stagingGuard } from '../grants/staging-guard.ts';
import type { TaskMounts } from '../grants/task-mounts.ts';
import { CallSockets, type CallSocket } from './call-socket.ts';
import { ContainerPool } from './container-pool.ts';
import { cancelledBeforeStart, classifyOutcome } from './container-outcome.ts';
import { runSession, type SessionOutcome } from './container-session.ts';
import {
  buildContainerSpec,
  buildHostConfig,
  SUPERVISOR_CMD,
  type ContainerLimits,
} from './docker-config.ts';
import { pingEngine, readCgroupUsage, resolveImages } from './docker-engine.ts';
import { OrphanSweeper } from './docker-orphans.ts';
import { grantBinds, prepareGrants } from './grant-mounts.ts';
import {
  buildRequest,
  isContainerRuntime,
  maxFrameBytes,
  OUT_MAX_FILES,
  SANDBOX_IMAGE_TAG,
  type ContainerRuntime,
} from './supervisor-protocol.ts';
import type { RunnerBackend, RunSession } from './types.ts';

/** How long after a task's run its container's removal (and the pool refill) waits. */
const CLEANUP_DELAY_MS = 100;

export interface DockerBackendOptions {
  docker: Docker;
  /** Labels every container; a backend created with the same id removes what an earlier one left. */
  runnerId: string;
  /**
   * Labels every container: the backend removes leftovers of its own installation only (all
   * runners sharing one Redis; see docker-orphans.ts).
   */
  installationId: string;
  /**
   * Last heartbeat per runner id of the installation. Given, the backend also removes containers
   * of runners that are gone, at start and then every `sweepIntervalMs`.
   */
  runnerHeartbeats?: () => Promise<ReadonlyMap<string, number>>;
  /** A runner silent for longer than this is gone. @defaultValue 30000 */
  runnerGoneAfterMs?: number;
  /** @defaultValue min(10 s, runnerGoneAfterMs / 2) */
  sweepIntervalMs?: number;
  /** Directory for private copies of rw grants (created 0700 if missing). */
  stagingRoot: string;
  /** Warm containers kept per runtime; 0 disables the pool. @defaultValue 2 */
  poolSize?: number;
  /** Memory of warm containers; tasks asking for another amount take the cold path. @defaultValue 256 */
  poolMemoryMb?: number;
  /** @defaultValue 1 */
  cpus?: number;
  /** @defaultValue 128 */
  pidsLimit?: number;
  /** Size of each of the /tmp and /work tmpfs. @defaultValue 64 */
  scratchMb?: number;
  /** Size of /out, which is also the cap on all output files together. @defaultValue 8 */
  outMb?: number;
  /** @defaultValue 256 */
  nofile?: number;
  /** Tasks with rw grants are stopped (`disk_limit`) when the staging disk has less left. @defaultValue 512 */
  stagingMinFreeMb?: number;
  /** Image tag = supervisor protocol version. @defaultValue SANDBOX_IMAGE_TAG ('v3') */
  imageTag?: string;
  /**
   * Where the runner makes each container's capability socket (call-socket.ts; a path the engine
   * sees as the runner does). Null: the supervisor relays the calls over the attach stream.
   * @defaultValue null
   */
  callSocketRoot?: string | null;
  log?: (msg: string) => void;
}

type ResolvedOptions = Required<Omit<DockerBackendOptions, 'log' | 'runnerHeartbeats' | 'callSocketRoot'>> &
  Pick<DockerBackendOptions, 'log' | 'runnerHeartbeats' | 'callSocketRoot'>;

interface Run {
  outcome: SessionOutcome;
  warm: boolean;
  state?: { oomKilled: boolean; exitCode: number | null };
}

const MiB = 1024 * 1024;

/**
 * Runs `python`, `node` and `bash` tasks, one fresh hardened container per task (docker-config.ts),
 * talking to the in-sandbox supervisor over the engine's attach stream. The engine is root-
 * equivalent: only this runner process talks to it, never a sandbox (DKR-4).
 */
export class DockerBackend implements RunnerBackend {
  readonly name = 'docker';
  readonly #o: ResolvedOptions;
  readonly #images: Record<ContainerRuntime, string>;
  readonly #pool: ContainerPool;
  /** Containers running a task right now. */
  readonly #active = new Set<string>();
  /** Removals under way (a result does not wait for its container's removal). */
  readonly #removals = new Set<Promise<void>>();
  readonly #counts = { warm: 0, cold: 0, misses: 0 };
  readonly #sweeper: OrphanSweeper;
  /** Null: the supervisor serves the capability socket. */
  readonly #sockets: CallSockets | null;
  #disposing: Promise<void> | null = null;
  /** Containers whose removal waits for CLEANUP_DELAY_MS stay in #active, so dispose removes them. */

  private constructor(
    o: ResolvedOptions,
    images: Record<ContainerRuntime, string>,
    sweeper: OrphanSweeper,
    sockets: CallSockets | null,
  ) {
    this.#o = o;
    this.#images = images;
    this.#sweeper = sweeper;
    this.#sockets = sockets;
    this.#pool = new ContainerPool({
      docker: o.docker,
      runnerId: o.runnerId,
      installationId: o.installationId,
      images,
      limits: this.#limits(o.poolMemoryMb),
      size: o.poolSize,
      callSockets: sockets,
      ...(o.log ? { log: o.log } : {}),
    });
  }

  /**
   * Checks the engine, resolves each `airlock-sandbox-<runtime>:v3` tag to its image ID once (a
   * rebuild later never mixes two images), removes the installation's containers that an earlier
   * life of this runner or a runner that is gone left behind (docker-orphans.ts), and starts
   * filling the warm pool and the periodic sweep. Throws when the engine does not answer or an
   * image is missing.
   */
  static async create(options: DockerBackendOptions): Promise<DockerBackend> {
    const goneAfterMs = options.runnerGoneAfterMs ?? 30_000;
    const o: ResolvedOptions = {
      poolSize: 2,
      poolMemoryMb: 256,
      cpus: 1,
      pidsLimit: 128,
      scratchMb: 64,
      outMb: 8,
      nofile: 256,
      stagingMinFreeMb: 512,
      imageTag: SANDBOX_IMAGE_TAG,
      runnerGoneAfterMs: goneAfterMs,
      sweepIntervalMs: Math.min(10_000, Math.max(100, Math.floor(goneAfterMs / 2))),
      ...options,
    };
    const { docker, callSocketRoot } = o;
    await pingEngine(docker);
    const images = await resolveImages(docker, o.imageTag);
    const sockets = callSocketRoot ? await CallSockets.create(callSocketRoot, o.installationId, o.runnerId) : null;
    const sweeper = new OrphanSweeper({
      docker,
      installationId: o.installationId,
      runnerId: o.runnerId,
      goneAfterMs: o.runnerGoneAfterMs,
      ...(sockets ? { onRunnerGone: (id: string) => sockets.forget(id) } : {}),
      ...(o.runnerHeartbeats ? { heartbeats: o.runnerHeartbeats } : {}),
      ...(o.log ? { log: o.log } : {}),
    });
    await sweeper.sweep({ ownLeftovers: true });
    await mkdir(o.stagingRoot, { recursive: true, mode: 0o700 });
    const backend = new DockerBackend(o, images, sweeper, sockets);
    backend.#pool.fill();
    if (o.runnerHeartbeats) sweeper.every(o.sweepIntervalMs);
    return backend;
  }

  /**
   * How many tasks took a warm or a cold container, and how many of the cold ones could have
   * taken a warm one but found the pool empty (tests, metrics).
   */
  get stats(): { warm: number; cold: number; misses: number } {
    return { ...this.#counts };
  }

  /** The warm pool (tests, metrics). */
  get pool(): ContainerPool {
    return this.#pool;
  }

  async execute(job: JobPayload, session: RunSession): Promise<ExecuteResult> {
    if (this.#disposing) throw new Error('docker backend is disposed');
    if (!isContainerRuntime(job.runtime))
      throw new Error(`runtime ${job.runtime} does not run in a container`);
    const limits = this.#limits(job.limits.memoryMb);
    const ctx = {
      memoryMb: limits.memoryMb,
      pidsLimit: limits.pidsLimit,
      outMaxBytes: limits.outMb * MiB,
      outMaxFiles: OUT_MAX_FILES,
    };
    if (session.signal.aborted) return cancelledBeforeStart();
    const grants = await prepareGrants(job.mounts ?? [], this.#o.stagingRoot);
    try {
      const poolable = !job.mounts?.length && limits.memoryMb === this.#pool.limits.memoryMb;
      let run = await this.#run(job, limits, grants, session, poolable);
      const untouched = (r: Run) =>
        r.outcome.frames === 0 && !r.outcome.killed && !r.state?.oomKilled;
      if (run.warm && untouched(run)) {
        // The warm container died before taking the task (engine restart, …): nothing ran.
        this.#o.log?.(
          `warm container ended without taking the task; retrying cold: ${run.outcome.diagnostics}`,
        );
        run = await this.#run(job, limits, grants, session, false);
      }
      if (untouched(run)) {
        throw new Error(
          `sandbox container ended without taking the task: ${run.outcome.diagnostics || 'no diagnostics'}`,
        );
      }
      const result = classifyOutcome(run.outcome, {
        ...ctx,
        ...(run.state ? { state: run.state } : {}),
      });
      // The container is gone (removed in #run): nothing can change the copies any more.
      // A refusal is a result (the same as in isolates); an I/O error throws (infrastructure).
      return await grants.settle(result, session.beforeGrantApply?.bind(session));
    } finally {
      // Failed, timed out, cancelled or applied: the private copies go; the real dirs were
      // touched only by apply().
      await grants.discard();
    }
  }

  async #run(
    job: JobPayload,
    limits: ContainerLimits,
    grants: TaskMounts,
    session: RunSession,
    poolable: boolean,
  ): Promise<Run> {
    const rt = job.runtime as ContainerRuntime;
    const warm = poolable ? this.#pool.take(rt) : null;
    const calls: CallSocket | null = warm ? warm.calls : ((await this.#sockets?.open()) ?? null);
    let container: Docker.Container;
    try {
      container =
        warm?.container ??
        (await this.#o.docker.createContainer(
          buildContainerSpec({
            image: this.#images[rt],
            cmd: SUPERVISOR_CMD,
            runnerId: this.#o.runnerId,
            installationId: this.#o.installationId,
            hostConfig: buildHostConfig(limits, grantBinds(grants), calls?.dir),
          }),
        ));
    } catch (err) {
      await calls?.close();
      throw err;
    }
    // The program's calls (the socket the runner serves) go to this run; else they come as
    // `call` frames from the supervisor, which runSession hands to the same session.
    calls?.serve((name, input) => session.call(name, input));
    this.#counts[warm ? 'warm' : 'cold']++;
    // A miss: the task could have used a warm container, and none was ready.
    if (poolable && !warm && this.#o.poolSize > 0) this.#counts.misses++;
    this.#active.add(container.id);
    try {
      const outcome = await runSession({
        container,
        request: buildRequest(job, limits.outMb * MiB),
        startAfterAttach: !warm,
        ...(warm ? { attached: warm.stream } : {}),
        timeoutMs: job.limits.timeoutMs,
        outputBytes: job.limits.outputBytes,
        // The files frame carries /out inline as base64, plus per-file JSON.
        maxFrameBytes: maxFrameBytes(limits.outMb * MiB),
        session,
        ...(grants.hasStaged
          ? { guard: stagingGuard(this.#o.stagingRoot, this.#o.stagingMinFreeMb * MiB) }
          : {}),
        usageBeforeKill: () => readCgroupUsage(container.id),
      });
      if (outcome.done || outcome.killed) return { outcome, warm: !!warm };
      // The stream ended without `done`: the container died. Why (OOM?) is in its State.
      await Promise.race([
        container.wait().catch(() => undefined),
        new Promise((r) => setTimeout(r, 2000).unref()),
      ]);
      const s = (await container.inspect().catch(() => null))?.State;
      return {
        outcome,
        warm: !!warm,
        state: { oomKilled: s?.OOMKilled ?? false, exitCode: s?.ExitCode ?? null },
      };
    } finally {
      // The run is over: answers still due go nowhere (as with the supervisor's relay).
      void calls?.close();
      // One task per container: always removed, whatever happened (force = SIGKILL if still up).
      // Removal takes 200-400 ms on overlay2, so the result does not wait for it — except with a
      // staged grant mounted: then no process may be left to write to the copy diff() reads.
      if (grants.hasStaged) {
        this.#active.delete(container.id);
        await this.#remove(container);
        if (warm) this.#pool.replenish(rt);
      } else {
        // Removing a container and starting its pool replacement keep the engine busy for a
        // few hundred ms of CPU; started at once they would compete with reporting this very
        // result (measured: +8 ms at p50 on 2 cores). The container has exited or been killed
        // already, so waiting a moment costs nothing but a slot in the engine's list.
        setTimeout(() => {
          this.#active.delete(container.id);
          void this.#remove(container);
          if (warm) this.#pool.replenish(rt);
        }, CLEANUP_DELAY_MS).unref();
      }
    }
  }

  #limits(memoryMb: number): ContainerLimits {
    const o = this.#o;
    return {
      memoryMb,
      cpus: o.cpus,
      pidsLimit: o.pidsLimit,
      nofile: o.nofile,
      scratchMb: o.scratchMb,
      outMb: o.outMb,
    };
  }

  #remove(container: Docker.Container): Promise<void> {
    const removal = container.remove({ force: true, v: true }).then(
      () => undefined,
      (err: { statusCode?: number; message?: string }) => {
        if (err.statusCode !== 404 && err.statusCode !== 409) {
          this.#o.log?.(`removing container ${container.id}: ${err.message ?? String(err)}`);
        }
      },
    );
    this.#removals.add(removal);
    void removal.finally(() => this.#removals.delete(removal));
    return removal;
  }

  /** Removes the warm pool and every container it made, running or being removed. Idempotent. */
  dispose(): Promise<void> {
    this.#disposing ??= (async () => {
      await this.#sweeper.stop();
      await this.#pool.dispose();
      for (const id of this.#active) void this.#remove(this.#o.docker.getContainer(id));
      await Promise.all([...this.#removals]);
      await this.#sockets?.dispose();
    })();
    return this.#disposing;
  }
}
