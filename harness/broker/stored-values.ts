/**
 * The stored values a call is decided on (the task owner's record, the capability's definition,
 * its credential, sealed), as last read, by where they are stored. A task's next call is decided
 * on them without reading them first, and its claim script checks, before it claims anything,
 * that each still holds exactly what the decision saw (its SHA-1): a value changed meanwhile
 * claims nothing and the call is decided again on fresh reads (broker-call.ts, the one-trip
 * path). So a remembered value can cost a second trip, never a decision on a stale value.
 */
import { hash } from 'node:crypto';
import type { Redis } from 'ioredis';

/** A string key (`field` null) or a field of a hash. */
export interface StoredAt {
  key: string;
  field: string | null;
}

/** A value the decision was made on, and what the claim script compares it with. */
export interface CheckedValue {
  at: StoredAt;
  /** SHA-1 hex of the value as stored ('-' when there was none), as Lua's `redis.sha1hex` gives it. */
  sha1: string;
}

export function readStored(redis: Redis, at: StoredAt): Promise<string | null> {
  return at.field === null ? redis.get(at.key) : redis.hget(at.key, at.field);
}

export function checked(at: StoredAt, raw: string | null): CheckedValue {
  return { at, sha1: raw === null ? '-' : hash('sha1', raw, 'hex') };
}

/** One string per place, never the same for two (a key's length ends where it does). */
const id = (at: StoredAt) => (at.field === null ? `s${at.key}` : `h${at.key.length}:${at.key}${at.field}`);

/**
 * The values last read, by place: bounded by their total length (definitions can be large: their
 * schemas may take 64 KiB each), the least recently used dropped first. A value dropped, or too
 * large to keep, only costs its next call the path that reads first.
 */
export class StoredValuesMemory {
  /** By place: the value, and what it parsed to (kept beside it, for a value that parses the same every time). */
  readonly #values = new Map<string, { raw: string | null; parsed?: unknown }>();
  readonly #maxChars: number;
  #chars = 0;

  /** `maxChars`: the most characters of values held at once (16 Mi by default). */
  constructor(maxChars = 16 * 1024 * 1024) {
    this.#maxChars = maxChars;
  }

  /** The value last read there (null: there was none), or undefined when not held. */
  get(at: StoredAt): string | null | undefined {
    const k = id(at);
    const entry = this.#values.get(k);
    if (entry === undefined) return undefined;
    // Most recently used last.
    this.#values.delete(k);
    this.#values.set(k, entry);
    return entry.raw;
  }

  /**
   * `parse(raw)`, made once per value held at `at` (`raw` as {@link get} gave it): a pure parse of
   * stored JSON, whose result the caller only reads.
   */
  parsed<T>(at: StoredAt, raw: string, parse: (raw: string) => T): T {
    const entry = this.#values.get(id(at));
    if (entry?.raw === raw && entry.parsed !== undefined) return entry.parsed as T;
    const value = parse(raw);
    if (entry?.raw === raw) entry.parsed = value;
    return value;
  }

  remember(at: StoredAt, raw: string | null): void {
    const k = id(at);
    this.#forget(k);
    const size = k.length + (raw?.length ?? 0);
    if (size > this.#maxChars / 64) return;
    this.#values.set(k, { raw });
    this.#chars += size;
    for (const oldest of this.#values.keys()) {
      if (this.#chars <= this.#maxChars) break;
      this.#forget(oldest);
    }
  }

  /** Reads the value and remembers it. */
  async read(redis: Redis, at: StoredAt): Promise<string | null> {
    const raw = await readStored(redis, at);
    this.remember(at, raw);
    return raw;
  }

  /** How many characters the held values take (keys included). */
  get chars(): number {
    return this.#chars;
  }

  #forget(k: string): void {
    const old = this.#values.get(k);
    if (old === undefined) return;
    this.#values.delete(k);
    this.#chars -= k.length + (old.raw?.length ?? 0);
  }
}
