#!/usr/bin/env bun
import type { Log } from "../lib/log.ts";
import { runRecords, type RunSummary } from "../lib/pipeline/engine.ts";
import { parseMapInput, remap } from "../lib/pipeline/remap.ts";
import { pipelineArgs, runPipelineTask } from "./_pipeline.ts";
import { defineTask, runTask } from "./_task.ts";

const list = (text: string | undefined) => text?.split(",").map((s) => s.trim()).filter(Boolean);

/** `--service-id` naming a service the input does not hold is a mistake, not an empty success. */
function unmatchedIds(summary: RunSummary, missing: string[], context: { input: string; log: Log }): RunSummary {
  if (!missing.length || summary.status === "interrupted" || summary.status === "limit") return summary;
  context.log.error(`--service-id: no record in ${context.input} matched ${missing.map((id) => `"${id}"`).join(", ")}`);
  return { ...summary, status: "failed", exitCode: 1 };
}

const task = defineTask({
  meta: { name: "map", description: "(Re)map the features of evolutions or feature records to the catalogues" },
  args: {
    ...pipelineArgs,
    sets: { type: "string", description: "Mapping sets to map, e.g. applications,technologies (default: every set in the config)" },
    "service-id": { type: "string", description: "Only these services (comma-separated ids)" },
  },
  async run({ args, log, config }) {
    const only = new Set(list(args["service-id"]) ?? []);
    const dataset = { sets: list(args.sets), requireRolesAndPlateaus: false };
    const matched = new Set<string>();
    return runPipelineTask({ args, log, config }, { name: "map", inputHelp: "evolutions or feature records JSONL", dataset }, async (runtime, options) => {
      const plateauNames = new Map(runtime.data.plateaus.map((p) => [p.level, p.name]));
      const summary = await runRecords(runtime, options, {
        task: "map",
        resume: false,
        // Evolutions usually carry every plateau; the data folder says how many.
        callsPerService: { mapping: Math.max(1, runtime.data.plateaus.length) * runtime.data.catalogues.length },
        parse(value) {
          const parsed = parseMapInput(value, plateauNames);
          if (parsed.ok && only.size && !only.has(parsed.serviceId)) return { ok: false, skip: true };
          if (parsed.ok) matched.add(parsed.serviceId);
          return parsed;
        },
        process: (item, position) => remap(runtime.pipeline, item, position, runtime.runId, runtime.startedAt, plateauNames),
      });
      return unmatchedIds(summary, [...only].filter((id) => !matched.has(id)), { input: options.input, log });
    });
  },
});

export default task;

if (import.meta.main) await runTask(task);
