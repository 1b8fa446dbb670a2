import { createReadStream, createWriteStream, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import { assertReadable, readOnce, readRecords } from "../jsonl.ts";
import { evolutionSchema, type Feature, type ServiceEvolution } from "../schema/evolution.ts";
import { printable } from "../printable.ts";
import { formatIssues } from "../zod-error.ts";

/** An evolutions file that can be read more than once, one line at a time. */
export interface EvolutionSource {
  path: string;
  /** Lines that were not an evolution, as `file:line: reason`; filled by the first pass. */
  badLines: string[];
  /** Service id → every line it is on, for the services on more than one line; filled by the first pass. */
  repeated: Map<string, number[]>;
  /** Every valid evolution, in file order. Each call reads the file again. */
  read(): AsyncGenerator<ServiceEvolution>;
  dispose(): void;
}

/**
 * The Python tool's `run` output keeps mappings only in `plateau.mappings` groups
 * (item → features); fill each feature's own `mappings` from them when it has none.
 */
function withFeatureMappings(evolution: ServiceEvolution): ServiceEvolution {
  for (const plateau of evolution.plateaus) {
    const byFeature = new Map<string, Feature["mappings"]>();
    for (const [catalogue, items] of Object.entries(plateau.mappings)) {
      for (const item of items) {
        for (const ref of item.mappings) {
          const mapped = byFeature.get(ref.feature_id) ?? {};
          (mapped[catalogue] ??= []).push({ item: item.id, facets: null });
          byFeature.set(ref.feature_id, mapped);
        }
      }
    }
    for (const feature of plateau.features) {
      const own = Object.values(feature.mappings).some((list) => list.length > 0);
      if (!own && byFeature.has(feature.feature_id)) feature.mappings = byFeature.get(feature.feature_id)!;
    }
  }
  return evolution;
}

/** stdin or a pipe can be read once: keep it in a temporary file so every pass reads the same lines. */
async function spool(input: string): Promise<{ path: string; dispose: () => void }> {
  const dir = mkdtempSync(join(tmpdir(), "sa-export-"));
  const path = join(dir, "stdin.jsonl");
  await pipeline(input === "-" ? process.stdin : createReadStream(input), createWriteStream(path));
  return { path, dispose: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Opens an evolutions JSONL file (or `-`); lines are validated as they are read. */
export async function openEvolutions(input: string): Promise<EvolutionSource> {
  assertReadable(input);
  const spooled = readOnce(input) ? await spool(input) : undefined;
  const path = spooled?.path ?? input;
  const badLines: string[] = [];
  const firstLine = new Map<string, number>();
  const repeated = new Map<string, number[]>();
  const seen = (id: string, line: number) => {
    const first = firstLine.get(id);
    if (first === undefined) firstLine.set(id, line);
    else repeated.set(id, [...(repeated.get(id) ?? [first]), line]);
  };
  let passes = 0;
  return {
    path: input,
    badLines,
    repeated,
    dispose: () => spooled?.dispose(),
    async *read() {
      const first = passes++ === 0;
      for await (const record of readRecords(path)) {
        const parsed = record.error ? undefined : evolutionSchema.safeParse(record.value);
        if (parsed?.success && first) seen(parsed.data.service.service_id, record.line);
        if (parsed?.success) yield withFeatureMappings(parsed.data);
        else if (first) badLines.push(`${input}:${record.line}: ${record.error ?? formatIssues(parsed!.error)}`);
      }
    },
  };
}

/** Said of the services on more than one line: each is read (a table counts it each time). */
const REPEATS_SHOWN = 20;

/** One line per service on more than one line (the first 20, then a count), for the log. */
export function repeatedServices(source: Pick<EvolutionSource, "path" | "repeated">): string[] {
  const lines = (list: number[]) => `${list.slice(0, -1).join(", ")} and ${list.at(-1)}`;
  const said = [...source.repeated].slice(0, REPEATS_SHOWN).map(([id, list]) => `input ${source.path}: service ${printable(id)} appears on lines ${lines(list)}; each line is read (diff refuses such a file)`);
  const more = source.repeated.size - said.length;
  return more > 0 ? [...said, `input ${source.path}: ${more} more services appear on more than one line`] : said;
}
