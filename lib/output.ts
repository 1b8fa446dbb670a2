import { appendFileSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync, unlinkSync } from "node:fs";
import { dirname } from "node:path";
import { evolutionSchema, type ServiceEvolution } from "./schema/evolution.ts";
import { canonicalJson, truncatePartialLine } from "./jsonl.ts";

/** An evolution counts as complete when it has every plateau and every mapping set asked for. */
export function isComplete(evolution: ServiceEvolution, plateauCount: number, sets: string[]): boolean {
  if (evolution.plateaus.length !== plateauCount) return false;
  return sets.every((s) => evolution.meta.mapping_types.includes(s));
}

export interface EvolutionWriter {
  /** Services already complete in the output, skipped by a resumed run. */
  readonly done: Set<string>;
  write(evolution: ServiceEvolution): void;
  /** Rewrites the file atomically in input order; lines of services not in the input stay, after. */
  finish(inputOrder: string[]): void;
}

/**
 * JSONL output of evolutions. Lines are appended as services complete (one write per line, so
 * an interrupted run leaves whole lines), and the file is rewritten in input order at the end,
 * so two runs give identical files. `-` streams to stdout in completion order.
 */
export function createEvolutionWriter(path: string, options: { fresh: boolean; plateauCount: number; sets: string[]; onTruncate?: (bytes: number) => void }): EvolutionWriter {
  const done = new Set<string>();
  if (path === "-") {
    return { done, write: (e) => process.stdout.write(`${canonicalJson(e)}\n`), finish: () => {} };
  }
  mkdirSync(dirname(path), { recursive: true });
  if (options.fresh && existsSync(path)) unlinkSync(path);
  const cut = truncatePartialLine(path);
  if (cut > 0) options.onTruncate?.(cut);
  for (const line of readLines(path)) {
    const parsed = parse(line);
    if (parsed && isComplete(parsed, options.plateauCount, options.sets)) done.add(parsed.service.service_id);
  }
  return {
    done,
    write(evolution) {
      appendFileSync(path, `${canonicalJson(evolution)}\n`);
    },
    finish(inputOrder) {
      const byId = new Map<string, string>();
      const others: string[] = [];
      for (const line of readLines(path)) {
        const parsed = parse(line);
        if (!parsed) continue;
        const id = parsed.service.service_id;
        // A complete line wins over an older incomplete one for the same service.
        if (!byId.has(id) || isComplete(parsed, options.plateauCount, options.sets)) byId.set(id, line);
      }
      const order = [...new Set(inputOrder)];
      const lines = order.filter((id) => byId.has(id)).map((id) => byId.get(id)!);
      for (const [id, line] of byId) if (!order.includes(id)) others.push(line);
      const temp = `${path}.${process.pid}.tmp`;
      writeFileSync(temp, [...lines, ...others].map((l) => `${l}\n`).join(""));
      renameSync(temp, path);
    },
  };
}

function readLines(path: string): string[] {
  if (!existsSync(path)) return [];
  return readFileSync(path, "utf8").split("\n").filter((l) => l.trim());
}

function parse(line: string): ServiceEvolution | undefined {
  try {
    const result = evolutionSchema.safeParse(JSON.parse(line));
    return result.success ? result.data : undefined;
  } catch {
    return undefined;
  }
}
