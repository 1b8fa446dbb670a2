import type { Clock } from "./clock.ts";

/** Calls sent together come back together: one drop for a burst of 429s. */
const DROP_EVERY_MS = 1000;
/** No rise for this long after a drop: calls waiting to retry go first, into a window that has room. */
const RISE_AFTER_MS = 5000;

/**
 * Without RPM/TPM buckets, the number of calls in flight is the only pace a run has, and a
 * provider that counts over a short window answers a burst with 429s: each call then retries into
 * the same full window, and the new calls started meanwhile take the slots its retry waited for,
 * until it has spent its attempts (lib/retry-first.ts now holds new calls back while those retries
 * wait, but a burst's retries still crowd each other). So a 429 halves the calls in flight (at most
 * once a second, down to one). They come back by one after twice as many answers in a row as are allowed, and only
 * once 5 s have passed without a drop, so the calls waiting to retry go first (additive increase,
 * multiplicative decrease, as TCP paces a connection). Calls already out keep their slots.
 */
export function adaptiveConcurrency(queue: { concurrency: number }, options: { max: number; clock: Clock; changed?: (concurrency: number, lowered: boolean) => void }) {
  let answers = 0;
  let droppedAt = Number.NEGATIVE_INFINITY;
  return (status: number) => {
    const now = options.clock.now();
    if (status === 429) {
      answers = 0;
      if (now - droppedAt < DROP_EVERY_MS || queue.concurrency <= 1) return;
      droppedAt = now;
      queue.concurrency = Math.max(1, Math.floor(queue.concurrency / 2));
      options.changed?.(queue.concurrency, true);
      return;
    }
    if (status >= 400 || queue.concurrency >= options.max || now - droppedAt < RISE_AFTER_MS) return;
    if (++answers < 2 * queue.concurrency) return;
    answers = 0;
    queue.concurrency += 1;
    options.changed?.(queue.concurrency, false);
  };
}
