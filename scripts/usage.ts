#!/usr/bin/env bun
import { existsSync } from "node:fs";
import { parseDuration } from "../lib/duration.ts";
import { SAError } from "../lib/errors.ts";
import { addTotals, emptyTotals, readLedger, type RunRecord, type Totals } from "../lib/ledger.ts";
import { recoverLedger } from "../lib/ledger-recover.ts";
import { markdownTable } from "markdown-table";
import { formatCount } from "../lib/format.ts";
import { commonArgs } from "./_args.ts";
import { taskMeta } from "./_meta.ts";
import { defineTask, runTask } from "./_task.ts";
import { writeStdout } from "../lib/stdout.ts";

const columns: Array<[string, (t: Totals) => string]> = [
  ["live", (t) => formatCount(t.liveCalls)],
  ["cached", (t) => formatCount(t.cachedCalls)],
  ["failed", (t) => formatCount(t.failedCalls)],
  ["input", (t) => formatCount(t.inputTokens)],
  ["cached in", (t) => formatCount(t.cachedInputTokens)],
  ["output", (t) => formatCount(t.outputTokens)],
  ["reasoning", (t) => formatCount(t.reasoningTokens)],
  ["retries", (t) => formatCount(t.retries)],
  ["cost $", (t) => `${t.costUsd.toFixed(4)}${t.unpricedCalls ? "*" : ""}`],
  ["saved $", (t) => t.savedCostUsd.toFixed(4)],
  ["batch", (t) => formatCount(t.batchCalls ?? 0)],
  ["saved by batch $", (t) => (t.savedByBatchUsd ?? 0).toFixed(4)],
  // Calls that passed over a model that was down (circuitBreaker): no request went to it.
  ["skipped", (t) => formatCount(t.skippedCalls ?? 0)],
];

function cells(title: string, rows: Record<string, Totals>, total?: Totals): string[][] {
  const body = Object.entries(rows).map(([name, t]) => [name, ...columns.map(([, f]) => f(t))]);
  if (total) body.push(["total", ...columns.map(([, f]) => f(total))]);
  return [[title, ...columns.map(([h]) => h)], ...body];
}

/** GitHub-flavoured Markdown, e.g. for a CI step summary. */
const mdTable = (rows: string[][]) => markdownTable(rows, { align: ["l", ...columns.map(() => "r" as const)] });

function table(title: string, rows: Record<string, Totals>, total?: Totals): string {
  const [head, ...body] = cells(title, rows, total) as [string[], ...string[][]];
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ");
  return [line(head), line(widths.map((w) => "─".repeat(w))), ...body.map(line)].join("\n");
}

function merge(runs: RunRecord[], pick: (r: RunRecord) => Record<string, Totals>): Record<string, Totals> {
  const out: Record<string, Totals> = {};
  for (const run of runs) for (const [k, t] of Object.entries(pick(run))) addTotals((out[k] ??= emptyTotals()), t);
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => a.localeCompare(b)));
}

/** The price data the runs were priced with (each run's own; older runs: the ledger's), and the models the config priced. */
function pricesOf(runs: RunRecord[], ledgerVersion: string): string {
  const versions = [...new Set(runs.map((r) => r.priceDataVersion ?? ledgerVersion))];
  const overridden = [...new Set(runs.flatMap((r) => Object.keys(r.priceOverrides ?? {})))].sort();
  return `${versions.join(", ") || ledgerVersion}${overridden.length ? ` (config prices for ${overridden.join(", ")})` : ""}`;
}

/** The earliest start to the latest: the ledger lists runs as they finished, and runs may overlap. */
function span(runs: RunRecord[]): string {
  const starts = runs.map((r) => r.startedAt).sort((a, b) => Date.parse(a) - Date.parse(b));
  return `${starts[0]} to ${starts.at(-1)}`;
}

const task = defineTask({
  meta: taskMeta.usage,
  args: {
    all: { type: "boolean", description: "Every run in the ledger (default: the last run)" },
    since: { type: "string", description: "Runs started within this age, e.g. 7d, 12h" },
    ledger: { type: "string", description: "Ledger file (default: ledger.path from the config)" },
    format: { type: "string", description: "text | md (Markdown tables, e.g. for a CI step summary)" },
    ...commonArgs,
  },
  async run({ args, log, config: load }) {
    if (args.format !== undefined && args.format !== "text" && args.format !== "md") throw new SAError("E_USAGE", `--format: expected text or md, got "${args.format}"`);
    // As diff: the Markdown report was dropped for the JSON object without a word.
    if (args.json && args.format === "md") throw new SAError("E_USAGE", "--json and --format are exclusive");
    const path = args.ledger ?? (await load()).ledger.path;
    // A ledger named by the flag must exist (a typo is not "no runs"); the config's default may not yet.
    if (args.ledger !== undefined && !existsSync(args.ledger)) throw new SAError("E_INPUT_UNREADABLE", `--ledger ${args.ledger}: file not found`);
    // Runs that crashed get their totals from their journals first.
    await recoverLedger(path, log);
    const ledger = readLedger(path);
    let runs = ledger.runs;
    if (args.since) {
      const age = parseDuration(args.since);
      if (age === undefined) throw new SAError("E_USAGE", `--since: expected an age such as 7d or 12h, got "${args.since}"`);
      runs = runs.filter((r) => Date.parse(r.startedAt) >= Date.now() - age);
    } else if (!args.all) runs = runs.slice(-1);
    const byStage = merge(runs, (r) => r.byStage);
    const byModel = merge(runs, (r) => r.byModel);
    const totals = runs.reduce((t, r) => addTotals(t, r.totals), emptyTotals());
    if (args.json) {
      const summary = runs.map(({ runId, task, status, stopReason, startedAt, finishedAt, services, priceDataVersion, priceOverrides }) => ({ runId, task, status, stopReason, startedAt, finishedAt, services, priceDataVersion, priceOverrides }));
      void writeStdout(`${JSON.stringify({ ledger: path, priceDataVersion: ledger.priceDataVersion, runs: summary, byStage, byModel, totals })}\n`);
      return 0;
    }
    if (runs.length === 0) {
      void writeStdout(`no runs in ${path}${args.since ? ` since ${args.since}` : ""}\n`);
      return 0;
    }
    const header = runs.length === 1
      ? `run ${runs[0]!.runId} (${runs[0]!.task}, ${runs[0]!.status}${runs[0]!.stopReason ? `: ${runs[0]!.stopReason}` : ""}), started ${runs[0]!.startedAt}`
      : `${runs.length} runs, ${span(runs)}`;
    const prices = pricesOf(runs, ledger.priceDataVersion);
    const note = totals.unpricedCalls ? `\n* ${formatCount(totals.unpricedCalls)} live call(s) with no known price are not in the cost` : "";
    if (args.format === "md") {
      const md = `### Usage: ${header}\n\nPrices: ${prices}\n\n${mdTable(cells("stage", byStage, totals))}\n\n${mdTable(cells("model", byModel))}\n${note.replace("\n*", "\n\\*")}\n`;
      void writeStdout(md);
      return 0;
    }
    void writeStdout(`${header}\nprices: ${prices}\n\n${table("stage", byStage, totals)}\n\n${table("model", byModel)}${note}\n`);
    return 0;
  },
});

export default task;

if (import.meta.main) await runTask(task);
