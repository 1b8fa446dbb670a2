import type { ProgressCounts } from "../progress.ts";
import { plannedTotal, settledDone } from "./call-plan.ts";
import type { EngineRun } from "./engine-types.ts";

/** The counts the progress display shows, from the recorder's totals and the run's state. */
export function progressCounts(run: EngineRun<unknown>): ProgressCounts {
  const { rt, options, handler, state } = run;
  const t = rt.recorder.totals();
  const stages = rt.recorder.byStage();
  // Services skipped as already done make no calls; before the input is read to its end, count what was dispatched.
  const services = Math.max(state.dispatched, (options.expectedServices ?? 0) - state.counts.skipped - state.counts.bad);
  const unread = services - state.dispatched;
  const byStage = Object.fromEntries(
    Object.entries(handler.callsPerService).map(([stage, perService]) => [
      stage,
      {
        done: settledDone(state.calls, stage, (stages[stage]?.liveCalls ?? 0) + (stages[stage]?.cachedCalls ?? 0)),
        total: plannedTotal(state.calls, stage, { perService, dispatched: state.dispatched, unread }),
      },
    ]),
  );
  return {
    servicesDone: state.counts.ok,
    servicesFailed: state.counts.failed,
    // Bad lines and services already done are not services this run will do.
    servicesTotal: options.expectedServices === undefined ? undefined : services,
    calls: t.liveCalls + t.cachedCalls,
    cached: t.cachedCalls,
    retries: t.retries,
    costUsd: t.costUsd,
    byStage,
    stopping: state.stop !== undefined,
  };
}
