import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import type { z } from "zod";
import { catalogueFileDigest, catalogueHash } from "./catalogue-hash.ts";
import { SAError, isSAError } from "./errors.ts";
import {
  catalogueFileSchema,
  definitionsFileSchema,
  plateausFileSchema,
  rolesFileSchema,
  type Catalogue,
  type Definitions,
  type Plateau,
  type Role,
} from "./schema/data.ts";
import type { Config } from "./schema/config.ts";
import { jsonIssueError, lineOf, parseJsonText } from "./json-position.ts";
import { loadPromptTexts } from "./prompts/sources.ts";
import { readUtf8File, withoutBom } from "./utf8-text.ts";

export interface Dataset {
  dir: string;
  roles: Role[];
  plateaus: Plateau[];
  definitions: Definitions;
  /** Keyed by output field, in config order. */
  catalogues: Catalogue[];
  /** The situational context: the organisation's setting, given to every system prompt. */
  situationalContext: string;
  inspirations: string;
  /** The files the situational context and inspirations came from (null: none). */
  sources: { situationalContext: string | null; inspirations: string | null };
}


async function readJsonFile<S extends z.ZodType>(file: string, schema: S): Promise<z.infer<S>> {
  // A spreadsheet export named as a data file: say what is read, not that "id,name" is bad JSON.
  const kind = /\.(csv|tsv|xlsx?)$/i.exec(file)?.[1];
  if (kind) throw new SAError("E_DATA", `data ${file}: data files are JSON (a catalogue: a list of {id, name, description}, or the object form with facets), not ${kind.toUpperCase()}`);
  let text: string;
  try {
    text = await readUtf8File(file, ({ line, reason }) => new SAError("E_DATA", `data ${file}:${line}: ${reason}`));
  } catch (cause) {
    if (isSAError(cause)) throw cause;
    const code = (cause as NodeJS.ErrnoException).code;
    const reasons: Record<string, string> = { ENOENT: "file not found", EISDIR: "a folder, not a file", EACCES: "permission denied" };
    throw new SAError("E_DATA", `data ${file}: ${reasons[code ?? ""] ?? `cannot read (${code ?? "error"})`}`, { cause });
  }
  const data = parseJsonText(text, `data ${file}`);
  // Each data file is parsed once: zod's compiled fast path would cost more to build than it saves.
  const parsed = schema.safeParse(data, { jitless: true });
  if (!parsed.success) throw jsonIssueError(text, `data ${file}`, parsed.error);
  return parsed.data;
}

/** Refuses a repeated id, naming the line and the field of the second one (`at`: its path in the file). */
function assertUnique(file: string, ids: string[], at: (index: number) => PropertyKey[]): void {
  const seen = new Set<string>();
  for (const [index, id] of ids.entries()) {
    if (seen.has(id)) {
      const line = lineOf(withoutBom(readFileSync(file, "utf8")), at(index));
      throw new SAError("E_DATA", `data ${file}${line ? `:${line}` : ""}: ${at(index).join(".")}: duplicate "${id}"`);
    }
    seen.add(id);
  }
}

export async function loadCatalogue(file: string, field: string, label?: string): Promise<Catalogue> {
  const raw = await readJsonFile(file, catalogueFileSchema);
  const digest = catalogueFileDigest(raw);
  const catalogue: Catalogue = Array.isArray(raw)
    ? { field, label: label ?? field, facets: [], items: raw, digest }
    : { field, label: label ?? raw.label ?? field, facets: raw.facets, items: raw.items, digest };
  assertUnique(file, catalogue.items.map((i) => i.id), (i) => (Array.isArray(raw) ? [i, "id"] : ["items", i, "id"]));
  assertUnique(file, catalogue.facets.map((f) => f.id), (i) => ["facets", i, "id"]);
  return catalogue;
}

