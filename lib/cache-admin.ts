import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative, sep } from "node:path";
import type { Storage } from "unstorage";
import { z } from "zod";
import { CACHE_KEY_VERSION, keyPart } from "./cache.ts";

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

export const importedEntrySchema = z.object({
  v: z.literal(CACHE_KEY_VERSION),
  answer: z.unknown(),
  stage: z.enum(["descriptions", "features", "mapping"]),
  serviceId: z.string(),
  plateau: z.string().nullable(),
  field: z.string().nullable(),
  source: z.string(),
  importedAt: z.string(),
});
export type ImportedEntry = z.infer<typeof importedEntrySchema>;

/** Where an imported answer is indexed: by stage, service, plateau and mapping field. */
export const importedPrefix = (stage: string, serviceId: string, plateau?: string | null, field?: string | null) =>
  ["imported", stage, keyPart(serviceId), ...(plateau ? [keyPart(plateau.toLowerCase())] : []), ...(field ? [keyPart(field)] : [])].join(":");

export interface ImportReport {
  migrated: number;
  skipped: number;
  invalid: number;
  problems: string[];
}

function walk(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...walk(path));
    else out.push(path);
  }
  return out.sort();
}

/**
 * Reads a Python tool cache folder, `<context>/<service>/[<plateau>/[mappings/<field>/]]<key>.json`,
 * into the store under `imported:`. Entries already imported are skipped; unreadable ones are
 * counted as invalid.
 */
export async function importPythonCache(storage: Storage, dir: string, now = new Date()): Promise<ImportReport> {
  const report: ImportReport = { migrated: 0, skipped: 0, invalid: 0, problems: [] };
  for (const file of walk(dir)) {
    const rel = relative(dir, file);
    const parts = rel.split(sep);
    const name = parts.at(-1)!;
    if (!name.endsWith(".json")) {
      report.skipped++;
      continue;
    }
    const hash = keyPart(name.slice(0, -5));
    let place: { context: string; serviceId: string; stage: ImportedEntry["stage"]; plateau: string | null; field: string | null } | undefined;
    if (parts.length === 3) place = { context: parts[0]!, serviceId: parts[1]!, stage: "descriptions", plateau: null, field: null };
    else if (parts.length === 4) place = { context: parts[0]!, serviceId: parts[1]!, stage: "features", plateau: parts[2]!, field: null };
    else if (parts.length === 6 && parts[3] === "mappings") place = { context: parts[0]!, serviceId: parts[1]!, stage: "mapping", plateau: parts[2]!, field: parts[4]! };
    if (!place) {
      report.skipped++;
      report.problems.push(`${rel}: not in the <context>/<service>/[<plateau>/[mappings/<field>/]]<key>.json layout`);
      continue;
    }
    let answer: unknown;
    try {
      answer = JSON.parse(readFileSync(file, "utf8"));
    } catch (error) {
      report.invalid++;
      report.problems.push(`${rel}: invalid JSON (${(error as Error).message})`);
      continue;
    }
    const key = `${importedPrefix(place.stage, place.serviceId, place.plateau, place.field)}:${hash}`;
    if (await storage.hasItem(key)) {
      report.skipped++;
      continue;
    }
    const entry: ImportedEntry = { v: CACHE_KEY_VERSION, answer, ...place, source: rel, importedAt: now.toISOString() };
    await storage.setItem(key, entry);
    report.migrated++;
  }
  return report;
}

/**
 * The first imported answer for a stage, service and plateau (by name or level) that `accept`
 * takes, for `run --reuse-imported`.
 */
export async function findImportedAnswer<T>(
  storage: Storage,
  at: { stage: string; serviceId: string; plateau?: { name: string; level: number }; field?: string },
  accept: (answer: unknown) => T | undefined,
): Promise<T | undefined> {
  const plateaus = at.plateau ? [at.plateau.name, String(at.plateau.level)] : [null];
  for (const plateau of plateaus) {
    for (const key of (await storage.getKeys(importedPrefix(at.stage, at.serviceId, plateau, at.field)).catch(() => [])).sort()) {
      const entry = importedEntrySchema.safeParse(await storage.getItem(key).catch(() => null));
      const value = entry.success ? accept(entry.data.answer) : undefined;
      if (value !== undefined) return value;
    }
  }
  return undefined;
}
