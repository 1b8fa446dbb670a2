#!/usr/bin/env bun
import { runRecords } from "../lib/pipeline/engine.ts";
import { parseMapInput, remap } from "../lib/pipeline/remap.ts";
import { pipelineArgs, runPipelineTask } from "./_pipeline.ts";
import { taskMeta } from "./_meta.ts";
import { defineTask, runTask } from "./_task.ts";

const list = (text: string | undefined) => text?.split(",").map((s) => s.trim()).filter(Boolean);

const task = defineTask({
  meta: taskMeta.map,
  args: {
    ...pipelineArgs,
    sets: { type: "string", description: "Mapping sets to map, e.g. applications,technologies (default: every set in the config)" },
    "service-id": { type: "string", description: "Only these services (comma-separated ids)" },
  },
  async run({ args, log, config }) {
    const only = new Set(list(args["service-id"]) ?? []);
    const dataset = { sets: list(args.sets), requireRolesAndPlateaus: false };
    return runPipelineTask({ args, log, config }, { name: "map", inputHelp: "evolutions or feature records JSONL", dataset }, (runtime, options) => {
      const plateauNames = new Map(runtime.data.plateaus.map((p) => [p.level, p.name]));
      return runRecords(runtime, options, {
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
      });
    });
  },
});

export default task;

if (import.meta.main) await runTask(task);
