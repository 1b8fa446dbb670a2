#!/usr/bin/env bun
import { existsSync, readFileSync } from "node:fs";
import { SAError } from "../lib/errors.ts";
import { runServices } from "../lib/pipeline/run.ts";
import { createProgress } from "../lib/progress.ts";
import { createRuntime } from "../lib/runtime.ts";
import { createTracing } from "../lib/tracing.ts";
import { sharedArgs } from "./_args.ts";
import { printSummary } from "./_summary.ts";
import { defineTask, runTask } from "./_task.ts";

/** Non-empty lines of a file, for progress percentages (stdin cannot be counted ahead). */
function countLines(path: string): number | undefined {
  if (path === "-" || !existsSync(path)) return undefined;
  const text = readFileSync(path, "utf8");
  return text.trimStart().startsWith("[") ? undefined : text.split("\n").filter((l) => l.trim()).length;
}

const task = defineTask({
  meta: { name: "run", description: "Run the whole pipeline: services JSONL in, evolutions JSONL out" },
  args: {
    ...sharedArgs,
    fresh: { type: "boolean", description: "Ignore what the output already holds and start over" },
    transcripts: { type: "boolean", description: "Store every prompt and answer in the cache store (transcripts: namespace)" },
    "reuse-imported": { type: "boolean", description: "On a cache miss, reuse an answer imported from the Python tool's cache when it validates" },
    "log-prompts": { type: "boolean", description: "Put prompts and answers on trace spans (off: they may be sensitive)" },
    "ledger-calls": { type: "boolean", description: "Also write per-call detail to .sa/calls/<runId>.jsonl" },
  },
  async run({ args, log, config: load }) {
    const config = await load({ transcripts: args.transcripts ? true : undefined });
    const input = args.input ?? config.input;
    const output = args.output ?? config.output;
    if (!input) throw new SAError("E_USAGE", "--input is required (a services JSONL file, or - for stdin)");
    if (!output) throw new SAError("E_USAGE", "--output is required (a JSONL file, or - for stdout)");
    if (args.fresh && output === "-") throw new SAError("E_USAGE", "--fresh needs an output file");
    const runtime = await createRuntime({ task: "run", config, log, dryRun: args["dry-run"], reuseImported: args["reuse-imported"], ledgerCalls: args["ledger-calls"], tracing: await createTracing(process.env, { logPrompts: args["log-prompts"] }) });
    try {
      log.info(`run ${runtime.runId}: ${input} → ${output} with ${config.model}${args["dry-run"] ? " (dry run)" : ""}`);
      const summary = await runServices(runtime, {
        input,
        output,
        fresh: args.fresh,
        strict: config.strict,
        handleSignals: true,
        progress: await createProgress({ log, clock: runtime.clock, quiet: args.quiet, json: args["log-format"] === "json" }),
        expectedServices: countLines(input),
      });
      printSummary(summary, { json: Boolean(args.json), log });
      return summary.exitCode;
    } finally {
      await runtime.close();
    }
  },
});

export default task;

if (import.meta.main) await runTask(task);
