import type { OutputClaim } from "../output-claim.ts";
import { onStopSignal, signalExitCode } from "../signals.ts";
import { flushStdout, onStdoutClosed } from "../stdout.ts";
import type { EngineRun, RunState, RunStatus } from "./engine-types.ts";
import type { Heartbeat } from "./heartbeat.ts";
import { GRACE_MS, halt, runSummary } from "./run-state.ts";

/**
 * Turns SIGINT/SIGTERM (when asked) and a closed stdout into a graceful stop; returns the
 * function that removes the handlers.
 */
export function watchStops(run: EngineRun<unknown>, claim: OutputClaim, heartbeat: Pick<Heartbeat, "finalNow">): () => void {
  const { options, state } = run;
  // A second signal exits at once: the ledger gets this run's totals now, or from the journal on its next read.
  let exiting = false;
  const exitNow = (code: number): void => {
    if (exiting) return process.exit(code); // a third one does not wait for stdout's reader
    exiting = true;
    const reason = `${state.stop?.reason ?? "signal"}; a second signal stopped the run at once`;
    heartbeat.finalNow("interrupted", reason);
    const said = Promise.resolve(options.onExitNow?.(runSummary(run, { status: "interrupted", exitCode: code, missesByStage: {}, stopReason: reason }))).catch(() => {});
    // What is on its way to stdout (the summary; with `--output -`, the line its reader is taking) goes
    // out whole first, and the spans still open are ended and sent (a second at most), so a trace keeps its run.
    void Promise.all([said.then(flushStdout), run.rt.tracing.abandon(reason)]).then(() => {
      claim.release();
      process.exit(code);
    });
  };
  const removeSignals = options.handleSignals ? onStopSignal((signal) => halt(run, { status: "interrupted", reason: `${signal} received`, signal }), exitNow) : () => {};
  // The reader of `--output -` went away: stop as on SIGTERM, with exit 141.
  const removePipe = options.output === "-" ? onStdoutClosed(() => halt(run, { status: "interrupted", reason: "stdout closed (EPIPE)", signal: "SIGPIPE" })) : () => {};
  return () => {
    removeSignals();
    removePipe();
  };
}

/**
 * Waits for the calls in flight; after a stop, only for the grace period, counted from the stop
 * (which usually comes while the run waits here: a call hanging until its request timeout held Ctrl-C up).
 */
export async function waitForCalls(run: EngineRun<unknown>, idle: Promise<void>): Promise<void> {
  const graceMs = run.options.graceMs ?? GRACE_MS;
  const { stopped } = run.rt.limiter;
  const grace = Promise.withResolvers<boolean>();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const start = () => (timer = setTimeout(grace.resolve, graceMs, true).unref());
  if (stopped.aborted) start();
  else stopped.addEventListener("abort", start, { once: true });
  const timedOut = await Promise.race([idle.then(() => false), grace.promise]);
  stopped.removeEventListener("abort", start);
  clearTimeout(timer);
  if (timedOut) run.rt.log.warn(`calls still in flight after ${graceMs} ms; they are abandoned`);
}

/** How the run ended, and its exit code: 0 ok, 1 failed, 3 a limit, 128+n a signal. */
export function outcome(state: RunState, failed: boolean): { status: RunStatus; exitCode: number } {
  const { stop } = state;
  const status: RunStatus = stop?.status === "interrupted" ? "interrupted" : stop?.status === "limit" ? "limit" : failed ? "failed" : "ok";
  const exitCode = status === "interrupted" ? signalExitCode(stop?.signal ?? "SIGINT") : status === "limit" ? 3 : status === "failed" ? 1 : 0;
  return { status, exitCode };
}
