#!/usr/bin/env bun
import { SAError } from "../lib/errors.ts";
import { runServices } from "../lib/pipeline/run.ts";
import { pipelineArgs, runPipelineTask } from "./_pipeline.ts";
import { taskMeta } from "./_meta.ts";
import { defineTask, runTask } from "./_task.ts";

const task = defineTask({
  meta: taskMeta.run,
  args: {
    ...pipelineArgs,
    fresh: { type: "boolean", description: "Ignore what the output already holds and start over" },
    "reuse-imported": { type: "boolean", description: "On a cache miss, reuse an answer imported from the Python tool's cache when it validates" },
  },
  async run({ args, log, config }) {
    if (args.fresh && args.output === "-") throw new SAError("E_USAGE", "--fresh needs an output file");
    return runPipelineTask({ args, log, config }, { name: "run", inputHelp: "a services JSONL file or JSON array", reuseImported: args["reuse-imported"] }, (runtime, options) =>
      runServices(runtime, { ...options, fresh: args.fresh }),
    );
  },
});

export default task;

if (import.meta.main) await runTask(task);
