import { existsSync, readFileSync, statSync } from "node:fs";
import { SAError } from "../lib/errors.ts";
import type { LoadDatasetOptions } from "../lib/data.ts";
import type { RunOptions, RunSummary } from "../lib/pipeline/engine.ts";
import { createProgress } from "../lib/progress.ts";
import { withoutBom } from "../lib/utf8-text.ts";
import { createRuntime, type Runtime } from "../lib/runtime.ts";
import type { UsageGuard } from "../lib/usage-guard.ts";
import { checkStateWritable } from "../lib/state-dirs.ts";
import { exitOnSignal } from "../lib/signals.ts";
import { describeModels } from "../lib/model-settings.ts";
import { createTracing } from "../lib/tracing.ts";
import { positiveInt, sharedArgs } from "./_args.ts";
import { batchRunKey } from "../lib/batch/run-key.ts";
import { printSummary } from "./_summary.ts";
import { watchStdout } from "../lib/stdout.ts";
import type { TaskContext } from "./_task.ts";

/** Flags of the tasks that call models (run, map), on top of the shared ones. */
export const pipelineArgs = {
  ...sharedArgs,
  transcripts: { type: "boolean", description: "Store every prompt and answer in the cache store (transcripts: namespace)" },
  "log-prompts": { type: "boolean", description: "Put prompts and answers on trace spans (off: they may be sensitive)" },
  "ledger-calls": { type: "boolean", description: "Also write per-call detail to calls/<runId>.jsonl beside the ledger (default .sa/calls/)" },
  rationale: { type: "boolean", description: "Ask for a one-line rationale per mapped item; kept in the cache and transcripts, not in the output" },
  batch: { type: "boolean", description: "Send the calls in waves through the provider's Batch API, at its batch price; resumable" },
  "batch-below": { type: "string", description: "With --batch: a wave of fewer calls than this goes live" },
} as const;

type PipelineArgs = TaskContext<typeof pipelineArgs>["args"];

/**
 * Non-empty lines of a file, the items of a JSON array file, or 1 for one pretty-printed object
 * (lib/jsonl.ts reads both whole), for progress percentages (stdin cannot be counted ahead).
 */
function countLines(path: string): number | undefined {
  if (path === "-" || !existsSync(path) || !statSync(path).isFile()) return undefined;
  const text = withoutBom(readFileSync(path, "utf8"));
  const start = text.trimStart();
  if (!start.startsWith("[") && !/^\{[ \t\r]*\n/.test(start)) return text.split("\n").filter((l) => l.trim()).length;
  try {
    const items: unknown = JSON.parse(text);
    return Array.isArray(items) ? items.length : 1;
  } catch {
    return undefined; // the run says what is wrong with it
  }
}

/** The config with the task's flags, and the input and output it must have. */
async function pipelineConfig(context: Pick<TaskContext<typeof pipelineArgs>, "config"> & { args: PipelineArgs }, inputHelp: string) {
  const { args } = context;
  const below = positiveInt(args, "batch-below");
  const config = await context.config({ transcripts: args.transcripts ? true : undefined, rationale: args.rationale ? true : undefined, batch: { enabled: args.batch ? true : undefined, below } });
  // As --local-workers needs --queue: without batch mode the flag would change nothing, without a word.
  if (below !== undefined && !config.batch.enabled) throw new SAError("E_USAGE", "--batch-below needs --batch (or batch.enabled in the config)");
  const input = args.input ?? config.input;
  const output = args.output ?? config.output;
  if (!input) throw new SAError("E_USAGE", `--input is required (${inputHelp}, or - for stdin)`);
  if (!output) throw new SAError("E_USAGE", "--output is required (a JSONL file, or - for stdout)");
  return { config, input, output };
}

/**
 * The frame of a model-calling task: config, input and output, the runtime with tracing, the
 * progress display, the summary, and closing everything whatever happens.
 */
export async function runPipelineTask(
  context: Pick<TaskContext<typeof pipelineArgs>, "log" | "config"> & { args: PipelineArgs },
  task: { name: "run" | "map"; inputHelp: string; dataset?: LoadDatasetOptions; reuseImported?: boolean; wrapGuard?: (guard: UsageGuard) => UsageGuard },
  go: (runtime: Runtime, options: RunOptions) => Promise<RunSummary>,
): Promise<number> {
  const { args, log } = context;
  // Until the run handles signals itself (and after), Ctrl-C or SIGTERM exits 130 or 143.
  exitOnSignal();
  const { config, input, output } = await pipelineConfig(context, task.inputHelp);
  checkStateWritable(config);
  const runtime = await createRuntime({
    task: task.name,
    config,
    log,
    dryRun: args["dry-run"],
    reuseImported: task.reuseImported,
    wrapGuard: task.wrapGuard,
    ledgerCalls: args["ledger-calls"],
    dataset: task.dataset,
    tracing: await createTracing(process.env, { logPrompts: args["log-prompts"] }),
    batchRunKey: batchRunKey(input, output, config),
  });
  // The --json summary's first write would load node's streams (milliseconds) after the last
  // answer. Loaded instead while the first requests are out, when the run waits anyway.
  if (args.json && output !== "-") setTimeout(watchStdout, 20).unref();
  const report = (summary: RunSummary) => printSummary(summary, { json: Boolean(args.json), log, quarantinePath: runtime.quarantine.path, resume: args["dry-run"] ? undefined : { task: task.name, cacheMode: config.cacheMode } });
  try {
    log.info(`${task.name} ${runtime.runId}: ${input} → ${output} (${runtime.data.catalogues.map((c) => c.field).join(", ")}) with ${describeModels(config)}${args["dry-run"] ? ", dry run" : ""}${config.batch.enabled && !args["dry-run"] ? ", batch mode" : ""}`);
    const summary = await go(runtime, {
      input,
      output,
      strict: config.strict,
      handleSignals: true,
      // A second Ctrl-C: the answers held while the cache store was away are written first if it is back (a second at most), or said lost.
      onExitNow: async (summary) => {
        await runtime.finishCache(1000);
        report(summary);
      },
      progress: await createProgress({ log, clock: runtime.clock, quiet: args.quiet, json: args["log-format"] === "json", resultsOnTerminal: output === "-" && Boolean(process.stdout.isTTY) }),
      expectedServices: countLines(input),
    });
    await runtime.finishCache();
    if (summary.services.total === 0 && summary.badLines === 0 && summary.status === "ok") log.warn(`input ${input} holds no ${task.name === "map" ? "evolutions or feature records" : "services"}: nothing to do`);
    report(summary);
    return summary.exitCode;
  } finally {
    await runtime.close();
  }
}
