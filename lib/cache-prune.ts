import type { Storage } from "unstorage";

/** When an entry was written: its own `createdAt`/`importedAt`, else the driver's mtime; NaN when neither says. */
async function createdAt(storage: Storage, key: string): Promise<number> {
  const value = (await storage.getItem(key).catch(() => null)) as { createdAt?: string; importedAt?: string } | null;
  const stamp = Date.parse(value?.createdAt ?? value?.importedAt ?? "");
  if (Number.isFinite(stamp)) return stamp;
  let meta: { mtime?: unknown } = {};
  try {
    meta = await storage.getMeta(key);
  } catch {
    // A driver without metadata: the age cannot be told.
  }
  return meta.mtime instanceof Date ? meta.mtime.getTime() : Number.NaN;
}

/** `cache prune`: removes entries under `namespace`, and/or older than `olderThanMs`. */
export async function pruneCache(storage: Storage, options: { namespace?: string; olderThanMs?: number; now?: number; isEntry?: (key: string) => boolean }): Promise<number> {
  const now = options.now ?? Date.now();
  let removed = 0;
  for (const key of await storage.getKeys(options.namespace)) {
    if (options.isEntry && !options.isEntry(key)) continue;
    if (options.olderThanMs !== undefined) {
      const created = await createdAt(storage, key);
      // An entry whose age cannot be told is kept.
      if (!Number.isFinite(created) || now - created < options.olderThanMs) continue;
    }
    await storage.removeItem(key);
    removed++;
  }
  return removed;
}
