import { md, narrativeMarkdown } from "./narrative.ts";
import { detailText, runDetails } from "./run-details.ts";
import type { Sink } from "./sink.ts";
import type { EvolutionSource } from "./source.ts";
import type { Summary } from "./summary.ts";
import { cellText, type Cell, type TableSpec } from "./views.ts";

const cell = md;
// markdown-table needs every row to align the columns; rows are written one by one here instead.
const line = (cells: string[]) => `| ${cells.join(" | ")} |\n`;
/** A number holds no markup: written as it is (2.5, -3), not escaped like the model's text. */
const valueCell = (value: Cell | undefined) => (typeof value === "number" ? String(value) : cell(cellText(value)));
/** The delimiter row is markup: escaped as text (`\---`), GFM would not see a table at all. */
const delimiter = (table: TableSpec) => line(table.columns.map((c) => (c.kind === "number" || c.kind === "level" ? "--:" : "---")));

async function writeTable(source: EvolutionSource, table: TableSpec, sink: Sink): Promise<number> {
  await sink.write(`## ${table.title}\n\n${line(table.columns.map((c) => cell(c.header)))}${delimiter(table)}`);
  let count = 0;
  for await (const e of source.read()) {
    for (const row of table.rows(e)) {
      await sink.write(line(table.columns.map((c) => valueCell(row[c.key]))));
      count++;
    }
  }
  await sink.write("\n");
  return count;
}

/** Run details, then the narrative (one section per service), then each table. */
export async function writeMarkdown(input: { source: EvolutionSource; summary: Summary; tables: TableSpec[]; narrative: boolean; title: string; sink: Sink }): Promise<Record<string, number>> {
  const { sink, summary } = input;
  await sink.write(`# ${cell(input.title)}\n\n${runDetails(summary).map(([k, v]) => `- **${k}:** ${cell(detailText(v))}`).join("\n")}\n\n`);
  const counts: Record<string, number> = {};
  if (input.narrative) {
    await sink.write("## Narrative\n\n");
    let services = 0;
    for await (const e of input.source.read()) {
      await sink.write(narrativeMarkdown(summary.labels, e).replace(/^(#{2,4}) /gm, "#$1 "));
      services++;
    }
    counts.narrative = services;
  }
  for (const table of input.tables) counts[table.name] = await writeTable(input.source, table, sink);
  return counts;
}
