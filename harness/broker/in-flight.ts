/**
 * Work the broker started and did not wait for (a call's settle, sent as its answer goes back):
 * the harness waits for it before it closes its Redis connection, so a shutdown does not cut it.
 */
export class InFlight {
  readonly #pending = new Set<Promise<unknown>>();

  /** Tracks `work` until it settles (a rejection is the caller's to handle; it is not raised here). */
  track(work: Promise<unknown>): void {
    this.#pending.add(work);
    const forget = () => this.#pending.delete(work);
    work.then(forget, forget);
  }

  get size(): number {
    return this.#pending.size;
  }

  /** Resolves once everything tracked now has settled, or after `timeoutMs`. */
  async drain(timeoutMs = 5000): Promise<void> {
    if (this.#pending.size === 0) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.allSettled([...this.#pending]),
      new Promise<void>((r) => {
        timer = setTimeout(r, timeoutMs);
      }),
    ]);
    clearTimeout(timer);
  }
}
