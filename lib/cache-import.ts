import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import type { Storage } from "unstorage";
import { CACHE_KEY_VERSION, keyPart } from "./cache.ts";
import { importedPrefix, type ImportedEntry, type ImportedStage } from "./cache-imported.ts";
import { answersOfEvolution } from "./evolution-answers.ts";
import { readRecords } from "./jsonl.ts";
import { toDescriptionsAnswer, toFeaturesAnswer, toMappingAnswer } from "./python-answers.ts";
import { evolutionSchema, type ServiceEvolution } from "./schema/evolution.ts";
import { formatIssues } from "./zod-error.ts";
import { sha256Hex } from "./hash.ts";

export interface ImportReport {
  migrated: number;
  skipped: number;
  invalid: number;
  problems: string[];
}

const newReport = (): ImportReport => ({ migrated: 0, skipped: 0, invalid: 0, problems: [] });

/** Stores one entry unless its key is already there (an import run twice adds nothing). */
async function store(storage: Storage, entry: ImportedEntry, id: string, report: ImportReport): Promise<void> {
  const key = `${importedPrefix(entry.stage, entry.serviceId, entry.plateau, entry.field)}:${keyPart(id)}`;
  if (await storage.hasItem(key)) {
    report.skipped++;
    return;
  }
  await storage.setItem(key, entry);
  report.migrated++;
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

type Place = { context: string; serviceId: string; stage: ImportedStage; plateau: string | null; field: string | null };

/** Where a file sits in the Python layout: `<context>/<service>/[<plateau>/[mappings/<field>/]]<key>.json`. */
function placeOf(parts: string[]): Place | undefined {
  const [context, serviceId, plateau, mappings, field] = parts;
  if (!context || !serviceId) return undefined;
  if (parts.length === 3) return { context, serviceId, stage: "descriptions", plateau: null, field: null };
  if (parts.length === 4) return { context, serviceId, stage: "features", plateau: plateau!, field: null };
  if (parts.length === 6 && mappings === "mappings") return { context, serviceId, stage: "mapping", plateau: plateau!, field: field! };
  return undefined;
}

/** A Python answer in our shape, or why it cannot be one. */
function convert(place: Place, raw: unknown): unknown {
  if (place.stage === "descriptions") return toDescriptionsAnswer(raw);
  if (place.stage === "features") return toFeaturesAnswer(raw);
  return toMappingAnswer(raw, place.field!);
}

/** How many of `files` sit in the Python layout when read from `root`. */
const fitting = (root: string, files: string[]) => files.filter((file) => file.endsWith(".json") && placeOf(relative(root, file).split(sep)) !== undefined).length;

/**
 * Whether `dir` is one context's folder (`<cache_dir>/<context_id>`) rather than the cache folder:
 * more of its answers fit the layout when it is read as a context's folder. Counting every file,
 * not looking for one, keeps files of an older layout (`<service>/mappings/unknown/...`, left by
 * the Python tool's `migrate_cache.py`) from tipping a whole cache folder over.
 */
function isContextFolder(dir: string, files: string[]): boolean {
  return fitting(dirname(resolve(dir)), files) > fitting(dir, files);
}

/**
 * Reads a Python tool cache folder (or one context's folder in it) into the store under
 * `imported:`, each answer converted to our answer shape. Entries already imported are skipped;
 * files that are not JSON, or not an answer of their stage, are counted as invalid and named in
 * `problems`.
 */
export async function importPythonCache(storage: Storage, dir: string, now = new Date()): Promise<ImportReport> {
  const report = newReport();
  const files = walk(dir);
  const root = isContextFolder(dir, files) ? dirname(resolve(dir)) : dir;
  for (const file of files) {
    const rel = relative(root, file);
    const parts = rel.split(sep);
    const name = parts.at(-1)!;
    const place = name.endsWith(".json") ? placeOf(parts) : undefined;
    if (!place) {
      report.skipped++;
      if (name.endsWith(".json")) report.problems.push(`${rel}: not in the <context>/<service>/[<plateau>/[mappings/<field>/]]<key>.json layout`);
      continue;
    }
    let answer: unknown;
    try {
      answer = convert(place, JSON.parse(readFileSync(file, "utf8")));
    } catch (error) {
      answer = `invalid JSON (${(error as Error).message})`;
    }
    if (typeof answer === "string") {
      report.invalid++;
      report.problems.push(`${rel}: ${answer}`);
      continue;
    }
    // The same file name in two context folders is two answers.
    await store(storage, { v: CACHE_KEY_VERSION, answer, ...place, source: rel, importedAt: now.toISOString() }, `${place.context}-${name.slice(0, -5)}`, report);
  }
  return report;
}

/** The catalogues (by field) an evolution maps to: those its meta names, and those its plateaus and features carry. */
function fieldsOf(evolution: ServiceEvolution): string[] {
  const fields = new Set(evolution.meta.mapping_types);
  for (const p of evolution.plateaus) {
    for (const field of Object.keys(p.mappings)) fields.add(field);
    for (const f of p.features) for (const field of Object.keys(f.mappings)) fields.add(field);
  }
  return [...fields].sort();
}

const digest = (value: unknown) => sha256Hex(JSON.stringify(value)).slice(0, 32);

/**
 * Seeds the store from an evolutions file (ours or the Python tool's), as the Python tool's
 * `reverse` does: every description, feature list and mapping it holds becomes an imported answer.
 * A folder is read file by file (`*.json`, `*.jsonl`): the Python tool's `--temp-output-dir` holds
 * one `<service_id>.json` per service done. A line that is not an evolution is counted as invalid,
 * with its line number.
 */
export async function importEvolutions(storage: Storage, path: string, now = new Date()): Promise<ImportReport> {
  const report = newReport();
  const files = statSync(path).isDirectory() ? readdirSync(path).filter((n) => /\.jsonl?$/.test(n)).sort().map((n) => join(path, n)) : [path];
  for (const file of files) await importEvolutionFile(storage, file, report, now);
  return report;
}

async function importEvolutionFile(storage: Storage, file: string, report: ImportReport, now: Date): Promise<void> {
  for await (const record of readRecords(file)) {
    const parsed = record.error ? undefined : evolutionSchema.safeParse(record.value);
    if (!parsed?.success) {
      report.invalid++;
      report.problems.push(`${file}:${record.line}: ${record.error ?? formatIssues(parsed!.error!)}`);
      continue;
    }
    const evolution = parsed.data;
    for (const held of answersOfEvolution(evolution, fieldsOf(evolution))) {
      const entry = { v: CACHE_KEY_VERSION, ...held, serviceId: evolution.service.service_id, source: `${file}:${record.line}`, importedAt: now.toISOString() } as const;
      await store(storage, entry, `evolution-${digest(held.answer)}`, report);
    }
  }
}
