#!/usr/bin/env bun
import { catalogueMismatch, readerData } from "../lib/export/reader-data.ts";
import { SAError } from "../lib/errors.ts";
import { openEvolutions, repeatedServices } from "../lib/export/source.ts";
import { summarise } from "../lib/export/summary.ts";
import { countByCheck, createChecker } from "../lib/review/checker.ts";
import { checkIds, checkTitles, type Finding } from "../lib/review/checks.ts";
import { formatCount } from "../lib/format.ts";
import { printable } from "../lib/printable.ts";
import { commonArgs, sharedArgs } from "./_args.ts";
import { taskMeta } from "./_meta.ts";
import { defineTask, runTask } from "./_task.ts";
import { writeStdout } from "../lib/stdout.ts";

const counts = (n: number, noun: string) => `${formatCount(n)} ${noun}${n === 1 ? "" : "s"}`;

/** The findings by check, then one line of counts; bad lines (not checked, exit 1) are counted there too. */
function text(findings: Finding[], badLines: number): string {
  const lines: string[] = [];
  for (const id of checkIds) {
    const found = findings.filter((f) => f.check === id);
    if (!found.length) continue;
    lines.push(`${id}: ${checkTitles[id]} (${found.length}, ${found[0]!.severity})`);
    // A finding quotes the file (ids, names): shown without its control characters.
    for (const f of found) lines.push(`  ${printable([f.serviceId, f.plateau].filter(Boolean).join(" · "))}${f.serviceId ? ": " : ""}${printable(f.message)}`);
  }
  const errors = findings.filter((f) => f.severity === "error").length;
  const bad = badLines ? `; ${badLines} bad ${badLines === 1 ? "line" : "lines"} not checked (named above)` : "";
  const counted = `${counts(findings.length, "finding")} (${counts(errors, "error")}, ${counts(findings.length - errors, "warning")})`;
  lines.push(`${findings.length ? counted : "every check passed"}${bad}`);
  return `${lines.join("\n")}\n`;
}

const task = defineTask({
  meta: taskMeta.check,
  args: {
    input: sharedArgs.input,
    data: { type: "string", description: "Data folder: the roles expected and the catalogues' items (default: config dataDir)" },
    strict: { ...sharedArgs.strict, description: "Warnings fail too (exit 1), as errors do" },
    ...commonArgs,
  },
  async run({ args, log, config: load }) {
    if (!args.input) throw new SAError("E_USAGE", "--input is required (an evolutions JSONL file, or - for stdin)");
    const config = await load();
    const data = await readerData(config);
    const source = await openEvolutions(args.input);
    const checker = createChecker(config.checks);
    try {
      const summary = await summarise(source, { data, observers: [checker.observe] });
      const findings = checker.finish({ labels: summary.labels, usage: summary.usage, data });
      const mismatch = data && (await catalogueMismatch(config, data, summary.run.catalogueHashes));
      if (mismatch) log.warn(mismatch);
      for (const line of repeatedServices(source)) log.warn(line);
      for (const line of source.badLines) log.error(`input ${printable(line)}`);
      const errors = findings.filter((f) => f.severity === "error").length;
      const warnings = findings.length - errors;
      // `--strict`, or config `strict` (SA_STRICT), as in every task that takes it.
      const strict = config.strict;
      const empty = summary.totals.services === 0 && !source.badLines.length ? `nothing to check: ${args.input} has no evolutions\n` : undefined;
      const exitCode = errors || (strict && warnings) || source.badLines.length ? 1 : 0;
      const report = { status: exitCode ? "failed" : "ok", exitCode, services: summary.totals.services, counts: countByCheck(findings), errors, warnings, strict, badLines: source.badLines.length, findings };
      void writeStdout(args.json ? `${JSON.stringify(report)}\n` : (empty ?? text(findings, source.badLines.length)));
      return exitCode;
    } finally {
      source.dispose();
    }
  },
});

export default task;

if (import.meta.main) await runTask(task);
