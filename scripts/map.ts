#!/usr/bin/env bun
import { SAError } from "../lib/errors.ts";
import { runRecords } from "../lib/pipeline/engine.ts";
import { parseMapInput, remap } from "../lib/pipeline/remap.ts";
import { createProgress } from "../lib/progress.ts";
import { createRuntime } from "../lib/runtime.ts";
import { createTracing } from "../lib/tracing.ts";
import { sharedArgs } from "./_args.ts";
import { printSummary } from "./_summary.ts";
import { defineTask, runTask } from "./_task.ts";

const list = (text: string | undefined) => text?.split(",").map((s) => s.trim()).filter(Boolean);

const task = defineTask({
  meta: { name: "map", description: "(Re)map the features of evolutions or feature records to the catalogues" },
  args: {
    ...sharedArgs,
    sets: { type: "string", description: "Mapping sets to map, e.g. applications,technologies (default: every set in the config)" },
    "service-id": { type: "string", description: "Only these services (comma-separated ids)" },
    transcripts: { type: "boolean", description: "Store every prompt and answer in the cache store" },
    "log-prompts": { type: "boolean", description: "Put prompts and answers on trace spans (off: they may be sensitive)" },
    "ledger-calls": { type: "boolean", description: "Also write per-call detail to .sa/calls/<runId>.jsonl" },
  },
  async run({ args, log, config: load }) {
    const config = await load({ transcripts: args.transcripts ? true : undefined });
    const input = args.input ?? config.input;
    const output = args.output ?? config.output;
    if (!input) throw new SAError("E_USAGE", "--input is required (evolutions or feature records JSONL, or - for stdin)");
    if (!output) throw new SAError("E_USAGE", "--output is required (a JSONL file, or - for stdout)");
    const only = new Set(list(args["service-id"]) ?? []);
    const runtime = await createRuntime({
      task: "map",
      config,
      log,
      dryRun: args["dry-run"],
      ledgerCalls: args["ledger-calls"],
      tracing: await createTracing(process.env, { logPrompts: args["log-prompts"] }),
      dataset: { sets: list(args.sets), requireRolesAndPlateaus: false },
    });
    try {
      const plateauNames = new Map(runtime.data.plateaus.map((p) => [p.level, p.name]));
      log.info(`map ${runtime.runId}: ${input} → ${output} (${runtime.data.catalogues.map((c) => c.field).join(", ")}) with ${config.model}`);
      const summary = await runRecords(
        runtime,
        { input, output, strict: config.strict, handleSignals: true, progress: await createProgress({ log, clock: runtime.clock, quiet: args.quiet, json: args["log-format"] === "json" }) },
        {
          task: "map",
          resume: false,
          // Evolutions usually carry every plateau; the data folder says how many.
          callsPerService: { mapping: Math.max(1, runtime.data.plateaus.length) * runtime.data.catalogues.length },
          parse(value) {
            const parsed = parseMapInput(value, plateauNames);
            if (parsed.ok && only.size && !only.has(parsed.serviceId)) return { ok: false, skip: true };
            return parsed;
          },
          process: (item, position) => remap(runtime.pipeline, item, position, runtime.runId, runtime.startedAt, plateauNames),
        },
      );
      printSummary(summary, { json: Boolean(args.json), log });
      return summary.exitCode;
    } finally {
      await runtime.close();
    }
  },
});

export default task;

if (import.meta.main) await runTask(task);
