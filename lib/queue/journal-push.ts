import type { Redis } from "ioredis";

/** Entries a worker keeps while no coordinator has read them, at most (the oldest go first). */
const maxKept = 100_000;

/** An entry pushed under one epoch of the list, at its index there. */
interface Kept {
  text: string;
  index: number;
}

export interface JournalPusher {
  /** Appends one entry; resolves once it is in Redis. */
  push(text: string): Promise<void>;
  /** Looks at the epoch with nothing to push (Redis is back): entries the list lost go again. */
  check(): Promise<void>;
}

/**
 * A worker's side of the journal list. Each push also reads the list's epoch (set if missing, as
 * the coordinator's reader does) and how far the coordinator has read (`<key>:read`). What no
 * coordinator has read yet is kept: when a push finds another epoch, Redis lost the list (a
 * restart without persistence) and those entries are pushed again, so the run's ledger still
 * counts every call. Entries pushed while one push is out go together in the next.
 */
export function createJournalPusher(client: Redis, key: string): JournalPusher {
  let epoch: string | undefined;
  let kept: Kept[] = [];
  let queued: Array<{ text: string; done: () => void }> = [];
  let draining: Promise<void> | undefined;

  /** One round trip: the epoch, the entries (if any) and the read offset, in one transaction. */
  async function send(texts: string[]): Promise<void> {
    const multi = client.multi().set(`${key}:epoch`, crypto.randomUUID(), "NX").get(`${key}:epoch`);
    const results = await (texts.length ? multi.rpush(key, ...texts) : multi.llen(key)).get(`${key}:read`).exec();
    const failed = !results ? new Error("journal push: no answer") : results.find(([error]) => error)?.[0];
    if (failed) throw failed;
    const [now, length, read] = [results![1]![1], Number(results![2]![1]), Number(results![3]![1] ?? 0)];
    if (epoch !== undefined && now !== epoch) {
      // The list (and the coordinator's offset in it) was lost: what it had not read goes again, in the next round trip.
      queued = [...kept.map((k) => ({ text: k.text, done: () => {} })), ...queued];
      kept = [];
    }
    epoch = typeof now === "string" ? now : undefined;
    const first = length - texts.length;
    kept.push(...texts.map((text, i) => ({ text, index: first + i })));
    kept = kept.filter((k) => k.index >= read).slice(-maxKept);
  }

  async function drain(force = false): Promise<void> {
    while (queued.length || force) {
      force = false;
      const batch = queued;
      queued = [];
      // A push that fails (Redis gone past ioredis's reconnects) loses those entries, as before.
      await send(batch.map((q) => q.text)).catch(() => {});
      for (const q of batch) q.done();
    }
    draining = undefined;
  }

  return {
    push(text) {
      return new Promise<void>((done) => {
        queued.push({ text, done });
        draining ??= drain();
      });
    },
    async check() {
      await draining;
      draining ??= drain(true);
      await draining;
    },
  };
}
