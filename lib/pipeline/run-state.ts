import { SAError } from "../errors.ts";
import { createCallPlan } from "./call-plan.ts";
import type { EngineRun, MissesEstimate, RunState, RunStatus, RunSummary, Stop } from "./engine-types.ts";

export const createRunState = (): RunState => ({
  counts: { ok: 0, failed: 0, skipped: 0, redone: 0, incomplete: 0, bad: 0 },
  failures: [],
  order: new Set(),
  dispatched: 0,
  calls: createCallPlan(),
});

/** Stops dispatch once (the first reason wins); calls in flight may finish. */
export function halt(run: EngineRun<unknown>, stop: Stop): void {
  if (run.state.stop) return;
  run.state.stop = stop;
  const error = new SAError(stop.status === "limit" ? "E_LIMIT" : "E_INTERRUPTED", stop.reason);
  // A signal lets the calls in flight finish, re-asks included; a limit or a fatal error does not.
  run.rt.limiter.stop(error, { letFinish: stop.status === "interrupted" });
  // A fatal error before any service went out (an input that cannot be read) is said once, by its
  // own line as the run ends: no call is in flight to wait for.
  if (stop.status === "fatal" && stop.error && run.state.dispatched === 0) return;
  run.rt.log.warn(`stopping: ${stop.reason}; letting calls in flight finish (${graceText(run.options.graceMs ?? GRACE_MS)} at most${secondSignal(stop.signal)})`);
}

/** How long calls in flight may take to finish after a stop (lib/pipeline/shutdown.ts). */
export const GRACE_MS = 30_000;
const graceText = (ms: number) => (ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`);
const secondSignal = (signal: Stop["signal"]) => (signal === "SIGINT" ? "; Ctrl-C again exits at once" : signal === "SIGTERM" ? "; a second SIGTERM exits at once" : "");

export const serviceCounts = ({ order, counts }: RunState) => ({
  total: order.size,
  ok: counts.ok,
  failed: counts.failed,
  skipped: counts.skipped,
  redone: counts.redone,
  incomplete: counts.incomplete,
});

/** The run's summary as it stands (the last line of `--json`). */
export function runSummary(run: EngineRun<unknown>, end: { status: RunStatus; exitCode: number; missesByStage: Record<string, number>; missesEstimate?: MissesEstimate; stopReason?: string }): RunSummary {
  const { rt, options, state } = run;
  return {
    runId: rt.runId,
    status: end.status,
    exitCode: end.exitCode,
    stopReason: end.stopReason ?? state.stop?.reason ?? null,
    services: serviceCounts(state),
    badLines: state.counts.bad,
    quarantined: rt.quarantine.count,
    failures: state.failures,
    misses: rt.misses,
    missesByStage: end.missesByStage,
    ...(end.missesEstimate ? { missesEstimate: end.missesEstimate } : {}),
    totals: rt.recorder.totals(),
    ledger: rt.config.ledger.path,
    output: options.output,
  };
}
