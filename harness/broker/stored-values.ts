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
import { LruMap } from '../../protocol/lru-map.ts';

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

const id = (at: StoredAt) => (at.field === null ? at.key : `${at.key}\u0000${at.field}`);

/** The values last read, by place (bounded: least recently used dropped). */
export class StoredValuesMemory {
  readonly #values: LruMap<string, string | null>;

  constructor(max = 4096) {
    this.#values = new LruMap(max);
  }

  /** The value last read there (null: there was none), or undefined when not seen. */
  get(at: StoredAt): string | null | undefined {
    return this.#values.get(id(at));
  }

  remember(at: StoredAt, raw: string | null): void {
    this.#values.set(id(at), raw);
  }

  /** Reads the value and remembers it. */
  async read(redis: Redis, at: StoredAt): Promise<string | null> {
    const raw = await readStored(redis, at);
    this.remember(at, raw);
    return raw;
  }
}
