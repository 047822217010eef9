/**
 * Warm pool: a few PRE-STARTED sandbox containers per runtime image, each with its supervisor
 * blocked reading stdin, so a task skips container create + start (≈300 ms → ≈20 ms, see
 * images/README.md "Timings"). Only for tasks without grant mounts whose limits equal the pool's
 * container limits (mounts and limits are fixed at create time).
 *
 * Lifecycle: a container leaves the pool exactly once, through `take()`; from then on the caller
 * owns it and must remove it (one task per container, never reused, never returned). The pool
 * refills in the background, one container at a time per runtime, backing off when the engine
 * fails. `dispose()` removes every container it made that was not taken.
 */
import type { Duplex } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import type Docker from 'dockerode';
import type { CallSocket, CallSockets } from './call-socket.ts';
import {
  buildContainerSpec,
  buildHostConfig,
  POOL_LABEL,
  SUPERVISOR_CMD,
  type ContainerLimits,
} from './docker-config.ts';
import type { ContainerRuntime } from './supervisor-protocol.ts';

export interface ContainerPoolOptions {
  docker: Docker;
  runnerId: string;
  installationId: string;
  /** Image ID per runtime (resolved once at start-up). */
  images: Readonly<Record<ContainerRuntime, string>>;
  /** Limits every pool container is created with. */
  limits: ContainerLimits;
  /** Ready containers kept per runtime; 0 disables the pool. */
  size: number;
  /** The runner serves each container's capability socket (call-socket.ts); else the supervisor does. */
  callSockets?: CallSockets | null;
  log?: (msg: string) => void;
}

/** A started container waiting for its one task, its stdio already attached. */
export interface WarmContainer {
  readonly id: string;
  readonly container: Docker.Container;
  /**
   * The attach stream, opened while the container waited in the pool (attaching costs a round
   * trip through the engine that the task then does not pay). Paused until the task reads it.
   */
  readonly stream: Duplex;
  /** Its capability socket, when the runner serves it: whoever takes the container closes it. */
  readonly calls: CallSocket | null;
}

const MAX_BACKOFF_MS = 30_000;

/** How every sandbox's stdio is attached (hijacked: one raw duplex stream, multiplexed). */
export const ATTACH_OPTIONS = { stream: true, stdin: true, stdout: true, stderr: true, hijack: true } as const;

export class ContainerPool {
  readonly #o: ContainerPoolOptions;
  readonly #ready = new Map<ContainerRuntime, WarmContainer[]>();
  readonly #filling = new Map<ContainerRuntime, Promise<void>>();
  /** Every id made and not yet handed out (ready or being started): what dispose removes. */
  readonly #owned = new Set<string>();
  /** Attach streams of the containers in #ready. */
  readonly #streams = new Map<string, Duplex>();
  /** Capability sockets of the containers in #ready. */
  readonly #sockets = new Map<string, CallSocket>();
  #disposed = false;
  /** Cuts a back-off sleep short on dispose. */
  readonly #stop = new AbortController();

  constructor(options: ContainerPoolOptions) {
    this.#o = options;
  }

  /** The limits a task must have to use the pool. */
  get limits(): ContainerLimits {
    return this.#o.limits;
  }

  /** Starts filling every runtime's pool in the background. */
  fill(): void {
    for (const rt of Object.keys(this.#o.images) as ContainerRuntime[]) this.#refill(rt);
  }

  /**
   * A ready container for `runtime`, or null (pool empty or disabled: take the cold path). After
   * a warm take, call {@link replenish} once the task is done: starting a container costs the
   * engine (runc, overlay mounts) ~0.2 s of CPU, which would slow the very task that took the
   * warm one on a small machine. An empty pool starts refilling at once.
   */
  take(runtime: ContainerRuntime): WarmContainer | null {
    const ready = this.#ready.get(runtime);
    const warm = ready?.shift() ?? null;
    if (warm) {
      this.#owned.delete(warm.id);
      this.#streams.delete(warm.id);
      this.#sockets.delete(warm.id);
    }
    else this.#refill(runtime);
    return warm;
  }

  /** Tops the pool of `runtime` up in the background (after a task that took a warm one). */
  replenish(runtime: ContainerRuntime): void {
    this.#refill(runtime);
  }

  /** Ready containers of one runtime (for tests and metrics). */
  readyCount(runtime: ContainerRuntime): number {
    return this.#ready.get(runtime)?.length ?? 0;
  }

  /** Resolves when the refills under way have finished (tests). */
  async settled(): Promise<void> {
    await Promise.all([...this.#filling.values()]);
  }

  #refill(runtime: ContainerRuntime): void {
    if (this.#disposed || this.#o.size <= 0 || this.#filling.has(runtime)) return;
    const run = this.#fillLoop(runtime).finally(() => this.#filling.delete(runtime));
    this.#filling.set(runtime, run);
  }

  async #fillLoop(runtime: ContainerRuntime): Promise<void> {
    let backoff = 500;
    while (!this.#disposed && this.readyCount(runtime) < this.#o.size) {
      try {
        const warm = await this.#startOne(runtime);
        if (this.#disposed) break; // dispose() removes it: it is still in #owned
        const list = this.#ready.get(runtime) ?? [];
        list.push(warm);
        this.#ready.set(runtime, list);
        backoff = 500;
      } catch (err) {
        this.#o.log?.(
          `warm pool (${runtime}): ${(err as Error).message}; retrying in ${backoff} ms`,
        );
        await sleep(backoff, undefined, { signal: this.#stop.signal, ref: false }).catch(
          () => undefined,
        );
        backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
      }
    }
  }

  async #startOne(runtime: ContainerRuntime): Promise<WarmContainer> {
    const calls = (await this.#o.callSockets?.open()) ?? null;
    let container: Docker.Container;
    try {
      const spec = buildContainerSpec({
        image: this.#o.images[runtime],
        cmd: SUPERVISOR_CMD,
        runnerId: this.#o.runnerId,
        installationId: this.#o.installationId,
        hostConfig: buildHostConfig(this.#o.limits, [], calls?.dir),
        labels: { [POOL_LABEL]: '1' },
      });
      container = await this.#o.docker.createContainer(spec);
    } catch (err) {
      await calls?.close();
      throw err;
    }
    // Owned from the moment it exists, so a failed start or a dispose never leaks it.
    this.#owned.add(container.id);
    if (calls) this.#sockets.set(container.id, calls);
    try {
      await container.start();
      const stream = (await container.attach(ATTACH_OPTIONS)) as Duplex;
      stream.on('error', () => undefined); // a container removed while pooled: nothing to report
      this.#streams.set(container.id, stream);
      return { id: container.id, container, stream, calls };
    } catch (err) {
      this.#owned.delete(container.id);
      this.#sockets.delete(container.id);
      await container.remove({ force: true }).catch(() => undefined);
      await calls?.close();
      throw err;
    }
  }

  /** Stops refilling and removes every container not handed out. Idempotent. */
  async dispose(): Promise<void> {
    this.#disposed = true;
    this.#stop.abort();
    await this.settled();
    this.#ready.clear();
    for (const stream of this.#streams.values()) stream.destroy();
    this.#streams.clear();
    const sockets = [...this.#sockets.values()];
    this.#sockets.clear();
    const ids = [...this.#owned];
    this.#owned.clear();
    await Promise.all(
      ids.map((id) =>
        this.#o.docker
          .getContainer(id)
          .remove({ force: true })
          .catch(() => undefined),
      ),
    );
    await Promise.all(sockets.map((s) => s.close()));
  }
}
