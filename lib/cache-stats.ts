import type { Storage } from "unstorage";
import { formatBytes, formatCount } from "./format.ts";
import { redisBase } from "./cache.ts";
import { redactUrl } from "./redact.ts";

/** Where other uses of a shared Redis keep their keys: BullMQ (`bull:`), the queue's journal and budget (`sa:queue:`), the shared RPM/TPM buckets (`sa-rate:`). */
const otherUses = /^(?:bull|sa:queue|sa-rate):/;

/**
 * The Python tool's answers (`<context>/<service>/.../<key>.json`) and other files kept with them:
 * with its `config/app.yaml` our fs store is its `cache_dir`, and our entries sit beside its files.
 * No key of ours ends in a file extension (its last part is a hash, a process id or a batch id).
 */
const pythonFile = /\.[A-Za-z]\w*$/;

/**
 * Whether a listed key is a cache entry. In an fs store that is the Python tool's cache folder,
 * its files are not: no cache task counts or removes them (`cache import` reads them). A Redis shared with the queue or the rate limits holds
 * their keys too (under the cache's prefix when that is `sa`, or anywhere without one): no cache
 * task counts or removes them.
 */
export function entryFilter(cache: { driver: string; base?: unknown }): (key: string) => boolean {
  if (cache.driver === "fs") return (key) => !pythonFile.test(key);
  if (cache.driver !== "redis") return () => true;
  const prefix = redisBase(cache.base).base;
  return (key) => !otherUses.test(prefix ? `${prefix}:${key}` : key);
}

/** The namespace of a key: `<namespace>:<stage>` (config `context`), or `transcripts:<namespace>` / `imported:<stage>`. */
const namespaceOf = (key: string) => key.split(":").slice(0, 2).join(":");

export interface NamespaceStats {
  namespace: string;
  entries: number;
  bytes: number;
}

export interface StoreStats {
  /** The driver and where it keeps entries; never a password. */
  store: string;
  namespaces: NamespaceStats[];
  total: { entries: number; bytes: number };
  oldest: { key: string; at: string } | null;
  newest: { key: string; at: string } | null;
}

/** Where the store is, as config names it: a folder for fs, a URL without its credentials. */
export function describeStore(cache: { driver: string; base?: unknown; url?: unknown }): string {
  const where = typeof cache.url === "string" ? redactUrl(cache.url) : typeof cache.base === "string" ? cache.base : "";
  // The prefix as the keys carry it: the redis driver writes a base that is a path in normal form.
  const prefix = cache.driver === "redis" ? redisBase(cache.base).base : cache.base;
  const base = typeof cache.url === "string" && typeof prefix === "string" && prefix ? ` (prefix ${prefix})` : "";
  return `${cache.driver}${where ? ` ${where}` : ""}${base}`;
}

/** When an entry was written: its own `createdAt`/`importedAt`, else the driver's mtime. */
async function entryInfo(storage: Storage, key: string): Promise<{ bytes: number; at?: number }> {
  let meta: { size?: number; mtime?: Date } = {};
  try {
    meta = (await storage.getMeta(key)) as typeof meta;
  } catch {
    // A driver without metadata: the value itself says what we need.
  }
  const value = (await storage.getItem(key).catch(() => null)) as { createdAt?: string; importedAt?: string } | string | null;
  const bytes = typeof meta.size === "number" ? meta.size : value === null ? 0 : Buffer.byteLength(typeof value === "string" ? value : JSON.stringify(value));
  const stamp = value && typeof value === "object" ? Date.parse(value.createdAt ?? value.importedAt ?? "") : Number.NaN;
  const at = Number.isFinite(stamp) ? stamp : meta.mtime instanceof Date ? meta.mtime.getTime() : undefined;
  return { bytes, at };
}

export async function storeStats(storage: Storage, store: string, isEntry: (key: string) => boolean = () => true): Promise<StoreStats> {
  const byNamespace = new Map<string, NamespaceStats>();
  const stats: StoreStats = { store, namespaces: [], total: { entries: 0, bytes: 0 }, oldest: null, newest: null };
  let oldest = Number.POSITIVE_INFINITY;
  let newest = Number.NEGATIVE_INFINITY;
  for (const key of (await storage.getKeys()).filter(isEntry).sort()) {
    const info = await entryInfo(storage, key);
    const ns = byNamespace.get(namespaceOf(key)) ?? { namespace: namespaceOf(key), entries: 0, bytes: 0 };
    byNamespace.set(ns.namespace, { ...ns, entries: ns.entries + 1, bytes: ns.bytes + info.bytes });
    stats.total.entries++;
    stats.total.bytes += info.bytes;
    if (info.at === undefined) continue;
    if (info.at < oldest) {
      oldest = info.at;
      stats.oldest = { key, at: new Date(info.at).toISOString() };
    }
    if (info.at > newest) {
      newest = info.at;
      stats.newest = { key, at: new Date(info.at).toISOString() };
    }
  }
  stats.namespaces = [...byNamespace.values()].sort((a, b) => a.namespace.localeCompare(b.namespace));
  return stats;
}

/** The stats as a small table with thousands separators and readable sizes. */
export function statsText(s: StoreStats): string {
  const rows = s.namespaces.map((n) => [n.namespace, formatCount(n.entries), formatBytes(n.bytes)]);
  rows.push(["total", formatCount(s.total.entries), formatBytes(s.total.bytes)]);
  const head = ["namespace", "entries", "size"];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ");
  const out = [`store   ${s.store}`, "", line(head), line(widths.map((w) => "─".repeat(w))), ...rows.map(line), ""];
  out.push(s.oldest ? `oldest  ${s.oldest.at}  ${s.oldest.key}` : "oldest  (none)", s.newest ? `newest  ${s.newest.at}  ${s.newest.key}` : "newest  (none)");
  return out.join("\n");
}
