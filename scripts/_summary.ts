import type { Log } from "../lib/log.ts";
import type { RunSummary } from "../lib/pipeline/run.ts";
import { redact } from "../lib/redact.ts";
import type { CacheMode } from "../lib/schema/config.ts";
import { writeStdout } from "../lib/stdout.ts";

/** The `--json` object: one line, last on stdout. */
export function jsonSummary(summary: RunSummary) {
  return {
    runId: summary.runId,
    status: summary.status,
    exitCode: summary.exitCode,
    // Reasons quote errors, which may quote a provider: no secret goes to stdout (logs are redacted as they are written).
    stopReason: summary.stopReason && redact(summary.stopReason),
    services: summary.services,
    badLines: summary.badLines,
    quarantined: summary.quarantined,
    failures: summary.failures.map((f) => ({ ...f, reason: redact(f.reason) })),
    misses: summary.misses,
    missesByStage: summary.missesByStage,
    ...(summary.missesEstimate ? { missesEstimate: summary.missesEstimate } : {}),
    totals: summary.totals,
    ledger: summary.ledger,
    output: summary.output,
  };
}

/** What a rerun needs to go on where a stopped run left off: the task, and whether it will read the answers this run paid for. */
export interface ResumeFacts {
  task: "run" | "map";
  cacheMode: CacheMode;
}

/** One line after a run that stopped early (Ctrl-C, a limit, a budget): how to go on, and what a rerun keeps. */
function resumeHint(summary: RunSummary, facts: ResumeFacts): string {
  const limit = summary.status === "limit" ? " with a higher limit or budget" : "";
  const kept = facts.task === "run" && summary.output !== "-" ? [`the services already written are kept`] : [];
  if (facts.cacheMode === "read") kept.push("the answers already paid for are read from the cache");
  else if (facts.cacheMode !== "off") kept.push("with --cache-mode read the answers already paid for are read from the cache");
  return `to go on, run the same command again${limit}${kept.length ? `: ${kept.join("; ")}` : ""}`;
}

export function printSummary(summary: RunSummary, options: { json: boolean; log: Log; quarantinePath: string; resume?: ResumeFacts }): void {
  const { services: s, totals: t } = summary;
  const cost = `$${t.costUsd.toFixed(4)}${t.unpricedCalls ? ` (+${t.unpricedCalls} unpriced calls)` : ""}`;
  const line = `${summary.status}: ${s.ok} written${s.redone ? ` (${s.redone} redone: their inputs changed)` : ""}${s.incomplete ? ` (${s.incomplete} with gaps: answers still invalid, quarantined; a rerun asks again)` : ""}, ${s.failed} failed, ${s.skipped} already done, ${summary.badLines} bad lines; ${t.liveCalls} live calls, ${t.cachedCalls} cached, ${t.retries} retries${t.skippedCalls ? `, ${t.skippedCalls} skipped (their model down: the next one answered)` : ""}; ${cost} spent, $${t.savedCostUsd.toFixed(4)} saved`;
  const said = line + (summary.stopReason ? ` (${summary.stopReason})` : "");
  if (summary.status === "ok") options.log.success(line);
  else if (summary.status === "interrupted") options.log.warn(said);
  // Stopped by a limit, or failed (under --strict perhaps with no error logged before): an error,
  // so that --quiet, which shows only errors, still says why the exit code is not 0.
  else options.log.error(said);
  if (options.resume && (summary.status === "interrupted" || summary.status === "limit")) options.log.info(resumeHint(summary, options.resume));
  if (summary.quarantined) options.log.info(`quarantined: ${summary.quarantined} item(s), see ${options.quarantinePath}`);
  if (options.json) void writeStdout(`${JSON.stringify(jsonSummary(summary))}\n`);
}
