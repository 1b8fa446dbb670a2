import type { Sink } from "./sink.ts";
import type { EvolutionSource } from "./source.ts";
import type { Summary } from "./summary.ts";
import type { Row, TableSpec } from "./views.ts";

/** The run details with keys for programs (the other formats use labels for people). */
const runJson = (s: Summary) => ({
  runIds: s.run.runIds,
  models: Object.fromEntries([...s.run.models].map(([stage, models]) => [stage, [...models].sort()])),
  created: s.run.created || null,
  catalogueHashes: s.run.catalogueHashes,
  incomplete: Object.fromEntries(s.run.incomplete),
  totals: { services: s.totals.services, plateaus: s.levelsByPlateau.size, features: s.totals.features, mappings: s.totals.mappings },
});

/** Keys in column order, empty cells as null, lists as lists. */
const ordered = (table: TableSpec, row: Row) => Object.fromEntries(table.columns.map((c) => [c.key, row[c.key] ?? null]));

async function writeRows(source: EvolutionSource, table: TableSpec, sink: Sink, indent: string): Promise<number> {
  let count = 0;
  for await (const e of source.read()) {
    for (const row of table.rows(e)) await sink.write(`${count++ ? ",\n" : "\n"}${indent}${JSON.stringify(ordered(table, row))}`);
  }
  await sink.write(count ? `\n${indent.slice(2)}]` : "]");
  return count;
}

/**
 * `{run, features, services, mappings: {<catalogue>: [...]}}`, one row per line, written table
 * by table (each table is one more pass over the input).
 */
export async function writeJson(input: { source: EvolutionSource; summary: Summary; tables: TableSpec[]; sink: Sink }): Promise<Record<string, number>> {
  const { sink } = input;
  const counts: Record<string, number> = {};
  await sink.write(`{\n  "run": ${JSON.stringify(runJson(input.summary))}`);
  const mappings = input.tables.filter((t) => t.name.startsWith("mappings."));
  for (const table of input.tables.filter((t) => !mappings.includes(t))) {
    await sink.write(`,\n  ${JSON.stringify(table.name)}: [`);
    counts[table.name] = await writeRows(input.source, table, sink, "    ");
  }
  if (mappings.length) {
    await sink.write(`,\n  "mappings": {`);
    for (const [i, table] of mappings.entries()) {
      await sink.write(`${i ? "," : ""}\n    ${JSON.stringify(table.name.slice("mappings.".length))}: [`);
      counts[table.name] = await writeRows(input.source, table, sink, "      ");
    }
    await sink.write("\n  }");
  }
  await sink.write("\n}\n");
  return counts;
}
