/**
 * Which leftover sandbox containers a runner may remove, and the sweep that removes them.
 *
 * Every container carries the labels managed, runner id and installation id. An installation is
 * every runner sharing one Redis: the id is generated once and kept there (runner/runner.ts), and
 * so is each runner's heartbeat. A runner removes only containers of its OWN installation whose
 * runner is gone:
 * - its own runner id, at start-up only: a previous life with the same explicit RUNNER_ID (the
 *   runner refuses to start while another live runner heartbeats with that id);
 * - a runner whose last heartbeat is older than `goneAfterMs`: it crashed or hangs, and its jobs'
 *   locks have expired as well, so BullMQ hands them to other runners;
 * - a runner with no heartbeat at all, seen missing for `goneAfterMs` on this runner's clock: it
 *   deregistered but left containers, or Redis lost its entry (then it is back within a beat).
 * Runners register before they create any container, so a container of a live runner always has
 * a fresh heartbeat behind it. Containers of other installations (another checkout with its own
 * Redis, a compose stack) and containers without the installation label (made by runners before
 * the label existed) are never touched.
 */
import type Docker from 'dockerode';
import { INSTALLATION_LABEL, MANAGED_LABEL, RUNNER_LABEL } from './docker-config.ts';

export interface OrphanSweepOptions {
  docker: Docker;
  installationId: string;
  /** This runner: its containers are never swept while it lives. */
  runnerId: string;
  /**
   * Last heartbeat (epoch ms, this host's clock) per runner id of the installation. Absent: the
   * sweep only ever removes this runner's own leftovers at start-up.
   */
  heartbeats?: () => Promise<ReadonlyMap<string, number>>;
  /** A runner silent for longer than this is gone. */
  goneAfterMs: number;
  /** Told each other runner whose containers a pass removed (its call sockets here go too). */
  onRunnerGone?: (runnerId: string) => Promise<void>;
  log?: (msg: string) => void;
}

/** Whether a runner is gone, from its heartbeat (or since when it has been seen missing). */
export function runnerGone(
  heartbeatMs: number | undefined,
  missingSinceMs: number | undefined,
  nowMs: number,
  goneAfterMs: number,
): boolean {
  if (heartbeatMs !== undefined) return nowMs - heartbeatMs > goneAfterMs;
  return missingSinceMs !== undefined && nowMs - missingSinceMs > goneAfterMs;
}

export class OrphanSweeper {
  readonly #o: OrphanSweepOptions;
  /** Runner ids with containers but no heartbeat entry → when this sweeper first saw that. */
  readonly #missingSince = new Map<string, number>();
  #running: Promise<string[]> | null = null;
  #timer: NodeJS.Timeout | undefined;

  constructor(options: OrphanSweepOptions) {
    this.#o = options;
  }

  /**
   * Removes the installation's containers whose runner is gone (and, with `ownLeftovers`, this
   * runner's own: only before it has made any). Returns the ids removed. Passes never overlap.
   */
  sweep(options: { ownLeftovers?: boolean } = {}): Promise<string[]> {
    this.#running ??= this.#sweep(options.ownLeftovers ?? false).finally(() => {
      this.#running = null;
    });
    return this.#running;
  }

  async #sweep(ownLeftovers: boolean): Promise<string[]> {
    const o = this.#o;
    const containers = await o.docker.listContainers({
      all: true,
      filters: { label: [`${MANAGED_LABEL}=1`, `${INSTALLATION_LABEL}=${o.installationId}`] },
    });
    const beats = o.heartbeats ? await o.heartbeats() : null;
    const now = Date.now();
    const doomed = new Map<string, string>(); // container id → runner id
    const withContainers = new Set<string>();
    for (const c of containers) {
      const runner = c.Labels[RUNNER_LABEL];
      if (runner === undefined) continue;
      if (runner === o.runnerId) {
        if (ownLeftovers) doomed.set(c.Id, runner);
        continue;
      }
      if (!beats) continue;
      withContainers.add(runner);
      const beat = beats.get(runner);
      if (beat === undefined && !this.#missingSince.has(runner))
        this.#missingSince.set(runner, now);
      if (beat !== undefined) this.#missingSince.delete(runner);
      if (runnerGone(beat, this.#missingSince.get(runner), now, o.goneAfterMs)) {
        doomed.set(c.Id, runner);
      }
    }
    for (const runner of this.#missingSince.keys()) {
      if (!withContainers.has(runner)) this.#missingSince.delete(runner);
    }
    const removed: string[] = [];
    await Promise.all(
      [...doomed.keys()].map((id) =>
        o.docker
          .getContainer(id)
          .remove({ force: true, v: true })
          .then(
            () => removed.push(id),
            (err: { statusCode?: number }) => {
              if (err.statusCode === 404) removed.push(id); // gone meanwhile (its removal raced)
            },
          ),
      ),
    );
    if (removed.length) {
      const runners = [...new Set(removed.map((id) => doomed.get(id) as string))];
      o.log?.(`removed ${removed.length} container(s) left by runner(s) that are gone: ${runners.join(', ')}`);
      await Promise.all(runners.filter((r) => r !== o.runnerId).map((r) => o.onRunnerGone?.(r).catch(() => undefined)));
    }
    return removed;
  }

  /** Sweeps every `intervalMs` from now on (failures are logged, the next pass tries again). */
  every(intervalMs: number): void {
    clearInterval(this.#timer);
    this.#timer = setInterval(() => {
      this.sweep().catch((err: Error) =>
        this.#o.log?.(`sweeping leftover containers: ${err.message}`),
      );
    }, intervalMs).unref();
  }

  /** Stops the periodic sweep and waits for a pass under way. */
  async stop(): Promise<void> {
    clearInterval(this.#timer);
    await this.#running?.catch(() => undefined);
  }
}
