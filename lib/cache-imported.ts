import type { Storage } from "unstorage";
import { z } from "zod";
import { CACHE_KEY_VERSION, keyPart } from "./cache.ts";

/**
 * The `imported:` namespace of the cache: answers carried over from the Python tool (written by
 * `lib/cache-import.ts`) and the lookup `--reuse-imported` does on every call that misses.
 */

export const importedStages = ["descriptions", "features", "mapping"] as const;
export type ImportedStage = (typeof importedStages)[number];

export const importedEntrySchema = z.object({
  v: z.literal(CACHE_KEY_VERSION),
  /** The answer in our shape (converted from the Python tool's when it came from its cache). */
  answer: z.unknown(),
  stage: z.enum(importedStages),
  serviceId: z.string(),
  plateau: z.string().nullable(),
  field: z.string().nullable(),
  /** The Python tool's `context_id` folder the answer came from (none for an evolutions file). */
  context: z.string().optional(),
  source: z.string(),
  importedAt: z.string(),
});
export type ImportedEntry = z.infer<typeof importedEntrySchema>;

/** Where an imported answer is indexed: by stage, service, plateau (name or level) and mapping field. */
export const importedPrefix = (stage: string, serviceId: string, plateau?: string | null, field?: string | null) =>
  ["imported", stage, keyPart(serviceId), ...(plateau ? [keyPart(plateau.toLowerCase())] : []), ...(field ? [keyPart(field)] : [])].join(":");

/**
 * The first imported answer for a stage, service and plateau (by name or level) that `accept`
 * takes, for `--reuse-imported`. An answer from another context's folder is passed over.
 */
export async function findImportedAnswer<T>(
  storage: Storage,
  at: { stage: string; serviceId: string; context?: string; plateau?: { name: string; level: number }; field?: string },
  accept: (answer: unknown) => T | undefined,
): Promise<T | undefined> {
  const plateaus = at.plateau ? [at.plateau.name, String(at.plateau.level)] : [null];
  for (const plateau of plateaus) {
    for (const key of (await storage.getKeys(importedPrefix(at.stage, at.serviceId, plateau, at.field)).catch(() => [])).sort()) {
      const entry = importedEntrySchema.safeParse(await storage.getItem(key).catch(() => null));
      const elsewhere = entry.success && at.context !== undefined && entry.data.context !== undefined && entry.data.context !== at.context;
      const value = entry.success && !elsewhere ? accept(entry.data.answer) : undefined;
      if (value !== undefined) return value;
    }
  }
  return undefined;
}
