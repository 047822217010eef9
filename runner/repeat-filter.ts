/**
 * Wraps a log function so that a message already logged within the last `windowMs` is dropped
 * (and counted in the next one that gets through). A lost Redis made every connection of the
 * runner log `connect ECONNREFUSED` on every reconnect attempt — a screenful a minute, hiding
 * everything else.
 */
export function withoutRepeats(log: (msg: string) => void, windowMs = 60_000): (msg: string) => void {
  const lastLogged = new Map<string, { at: number; dropped: number }>();
  return (msg) => {
    const now = Date.now();
    const seen = lastLogged.get(msg);
    if (seen && now - seen.at < windowMs) {
      seen.dropped++;
      return;
    }
    const dropped = seen?.dropped ?? 0;
    lastLogged.set(msg, { at: now, dropped: 0 });
    // Bounded: a runner logs few distinct messages; forget old ones if it ever logs many.
    if (lastLogged.size > 1000) lastLogged.delete(lastLogged.keys().next().value as string);
    log(dropped > 0 ? `${msg} (repeated ${dropped} times)` : msg);
  };
}
