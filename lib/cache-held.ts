import type { Log } from "./log.ts";

/** Entries held at most while the store is away (about 1-2 KB each): past that, answers go uncached. */
export const HELD_LIMIT = 10_000;

/** Writes an entry; false when the store failed it (the entry is then held again). */
export type Put = (key: string, value: unknown) => Promise<boolean>;

/**
 * Cache entries of answers made while the store was away (a Redis restarting), held in memory and
 * written once it answers again, so a rerun does not pay for them a second time. Bounded: past
 * `limit` entries, later answers go uncached and the run says how many at its end.
 */
export function createHeldWrites(options: { log: Log; store: string; limit?: number }) {
  const limit = options.limit ?? HELD_LIMIT;
  const held = new Map<string, unknown>();
  let dropped = 0;
  let flushing: Promise<void> | undefined;

  // An entry the store refuses while it works is left out (it was warned about); a store away again stops the flush.
  const writeAll = async (put: Put, away: () => boolean) => {
    for (const [key, value] of held) {
      if (!(await put(key, value)) && away()) return;
      held.delete(key);
    }
  };
  return {
    get size() {
      return held.size;
    },
    hold(key: string, value: unknown) {
      if (held.has(key) || held.size < limit) held.set(key, value);
      else dropped++;
    },
    /** Writes what is held, one at a time, until the store is `away` again; one flush at a time. */
    flush(put: Put, away: () => boolean): Promise<void> {
      if (held.size === 0) return flushing ?? Promise.resolve();
      flushing ??= writeAll(put, away).finally(() => (flushing = undefined));
      return flushing;
    },
    /** At the end of the run: one line for the answers that could not be cached. */
    report() {
      const lost = held.size + dropped;
      held.clear();
      dropped = 0;
      if (lost > 0) options.log.warn(`cache: ${lost} entr${lost === 1 ? "y" : "ies"} made while the store${options.store} was away could not be written; a rerun pays again for the answers among them`);
    },
  };
}

export type HeldWrites = ReturnType<typeof createHeldWrites>;
