/**
 * The `run` task. `bun scripts/run.ts` (and the catalogue) start it through scripts/_start.ts: from
 * the precompiled bundle of this module when it is fresh, else from this source.
 */
import { SAError } from "../lib/errors.ts";
import { runServices } from "../lib/pipeline/run.ts";
import { positiveInt } from "./_args.ts";
import { pipelineArgs, runPipelineTask } from "./_pipeline.ts";
import { taskMeta } from "./_meta.ts";
import { defineTask } from "./_task.ts";

/** The smaller of two counts, either of which may be unknown. */
const atMost = (a: number | undefined, b: number | undefined) => (a === undefined ? b : b === undefined ? a : Math.min(a, b));

const task = defineTask({
  meta: taskMeta.run,
  args: {
    ...pipelineArgs,
    fresh: { type: "boolean", description: "Ignore what the output already holds and start over" },
    "max-services": { type: "string", description: "Process at most this many services from the input" },
    "reuse-imported": { type: "boolean", description: "On a cache miss, reuse an answer imported from the Python tool's cache when it validates" },
    queue: { type: "string", description: "Coordinate: one job per service on this BullMQ queue (redis://HOST:PORT[/DB]); workers project them" },
    "local-workers": { type: "string", description: "With --queue: also work the queue with this many workers in this process" },
  },
  async run({ args, log, config }) {
    const maxServices = positiveInt(args, "max-services");
    const localWorkers = positiveInt(args, "local-workers");
    if (args.fresh && args.output === "-") throw new SAError("E_USAGE", "--fresh needs an output file");
    if (localWorkers && !args.queue) throw new SAError("E_USAGE", "--local-workers needs --queue");
    if (args.queue && args.batch) throw new SAError("E_USAGE", "--batch and --queue do not go together: a batch run waits in one process, workers call live");
    if (args.queue && args["dry-run"]) throw new SAError("E_USAGE", "--dry-run and --queue do not go together: a dry run enqueues nothing (run it without --queue: workers share its cache)");
    // The coordinator's own workers lose jobs as worker processes do (Redis restarted without its data).
    const wrapGuard = args.queue && localWorkers ? (await import("../lib/queue/lost-guard.ts")).refuseLostJobs : undefined;
    return runPipelineTask({ args, log, config }, { name: "run", inputHelp: "a services JSONL file or JSON array", reuseImported: args["reuse-imported"], wrapGuard }, async (runtime, options) => {
      const runOptions = { ...options, fresh: args.fresh, maxServices, expectedServices: atMost(options.expectedServices, maxServices) };
      if (!args.queue) {
        // The config's queue.url serves the workers and `queue`: a run coordinates only when asked.
        if (runtime.config.queue.url) log.info("config queue.url is set, but this run works in this process: give --queue to hand its services to workers");
        return runServices(runtime, runOptions);
      }
      // BullMQ and its Redis client load only for a coordinated run: every other run starts faster.
      const [{ queueSettings }, { coordinateRun }] = await Promise.all([import("../lib/queue/connection.ts"), import("../lib/queue/coordinator.ts")]);
      return coordinateRun(runtime, runOptions, { settings: queueSettings(runtime.config, args.queue), localWorkers });
    });
  },
});

export default task;
