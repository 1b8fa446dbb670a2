import { SAError } from "../errors.ts";
import type { EngineRun, RunState, Stop } from "./engine-types.ts";

export const createRunState = (): RunState => ({
  counts: { ok: 0, failed: 0, skipped: 0, redone: 0, bad: 0 },
  failures: [],
  order: new Set(),
  dispatched: 0,
  stopped: Promise.withResolvers<void>(),
});

/** Stops dispatch once (the first reason wins); calls in flight may finish. */
export function halt(run: EngineRun<unknown>, stop: Stop): void {
  if (run.state.stop) return;
  run.state.stop = stop;
  run.state.stopped.resolve();
  const error = new SAError(stop.status === "limit" ? "E_LIMIT" : "E_INTERRUPTED", stop.reason);
  run.rt.limiter.stop(error);
  run.options.onHalt?.(error);
  run.rt.log.warn(`stopping: ${stop.reason}; letting calls in flight finish`);
}

export const serviceCounts = ({ order, counts }: RunState) => ({
  total: order.size,
  ok: counts.ok,
  failed: counts.failed,
  skipped: counts.skipped,
  redone: counts.redone,
});
