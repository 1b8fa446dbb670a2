#!/usr/bin/env bun
import { resolve } from "node:path";
import { catalogueMismatch, readerData } from "../lib/export/reader-data.ts";
import { printable } from "../lib/printable.ts";
import { SAError } from "../lib/errors.ts";
import { diskError } from "../lib/disk-error.ts";
import { exportEvolutions, formatOf, formats, viewsOf } from "../lib/export/export.ts";
import { formatCount } from "../lib/export/run-details.ts";
import { commonArgs, sharedArgs } from "./_args.ts";
import { taskMeta } from "./_meta.ts";
import { defineTask, runTask } from "./_task.ts";
import { signalExitCode } from "../lib/signals.ts";
import { stdoutClosed, writeStdout } from "../lib/stdout.ts";

const task = defineTask({
  meta: taskMeta.export,
  args: {
    input: sharedArgs.input,
    output: sharedArgs.output,
    format: { type: "string", alias: "f", description: `${formats.join(" | ")} (default: the output's extension)` },
    view: { type: "string", description: "features | services | mappings | narrative | all (HTML is always all)" },
    title: { type: "string", description: "Title of the Markdown or HTML report, and of the XLSX document" },
    data: { type: "string", description: "Data folder: role, catalogue and facet names, unused items (default: config dataDir)" },
    bom: { type: "boolean", default: true, description: "CSV: start with a UTF-8 byte-order mark" },
    ...commonArgs,
  },
  async run({ args, log, config: load }) {
    if (!args.input) throw new SAError("E_USAGE", "--input is required (an evolutions JSONL file, or - for stdin)");
    if (!args.output) throw new SAError("E_USAGE", "--output is required (a file, or - for stdout)");
    // A summary line after a CSV, an XLSX or an HTML page on stdout would corrupt the export.
    if (args.json && args.output === "-") throw new SAError("E_USAGE", "--json needs --output FILE: with --output - its summary would land inside the export");
    if (args.output !== "-" && args.input !== "-" && resolve(args.output) === resolve(args.input)) {
      throw new SAError("E_USAGE", `--output ${args.output} is the input file; write to another file (the export would replace the evolutions)`);
    }
    const format = formatOf(args.output, args.format);
    const views = viewsOf(format, args.view);
    const config = await load();
    const data = await readerData(config);
    const result = await exportEvolutions({ input: args.input, output: args.output, format, views, title: args.title ?? "Service evolutions", bom: args.bom !== false, data, checks: config.checks }).catch((error: unknown) => {
      if (args.output === "-" && stdoutClosed()) return undefined;
      throw diskError(error, `${args.output} is left as it was`) ?? error;
    });
    // The reader of `--output -` went away (`| head`): stop as run does, exit 141.
    if (!result) {
      log.warn("stopped: the reader of --output - went away (EPIPE)");
      return signalExitCode("SIGPIPE");
    }
    if (!result.services && !result.badLines.length) log.warn(`input ${args.input} has no evolutions; the export lists none`);
    const mismatch = data && (await catalogueMismatch(config, data, result.catalogueHashes));
    if (mismatch) log.warn(mismatch);
    for (const note of result.notes) log.warn(`${result.files.join(", ")}: ${note}`);
    for (const line of result.repeated) log.warn(line);
    for (const line of result.badLines.slice(0, 20)) log.error(`input ${printable(line)}`);
    if (result.badLines.length > 20) log.error(`input ${args.input}: ${result.badLines.length - 20} more bad lines`);
    // Rows per view ("services" has one per service and plateau), not counts of services.
    const rows = Object.entries(result.rows).map(([k, v]) => `${k} ${formatCount(v)}`).join(", ");
    const bad = result.badLines.length ? `; ${result.badLines.length} bad lines skipped` : "";
    log.success(`exported ${formatCount(result.services)} services as ${format} to ${result.files.join(", ")}; rows: ${rows}${bad}`);
    const exitCode = result.badLines.length ? 1 : 0;
    // `status` and `exitCode` as every task's object has them (run's summary, a task that cannot start).
    const summary = { status: exitCode ? "failed" : "ok", exitCode, format, views, services: result.services, rows: result.rows, files: result.files, badLines: result.badLines.length, notes: result.notes };
    if (args.json) void writeStdout(`${JSON.stringify(summary)}\n`);
    return exitCode;
  },
});

export default task;

if (import.meta.main) await runTask(task);
