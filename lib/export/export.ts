import { extname } from "node:path";
import type { Dataset } from "../data.ts";
import { SAError } from "../errors.ts";
import { createChecker } from "../review/checker.ts";
import type { ChecksConfig, Finding } from "../review/checks.ts";
import { writeCsv } from "./csv.ts";
import { writeHtml } from "./html.ts";
import { writeJson } from "./json.ts";
import { writeMarkdown } from "./markdown.ts";
import { openSink, type Sink } from "./sink.ts";
import { openEvolutions, repeatedServices, type EvolutionSource } from "./source.ts";
import { summarise, type Summary } from "./summary.ts";
import { tableSpecs, viewNames, type TableSpec, type ViewName } from "./views.ts";
import { writeXlsx } from "./xlsx.ts";

export const formats = ["csv", "xlsx", "md", "html", "json"] as const;
export type Format = (typeof formats)[number];
const aliases: Record<string, Format> = { htm: "html", markdown: "md" };

/** `--format`, else the output's extension; anything else is a usage error naming the formats. */
export function formatOf(output: string, flag?: string): Format {
  if (flag !== undefined) {
    // The names an extension may have (any case, htm, markdown) are taken from the flag too.
    const named = aliases[flag.toLowerCase()] ?? flag.toLowerCase();
    if (!(formats as readonly string[]).includes(named)) throw new SAError("E_USAGE", `--format: expected one of ${formats.join(", ")}, got "${flag}"`);
    return named as Format;
  }
  const ext = extname(output).slice(1).toLowerCase();
  const format = aliases[ext] ?? ext;
  if ((formats as readonly string[]).includes(format)) return format as Format;
  const what = output === "-" ? "--output - has no extension" : ext ? `--output ${output}: unknown extension ".${ext}"` : `--output ${output} has no extension`;
  throw new SAError("E_USAGE", `${what}; known formats: ${formats.join(", ")} (or give --format)`);
}

/** Views per format: CSV defaults to features; narrative is Markdown's and HTML's. */
export function viewsOf(format: Format, flag?: string): ViewName[] {
  const all: ViewName[] = format === "md" ? [...viewNames] : ["features", "services", "mappings"];
  if (format === "html") return [...viewNames];
  const view = flag ?? (format === "csv" ? "features" : "all");
  if (view === "all") return all;
  if (!(viewNames as readonly string[]).includes(view)) throw new SAError("E_USAGE", `--view: expected one of ${viewNames.join(", ")}, all; got "${view}"`);
  if (!all.includes(view as ViewName)) throw new SAError("E_USAGE", `--view ${view}: only Markdown and HTML have it (give --format md or html)`);
  return [view as ViewName];
}

export interface ExportOptions {
  input: string;
  output: string;
  format: Format;
  views: ViewName[];
  title: string;
  /** CSV only. @default true */
  bom: boolean;
  data?: Dataset;
  checks: ChecksConfig;
}

export interface ExportResult {
  services: number;
  rows: Record<string, number>;
  files: string[];
  badLines: string[];
  findings?: Finding[];
  /** What the reader should know of the file written (texts cut to fit an XLSX cell). */
  notes: string[];
  /** The evolutions' `meta.catalogue_hash` values. */
  catalogueHashes: string[];
  /** Services on more than one line of the input, said as lines for the log. */
  repeated: string[];
}

async function withSink<T>(path: string, write: (sink: Sink) => Promise<T>): Promise<T> {
  const sink = openSink(path);
  try {
    const result = await write(sink);
    await sink.commit();
    return result;
  } catch (error) {
    sink.abort();
    throw error;
  }
}

async function writeCsvFiles(o: ExportOptions, source: EvolutionSource, tables: TableSpec[]): Promise<{ rows: Record<string, number>; files: string[] }> {
  if (tables.length > 1 && o.output === "-") {
    const view = o.views.length > 1 ? "all" : o.views[0];
    throw new SAError("E_USAGE", `--view ${view} with CSV writes one file per table (${tables.map((t) => t.name).join(", ")}): give --output a file name`);
  }
  const rows: Record<string, number> = {};
  const files: string[] = [];
  for (const table of tables) {
    const path = tables.length === 1 ? o.output : o.output.replace(/(\.csv)?$/i, `.${table.name}.csv`);
    rows[table.name] = await withSink(path, (sink) => writeCsv({ source, table, sink, bom: o.bom }));
    files.push(path);
  }
  return { rows, files };
}

function writeOne(o: ExportOptions, source: EvolutionSource, summary: Summary, tables: TableSpec[], extra: { findings: Finding[]; notes: string[] }): Promise<Record<string, number>> {
  return withSink(o.output, (sink) => {
    const common = { source, summary, tables, sink };
    if (o.format === "xlsx") return writeXlsx({ ...common, notes: extra.notes, title: o.title });
    if (o.format === "json") return writeJson(common);
    if (o.format === "md") return writeMarkdown({ ...common, narrative: o.views.includes("narrative"), title: o.title });
    return writeHtml({ ...common, findings: extra.findings, title: o.title });
  });
}

/** Reads the input once for the summary, then once per table, writing as it reads. */
export async function exportEvolutions(o: ExportOptions): Promise<ExportResult> {
  const source = await openEvolutions(o.input);
  try {
    const checker = o.format === "html" ? createChecker(o.checks) : undefined;
    const summary = await summarise(source, { data: o.data, observers: checker ? [checker.observe] : [] });
    const findings = checker?.finish({ labels: summary.labels, usage: summary.usage, data: o.data });
    const tables = tableSpecs(summary.labels, o.views);
    const notes: string[] = [];
    const written = o.format === "csv" ? await writeCsvFiles(o, source, tables) : { rows: await writeOne(o, source, summary, tables, { findings: findings ?? [], notes }), files: [o.output] };
    return { services: summary.totals.services, ...written, badLines: source.badLines, findings, notes, catalogueHashes: summary.run.catalogueHashes, repeated: repeatedServices(source) };
  } finally {
    source.dispose();
  }
}
