import type { Finding } from "../review/checks.ts";
import { coverage, legendHtml, levelDistribution, trajectories, type Chart, type Line } from "./charts.ts";
import { escapeXml as h } from "./charts.ts";
import { cardLabels, script, style } from "./html-assets.ts";
import { anchor, checksSection, featureHeaders, filters, header, mappingRow, serviceSection, tableClose, tableOpen, toc } from "./html-parts.ts";
import { plateauOrder } from "./labels.ts";
import type { Sink } from "./sink.ts";
import type { EvolutionSource } from "./source.ts";
import type { Summary } from "./summary.ts";
import { formatCount } from "./run-details.ts";
import type { TableSpec } from "./views.ts";

function chartsSection(s: Summary): string {
  const plateaus = plateauOrder(s.labels);
  const lines: Line[] = s.trajectories.map((t) => ({ label: `${t.name} (${t.id})`, values: plateaus.map((p) => t.levels.get(p)) }));
  const mean = plateaus.map((p) => s.meanTrajectory.get(p)).map((m) => (m && m[1] ? m[0] / m[1] : undefined));
  lines.push({ label: `mean of all ${formatCount(s.totals.services)} services`, values: mean, mean: true });
  const shown = s.trajectories.length < s.totals.services ? ` The first ${s.trajectories.length} services in the file are drawn one by one.` : "";
  const cov = [...s.labels.catalogues.values()].map((c) => {
    const used = s.usage.get(c.field) ?? new Map<string, number>();
    const unused = c.complete ? [...c.items].filter(([id]) => !used.get(id)).map(([, name]) => name) : [];
    return { label: c.label, used: [...used.keys()].length, unused: unused.length, unusedNames: unused };
  });
  const complete = [...s.labels.catalogues.values()].every((c) => c.complete);
  const figure = (id: string, chart: Chart, caption: string) => `<figure id="${id}">${chart.svg}${legendHtml(chart.legend)}<figcaption>${caption}</figcaption></figure>`;
  return `<section id="charts"><h2>Charts</h2>
${figure("chart-levels", levelDistribution(plateaus, (p) => s.levelsByPlateau.get(p) ?? [0, 0, 0, 0, 0]), "Does maturity rise? The share of features at each CMMI level, plateau by plateau.")}
${figure("chart-trajectories", trajectories(plateaus, lines), `Average level of each service's features at each plateau; the black line is the mean over every service.${shown}`)}
${figure("chart-coverage", coverage(cov), `Catalogue items used by at least one feature, and items never used${complete ? "" : " (known only for catalogues read with --data)"}. Hover a bar for the names.`)}
</section>`;
}

function narrowCards(s: Summary, tables: TableSpec[]): string {
  const rules = [cardLabels("table.features", featureHeaders(s.labels))];
  for (const c of s.labels.catalogues.values()) {
    const table = tables.find((t) => t.name === `mappings.${c.field}`);
    if (table) rules.push(cardLabels(`section[id="${anchor("map", c.field)}"] table`, table.columns.map((col) => col.header)));
  }
  return `@media (max-width:640px){\n${rules.join("\n")}\n}\n`;
}

async function writeMappings(input: { source: EvolutionSource; summary: Summary; tables: TableSpec[]; sink: Sink }): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  await input.sink.write(`<section id="mappings"><h2>Mappings</h2>\n`);
  for (const c of input.summary.labels.catalogues.values()) {
    const table = input.tables.find((t) => t.name === `mappings.${c.field}`)!;
    await input.sink.write(tableOpen(table, c));
    let n = 0;
    for await (const e of input.source.read()) {
      for (const row of table.rows(e)) {
        n++;
        await input.sink.write(mappingRow(table, row, c.field));
      }
    }
    counts[table.name] = n;
    await input.sink.write(tableClose());
  }
  await input.sink.write("</section>\n");
  return counts;
}

/**
 * One self-contained page, written as it goes: run details, contents, filters, charts, checks,
 * a section per service (the narrative), then a mappings table per catalogue.
 */
export async function writeHtml(input: { source: EvolutionSource; summary: Summary; tables: TableSpec[]; findings?: Finding[]; title: string; sink: Sink }): Promise<Record<string, number>> {
  const { sink, summary } = input;
  await sink.write(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${h(input.title)}</title>
<style>${style}${narrowCards(summary, input.tables)}</style>
</head>
<body>
${header(summary, input.title)}
${toc(summary, input.findings !== undefined)}
${filters(summary)}
${chartsSection(summary)}
${input.findings ? checksSection(input.findings) : ""}
<section id="services"><h2>Services</h2>
`);
  let services = 0;
  for await (const e of input.source.read()) {
    services++;
    await sink.write(serviceSection(summary.labels, e));
  }
  await sink.write("</section>\n");
  const counts = await writeMappings(input);
  await sink.write(`<script>${script}</script>\n</body>\n</html>\n`);
  return { services, ...counts };
}
