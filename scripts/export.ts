#!/usr/bin/env bun
import { mkdirSync, renameSync, writeFileSync } from "node:fs";
import { dirname, extname } from "node:path";
import { SAError } from "../lib/errors.ts";
import { toCsv, toJson, toMarkdown, toXlsx } from "../lib/export/formats.ts";
import { toHtml } from "../lib/export/html.ts";
import { buildViews, viewNames, type ViewName } from "../lib/export/views.ts";
import { readRecords } from "../lib/jsonl.ts";
import { evolutionSchema, type ServiceEvolution } from "../lib/schema/evolution.ts";
import { formatIssues } from "../lib/zod-error.ts";
import { commonArgs, sharedArgs } from "./_args.ts";
import { taskMeta } from "./_meta.ts";
import { defineTask, runTask } from "./_task.ts";

const formats = ["csv", "xlsx", "md", "html", "json"] as const;
type Format = (typeof formats)[number];

/** Written whole or not at all. */
function writeAtomic(path: string, data: string | Buffer): void {
  if (path === "-") {
    process.stdout.write(data);
    return;
  }
  mkdirSync(dirname(path), { recursive: true });
  const temp = `${path}.${process.pid}.tmp`;
  writeFileSync(temp, data);
  renameSync(temp, path);
}

const task = defineTask({
  meta: taskMeta.export,
  args: {
    input: sharedArgs.input,
    output: sharedArgs.output,
    format: { type: "string", alias: "f", description: `${formats.join(" | ")} (default: from the output's extension)` },
    view: { type: "string", description: "features | mappings | services | all (default: all; features for CSV)" },
    title: { type: "string", description: "Title of the Markdown or HTML report" },
    ...commonArgs,
  },
  async run({ args, log }) {
    const input = args.input;
    const output = args.output;
    if (!input) throw new SAError("E_USAGE", "--input is required (an evolutions JSONL file, or - for stdin)");
    if (!output) throw new SAError("E_USAGE", "--output is required (a file, or - for stdout)");
    const ext = extname(output).slice(1).toLowerCase();
    const fromExt = ({ htm: "html", markdown: "md" } as Record<string, string>)[ext] ?? ext;
    const format = (args.format ?? (formats.includes(fromExt as Format) ? fromExt : "csv")) as Format;
    if (!formats.includes(format)) throw new SAError("E_USAGE", `--format: expected one of ${formats.join(", ")}, got "${args.format}"`);
    const view = args.view ?? (format === "csv" ? "features" : "all");
    if (view !== "all" && !viewNames.includes(view as ViewName)) throw new SAError("E_USAGE", `--view: expected one of ${viewNames.join(", ")}, all; got "${view}"`);
    const views: ViewName[] = view === "all" ? [...viewNames] : [view as ViewName];
    if (format === "csv" && views.length > 1 && output === "-") throw new SAError("E_USAGE", "--view all with CSV writes one file per view: give --output a file name");

    const evolutions: ServiceEvolution[] = [];
    let bad = 0;
    for await (const record of readRecords(input)) {
      const parsed = record.error ? undefined : evolutionSchema.safeParse(record.value);
      if (!parsed?.success) {
        bad++;
        log.error(`input ${input}:${record.line}: ${record.error ?? formatIssues(parsed!.error)}`);
        continue;
      }
      evolutions.push(parsed.data);
    }
    const tables = buildViews(evolutions, views);
    const written: string[] = [];
    if (format === "csv") {
      for (const t of tables) {
        const path = tables.length === 1 ? output : output.replace(/(\.csv)?$/, `.${t.name}.csv`);
        writeAtomic(path, toCsv(t));
        written.push(path);
      }
    } else {
      const title = args.title ?? "Service evolutions";
      const data = format === "xlsx" ? await toXlsx(tables) : format === "md" ? toMarkdown(tables, title) : format === "html" ? toHtml(evolutions, tables, title) : toJson(tables);
      writeAtomic(output, data);
      written.push(output);
    }
    const rows = Object.fromEntries(tables.map((t) => [t.name, t.rows.length]));
    log.success(`exported ${evolutions.length} services (${Object.entries(rows).map(([k, v]) => `${v} ${k} rows`).join(", ")}) as ${format} to ${written.join(", ")}${bad ? `; ${bad} bad lines skipped` : ""}`);
    if (args.json) process.stdout.write(`${JSON.stringify({ format, views, services: evolutions.length, rows, files: written, badLines: bad })}\n`);
    return bad ? 1 : 0;
  },
});

export default task;

if (import.meta.main) await runTask(task);
