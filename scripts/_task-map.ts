/**
 * The `map` task. `bun scripts/map.ts` (and the catalogue) start it through scripts/_start.ts, which
 * handles Ctrl-C before this module and its imports have loaded.
 */
import { configCatalogueHash } from "../lib/data.ts";
import { SAError } from "../lib/errors.ts";
import type { Log } from "../lib/log.ts";
import { runRecords, type RunSummary } from "../lib/pipeline/engine.ts";
import { droppedKeyWarner } from "../lib/schema/service.ts";
import { readServiceFile } from "../lib/service-file.ts";
import { parseMapInput, type MapInput } from "../lib/pipeline/map-input.ts";
import { remap, remapCalls } from "../lib/pipeline/remap.ts";
import { pipelineArgs, runPipelineTask } from "./_pipeline.ts";
import { taskMeta } from "./_meta.ts";
import { defineTask } from "./_task.ts";

const list = (text: string | undefined) => text?.split(",").map((s) => s.trim()).filter(Boolean);

/** `--service-id` naming a service the input does not hold is a mistake, not an empty success. */
function unmatchedIds(summary: RunSummary, missing: string[], context: { input: string; log: Log }): RunSummary {
  if (!missing.length || summary.status === "interrupted" || summary.status === "limit") return summary;
  context.log.error(`--service-id: no record in ${context.input} matched ${missing.map((id) => `"${id}"`).join(", ")}`);
  return { ...summary, status: "failed", exitCode: 1 };
}

const task = defineTask({
  meta: taskMeta.map,
  args: {
    ...pipelineArgs,
    sets: { type: "string", description: "Mapping sets to map, e.g. applications,technologies (default: every set in the config)" },
    "service-id": { type: "string", description: "Only these services (comma-separated ids)" },
    "features-file": { type: "string", description: "The features or evolutions to map (the Python tool's name for --input)" },
    "reuse-imported": { type: "boolean", description: "On a cache miss, reuse an imported answer (cache import) when it validates" },
    "service-file": { type: "string", description: "Services JSONL giving the details of services that lean feature records name by id" },
  },
  async run({ args, log, config }) {
    const only = new Set(list(args["service-id"]) ?? []);
    const dataset = { sets: list(args.sets), requireRolesAndPlateaus: false };
    const matched = new Set<string>();
    if (args["features-file"] && args.input && args["features-file"] !== args.input) throw new SAError("E_USAGE", "--features-file and --input name two different files; give one");
    // The Python tool's --features-file names the input; it is the same flag here.
    const input = args["features-file"] ?? args.input;
    if (input === "-" && args["service-file"] === "-") throw new SAError("E_USAGE", "--service-file - and --input - cannot both read stdin: give one of them as a file");
    return runPipelineTask({ args: { ...args, input } as typeof args, log, config }, { name: "map", inputHelp: "evolutions or feature records JSONL", dataset, reuseImported: args["reuse-imported"] }, async (runtime, options) => {
      const onDropped = droppedKeyWarner((m) => log.warn(m), "service");
      const services = args["service-file"] ? await readServiceFile(args["service-file"], onDropped) : undefined;
      const context = { plateauNames: new Map(runtime.data.plateaus.map((p) => [p.level, p.name])), services, onDropped };
      const catalogueHash = await configCatalogueHash(runtime.config, runtime.data.catalogues);
      const summary = await runRecords(runtime, options, {
        task: "map",
        resume: false,
        // Until a record is read, as if it carried every plateau; each record then says its own.
        callsPerService: { mapping: Math.max(1, runtime.data.plateaus.length) * runtime.data.catalogues.filter((c) => c.items.length > 0).length },
        callsOf: (item: MapInput) => ({ mapping: remapCalls(item, { plateauNames: context.plateauNames, catalogues: runtime.data.catalogues }) }),
        parse(value) {
          const parsed = parseMapInput(value, context);
          if (parsed.ok && only.size && !only.has(parsed.serviceId)) return { ok: false, skip: true };
          if (parsed.ok) matched.add(parsed.serviceId);
          return parsed;
        },
        process: (item, position) => remap(runtime.pipeline, item, { position, runId: runtime.runId, created: runtime.startedAt, catalogueHash, plateauNames: context.plateauNames }),
      });
      return unmatchedIds(summary, [...only].filter((id) => !matched.has(id)), { input: options.input, log });
    });
  },
});

export default task;