/** A catalogue with no items is refused (every call into it would be paid for nothing) unless its set says `allowEmpty`. */
async function loadMappingSet(dir: string, set: Config["mappingSets"][number]): Promise<Catalogue> {
  const file = join(dir, set.file);
  const catalogue = await loadCatalogue(file, set.field, set.label);
  if (catalogue.items.length === 0 && !set.allowEmpty) {
    throw new SAError("E_DATA", `data ${file}: the ${set.field} catalogue has no items; add some, or set allowEmpty: true on its mapping set to skip it`);
  }
  return catalogue;
}

/**
 * `meta.catalogue_hash` as the Python tool computes it: over every mapping set of the config, so
 * `map --sets` (which keeps the other sets' mappings) writes the hash a whole run writes. A data
 * folder that holds only the sets mapped (no run could use it) gives the hash of those sets.
 */
export async function configCatalogueHash(config: Pick<Config, "dataDir" | "mappingSets">, loaded: Catalogue[]): Promise<string> {
  const missing = config.mappingSets.some((set) => !loaded.some((c) => c.field === set.field) && !existsSync(join(config.dataDir, set.file)));
  if (missing) return catalogueHash(loaded);
  const catalogues = await Promise.all(config.mappingSets.map((set) => loaded.find((c) => c.field === set.field) ?? loadMappingSet(config.dataDir, set)));
  return catalogueHash(catalogues);
}

export interface LoadDatasetOptions {
  /** Only these mapping sets (by field). @default every set in the config */
  sets?: string[];
  /** `map` can work without roles and plateaus; `run` cannot. @default true */
  requireRolesAndPlateaus?: boolean;
}

/** Reads the Python tool's data layout unchanged. */
export async function loadDataset(config: Pick<Config, "dataDir" | "mappingSets"> & Partial<Pick<Config, "promptDir" | "contextId" | "inspiration">>, options: LoadDatasetOptions = {}): Promise<Dataset> {
  const dir = config.dataDir;
  if (!existsSync(dir)) throw new SAError("E_DATA", `data ${dir}: folder not found (give --data DIR or set dataDir in the config)`);
  if (!statSync(dir).isDirectory()) throw new SAError("E_DATA", `data ${dir}: a file, not a folder (give --data DIR or set dataDir in the config)`);
  const required = options.requireRolesAndPlateaus ?? true;
  const optional = async <T>(file: string, read: (f: string) => Promise<T>, fallback: T): Promise<T> =>
    required || existsSync(file) ? read(file) : fallback;

  const rolesFile = join(dir, "roles.json");
  const roles = await optional(rolesFile, (f) => readJsonFile(f, rolesFileSchema), []);
  assertUnique(rolesFile, roles.map((r) => r.role_id), (i) => [i, "role_id"]);

  const plateausFile = join(dir, "service_feature_plateaus.json");
  const plateauList = await optional(plateausFile, (f) => readJsonFile(f, plateausFileSchema), []);
  assertUnique(plateausFile, plateauList.map((p) => p.name), (i) => [i, "name"]);
  const plateaus = plateauList.map((p, i) => ({ ...p, level: i + 1 }));

  const definitionsFile = join(dir, "definitions.json");
  const definitions = existsSync(definitionsFile) ? await readJsonFile(definitionsFile, definitionsFileSchema) : { bullets: [] };

  const known = config.mappingSets.map((s) => s.field);
  const wanted = options.sets ?? known;
  const unknown = wanted.filter((f) => !known.includes(f));
  if (unknown.length) throw new SAError("E_USAGE", `--sets: unknown set "${unknown[0]}" (known: ${known.join(", ")})`);
  const catalogues = await Promise.all(
    config.mappingSets.filter((s) => wanted.includes(s.field)).map((s) => loadMappingSet(dir, s)),
  );

  const { situationalContext, inspirations } = await loadPromptTexts({ dataDir: dir, promptDir: config.promptDir, contextId: config.contextId, inspiration: config.inspiration });
  return {
    dir,
    roles,
    plateaus,
    definitions,
    catalogues,
    situationalContext: situationalContext.text,
    inspirations: inspirations.text,
    sources: { situationalContext: situationalContext.file, inspirations: inspirations.file },
  };
}
