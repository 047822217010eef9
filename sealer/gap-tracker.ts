/**
 * Counts each producer's entries per shard and finds the ones that never arrived (removed from
 * a stream before the sealer read them: STANDARDS AUD-3). A counter missing for longer than the
 * grace time (XADDs of one producer may reach a stream slightly out of order) is a gap.
 * Pure state machine; the sealer persists it with its state.
 */

export interface Gap {
  producer: string;
  shard: number;
  /** First and last missing counter. */
  from: number;
  to: number;
}

interface Missing {
  from: number;
  to: number;
  sinceMs: number;
}

interface Track {
  max: number;
  missing: Missing[];
  seenMs: number;
}

export interface GapTrackerJson {
  [producerShard: string]: Track;
}

export class GapTracker {
  readonly #tracks: Map<string, Track>;
  readonly #graceMs: number;

  constructor(graceMs: number, saved: GapTrackerJson = {}) {
    this.#graceMs = graceMs;
    this.#tracks = new Map(Object.entries(saved));
  }

  /** Records counter `n` of `producer` on `shard`. */
  observe(producer: string, shard: number, n: number, nowMs: number): void {
    const key = `${producer}/${shard}`;
    const t = this.#tracks.get(key) ?? { max: 0, missing: [], seenMs: nowMs };
    t.seenMs = nowMs;
    if (n > t.max) {
      if (n > t.max + 1) t.missing.push({ from: t.max + 1, to: n - 1, sinceMs: nowMs });
      t.max = n;
    } else {
      // A late arrival fills (part of) a hole.
      const next: Missing[] = [];
      for (const m of t.missing) {
        if (n < m.from || n > m.to) next.push(m);
        else {
          if (m.from < n) next.push({ from: m.from, to: n - 1, sinceMs: m.sinceMs });
          if (n < m.to) next.push({ from: n + 1, to: m.to, sinceMs: m.sinceMs });
        }
      }
      t.missing = next;
    }
    this.#tracks.set(key, t);
  }

  /**
   * A heartbeat: `producer` says it took counters up to `n` on `shard`. Counters above what was
   * seen become missing (filled if they still arrive within the grace time); `n` is not marked seen.
   */
  claim(producer: string, shard: number, n: number, nowMs: number): void {
    const key = `${producer}/${shard}`;
    const t = this.#tracks.get(key) ?? { max: 0, missing: [], seenMs: nowMs };
    t.seenMs = nowMs;
    if (n > t.max) {
      t.missing.push({ from: t.max + 1, to: n, sinceMs: nowMs });
      t.max = n;
    }
    this.#tracks.set(key, t);
  }

  /** Holes older than the grace time, removed from tracking (each is reported once). */
  takeDue(nowMs: number): Gap[] {
    const due: Gap[] = [];
    for (const [key, t] of this.#tracks) {
      const slash = key.lastIndexOf('/');
      const keep: Missing[] = [];
      for (const m of t.missing) {
        if (nowMs - m.sinceMs >= this.#graceMs) due.push({ producer: key.slice(0, slash), shard: Number(key.slice(slash + 1)), from: m.from, to: m.to });
        else keep.push(m);
      }
      t.missing = keep;
    }
    return due;
  }

  /** Forgets producers not seen for `idleMs` (their processes are gone) and returns the rest. */
  toJson(nowMs: number, idleMs: number): GapTrackerJson {
    for (const [key, t] of this.#tracks) if (nowMs - t.seenMs > idleMs && t.missing.length === 0) this.#tracks.delete(key);
    return Object.fromEntries(this.#tracks);
  }
}
