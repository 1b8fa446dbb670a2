import type { Storage } from "unstorage";

/** The namespace of a key: `<context>:<stage>`, or `transcripts:<context>` / `imported:<stage>`. */
export const namespaceOf = (key: string) => key.split(":").slice(0, 2).join(":");

export interface NamespaceStats {
  namespace: string;
  entries: number;
  bytes: number;
}

async function metaOf(storage: Storage, key: string): Promise<Record<string, unknown>> {
  try {
    return (await storage.getMeta(key)) as Record<string, unknown>;
  } catch {
    return {};
  }
}

async function sizeOf(storage: Storage, key: string): Promise<number> {
  const meta = await metaOf(storage, key);
  if (typeof meta.size === "number") return meta.size;
  const value = await storage.getItem(key).catch(() => null);
  return value === null ? 0 : Buffer.byteLength(typeof value === "string" ? value : JSON.stringify(value));
}

export async function cacheStats(storage: Storage): Promise<NamespaceStats[]> {
  const stats = new Map<string, NamespaceStats>();
  for (const key of await storage.getKeys()) {
    const ns = namespaceOf(key);
    const s = stats.get(ns) ?? { namespace: ns, entries: 0, bytes: 0 };
    s.entries++;
    s.bytes += await sizeOf(storage, key);
    stats.set(ns, s);
  }
  return [...stats.values()].sort((a, b) => a.namespace.localeCompare(b.namespace));
}

/** Removes entries under `namespace`, and/or older than `olderThanMs` (by their createdAt, else mtime). */
export async function pruneCache(storage: Storage, options: { namespace?: string; olderThanMs?: number; now?: number }): Promise<number> {
  const now = options.now ?? Date.now();
  let removed = 0;
  for (const key of await storage.getKeys(options.namespace)) {
    if (options.olderThanMs !== undefined) {
      const value = (await storage.getItem(key).catch(() => null)) as { createdAt?: string; importedAt?: string } | null;
      let created = Date.parse(value?.createdAt ?? value?.importedAt ?? "");
      if (!Number.isFinite(created)) {
        const meta = await metaOf(storage, key);
        created = meta.mtime instanceof Date ? meta.mtime.getTime() : Number.NaN;
      }
      // An entry whose age cannot be told is kept.
      if (!Number.isFinite(created) || now - created < options.olderThanMs) continue;
    }
    await storage.removeItem(key);
    removed++;
  }
  return removed;
}

/** `30d`, `12h`, `45m`, `90s` → milliseconds. */
export function parseAge(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)\s*(d|h|m|s)$/.exec(text.trim());
  if (!m) return undefined;
  return Number(m[1]) * { d: 86_400_000, h: 3_600_000, m: 60_000, s: 1000 }[m[2] as "d" | "h" | "m" | "s"];
}
