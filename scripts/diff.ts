#!/usr/bin/env bun
import { extname, resolve } from "node:path";
import { SAError } from "../lib/errors.ts";
import { openSink } from "../lib/export/sink.ts";
import { isIdentical } from "../lib/review/diff-report.ts";
import { diffFiles } from "../lib/review/diff-files.ts";
import { diffHtml, diffMarkdown, diffText } from "../lib/review/diff-render.ts";
import { writeStdout } from "../lib/stdout.ts";
import { commonArgs, sharedArgs } from "./_args.ts";
import { taskMeta } from "./_meta.ts";
import { defineTask, runTask } from "./_task.ts";

/** Without `--format`, the report's extension names it, as for `export`; any other is the terminal text. */
function reportFormat(output: string | undefined, json: boolean | undefined): string {
  if (json || !output) return "text";
  const byExtension: Record<string, string> = { md: "md", markdown: "md", html: "html", htm: "html" };
  return byExtension[extname(output).slice(1).toLowerCase()] ?? "text";
}

const task = defineTask({
  meta: taskMeta.diff,
  args: {
    old: { type: "positional", description: "The earlier evolutions file", required: true },
    new: { type: "positional", description: "The later evolutions file", required: true },
    format: { type: "string", description: "text | md | html (default: the output's extension, .md or .html, else text)" },
    output: { ...sharedArgs.output, description: "Where the report goes (default stdout); with --json stdout still gets the object" },
    title: { type: "string", description: "Title of the md or html report" },
    ...commonArgs,
  },
  async run({ args, config }) {
    // diff needs no config; one named with --config is still checked, so a wrong path or a bad file is not passed over.
    if (args.config !== undefined) await config();
    const format = args.format ?? reportFormat(args.output, args.json);
    if (!["text", "md", "html"].includes(format)) throw new SAError("E_USAGE", `--format: expected text, md or html, got "${format}"`);
    if (args.json && format !== "text") throw new SAError("E_USAGE", "--json and --format are exclusive");
    // stdin can be read once: the second side would read nothing and look like every service removed.
    if (args.old === "-" && args.new === "-") throw new SAError("E_USAGE", "OLD and NEW cannot both be - (stdin): give one of them as a file");
    const clobbered = [args.old, args.new].find((file) => args.output && args.output !== "-" && file !== "-" && resolve(file) === resolve(args.output));
    if (clobbered) throw new SAError("E_USAGE", `--output ${args.output} is one of the files compared; write the report to another file`);
    const report = await diffFiles(args.old, args.new);
    const title = args.title ?? `Changes from ${args.old} to ${args.new}`;
    const text = args.json ? `${JSON.stringify(report)}\n` : format === "md" ? diffMarkdown(report, title) : format === "html" ? diffHtml(report, title) : diffText(report);
    const sink = openSink(args.output ?? "-");
    await sink.write(text);
    await sink.commit();
    // --json's object is the last line on stdout in every task: a file named by --output gets it too, as preflight's report does.
    if (args.json && args.output && args.output !== "-") void writeStdout(text);
    return isIdentical(report) ? 0 : 1;
  },
});

export default task;

if (import.meta.main) await runTask(task);
