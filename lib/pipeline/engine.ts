import { resolve } from "node:path";
import { SAError, errorMessage, isSAError } from "../errors.ts";
import { assertReadable } from "../jsonl.ts";
import { claimOutput, outputFile, type OutputClaim } from "../output-claim.ts";
import { createEvolutionWriter, type ForeignLine } from "../output.ts";
import { noProgress } from "../progress.ts";
import { createDispatcher } from "./dispatcher.ts";
import type { EngineRun, Misses, MissesEstimate, RecordHandler, RunContext, RunOptions, RunSummary } from "./engine-types.ts";
import { describeMissesEstimate, estimateMisses } from "./misses.ts";
import { startHeartbeat, type Heartbeat } from "./heartbeat.ts";
import { MAX_BAD_LINES_LOGGED, readInput } from "./input-reader.ts";
import { progressCounts } from "./run-progress.ts";
import { createRunState, runSummary } from "./run-state.ts";
import { signalExitCode } from "../signals.ts";
import { outcome, waitForCalls, watchStops } from "./shutdown.ts";

export type { RunContext, RunOptions, RunSummary } from "./engine-types.ts";

/** Dry-run misses printed one by one; the rest are in the --json summary. */
const MAX_MISSES_LOGGED = 100;

/**
 * Streams records from the input, processes each within the global limits, and writes each
 * evolution as soon as it is complete. One service failing never stops the others; a usage
 * limit, a budget or a signal stops dispatch, lets calls in flight finish, and flushes.
 */
export function runRecords<T>(rt: RunContext, options: RunOptions, handler: RecordHandler<T>): Promise<RunSummary> {
  const attributes = { "sa.run_id": rt.runId, "sa.input": options.input, "sa.output": options.output, "sa.model": rt.config.model };
  return rt.tracing.run(handler.task, attributes, () => runClaimed(rt, options, handler), runOutcome);
}

/** How the run ended, on its span: failed (with the reason) when its exit code is not 0. */
const runOutcome = (s: RunSummary) => ({
  attributes: { "sa.status": s.status, "sa.exit_code": s.exitCode, "sa.live_calls": s.totals.liveCalls, "sa.cached_calls": s.totals.cachedCalls, "sa.cost_usd": s.totals.costUsd },
  error: s.exitCode === 0 ? undefined : (s.stopReason ?? `${s.status}: ${s.services.failed} service(s) failed, ${s.badLines} bad line(s)`),
});

/** Checks the input and claims the output before any call (exit 2 when it is not ours alone). */
async function runClaimed<T>(rt: RunContext, options: RunOptions, handler: RecordHandler<T>): Promise<RunSummary> {
  assertReadable(options.input);
  const file = outputFile(options.output);
  if (file !== "-" && options.input !== "-" && resolve(file) === resolve(outputFile(options.input))) {
    throw new SAError("E_USAGE", `--output ${options.output} is the input file; write to another file (the input is read while the output is written)`);
  }
  const claim = claimOutput(file, { task: handler.task, runId: rt.runId, log: rt.log });
  try {
    return await runEngine(openRun(rt, options, handler, file), claim);
  } finally {
    claim.release();
  }
}

/** `file`: the output's own path (a symlink's target, lib/output-claim.ts `outputFile`); messages name the path as given. */
function openRun<T>(rt: RunContext, options: RunOptions, handler: RecordHandler<T>, file: string): EngineRun<T> {
  const writer = createEvolutionWriter(file, {
    fresh: !handler.resume || (options.fresh ?? false),
    plateauCount: rt.data.plateaus.length,
    sets: rt.data.catalogues.map((c) => c.field),
    onTruncate: (bytes) => rt.log.warn(`output ${options.output}: removed a partial last line (${bytes} bytes) left by an earlier crash`),
    onForeign: foreignLineReporter(rt, options.output),
  });
  return { rt, options, handler, writer, progress: options.progress ?? noProgress, state: createRunState() };
}

/**
 * A line of the output that is not an evolution (garbage, another tool's record) goes to the
 * quarantine whole, named by its line: the final rewrite leaves it out, so the output stays valid.
 */
function foreignLineReporter(rt: RunContext, output: string): (foreign: ForeignLine) => void {
  let count = 0;
  return ({ line, text, reason }) => {
    rt.quarantine.add({ kind: "output", file: output, line, reason, data: text });
    if (++count <= MAX_BAD_LINES_LOGGED) rt.log.warn(`output ${output}:${line}: not an evolution (${reason}); left out of the output, kept in ${rt.quarantine.path}`);
    else if (count === MAX_BAD_LINES_LOGGED + 1) rt.log.warn(`output ${output}: more lines that are not evolutions are not shown (every one is in ${rt.quarantine.path})`);
  };
}

/**
 * Reads and dispatches the input, waits for the calls, then ends the run in the ledger. The
 * ledger's bookkeeping starts once the first service is dispatched, so the first requests go out
 * without waiting for it.
 */
async function runEngine<T>(run: EngineRun<T>, claim: OutputClaim): Promise<RunSummary> {
  const heartbeat = startHeartbeat(run as EngineRun<unknown>);
  // Signals are handled until the final ledger record is written: one during the final rewrite
  // or that write lets them finish, where the default action would kill the process midway.
  const removeStops = watchStops(run as EngineRun<unknown>, claim, heartbeat);
  run.progress.start(() => progressCounts(run as EngineRun<unknown>));
  const dispatcher = createDispatcher(run);
  try {
    try {
      await readInput(run, { ...dispatcher, dispatch: (accepted) => dispatcher.dispatch(accepted).then(heartbeat.begin) });
      await waitForCalls(run as EngineRun<unknown>, dispatcher.idle());
    } finally {
      await heartbeat.stop();
      finishOutput(run as EngineRun<unknown>);
    }
    // A signal that came during the rewrite (synchronous) is handled now, before the outcome is decided.
    await new Promise((resolve) => setImmediate(resolve));
    run.progress.stop();
    return await finishRun(run as EngineRun<unknown>, heartbeat);
  } finally {
    removeStops();
  }
}

/**
 * The output's final rewrite in input order. One the disk has no room for leaves the output as it
 * was and stops the run as a full disk does: the ledger's record is still written, the error after.
 */
function finishOutput(run: EngineRun<unknown>): void {
  try {
    run.writer.finish(run.state.order);
  } catch (error) {
    if (!isSAError(error, "E_WRITE")) throw error;
    run.state.stop ??= { status: "fatal", reason: error.message, error };
  }
}

/** The final ledger record and the summary; a fatal stop throws its error after the record. */
async function finishRun(run: EngineRun<unknown>, heartbeat: Heartbeat): Promise<RunSummary> {
  const { rt, options, state } = run;
  if (state.stop?.status === "fatal" && state.stop.error) {
    await heartbeat.final("failed").catch(() => {});
    throw state.stop.error;
  }
  if (state.counts.bad > MAX_BAD_LINES_LOGGED) {
    rt.log.error(`input ${options.input}: ${state.counts.bad - MAX_BAD_LINES_LOGGED} more bad line(s) not shown (${state.counts.bad} in all, every one in ${rt.quarantine.path})`);
  }
  const { missesByStage, missesEstimate } = logMisses(run, rt.misses);
  // Under --strict a quarantined answer fails the run, and so does a line with gaps (a queue worker's quarantine is its own).
  const failed = state.counts.failed > 0 || state.counts.bad > 0 || Boolean(options.strict && (rt.quarantine.count > 0 || state.counts.incomplete > 0));
  const { status, exitCode } = outcome(state, failed);
  await heartbeat.final(status).catch((error) => rt.log.warn(`ledger: ${errorMessage(error)}`));
  // A signal that came while the final record was written found the work done; it still sets the exit code.
  const code = status !== "interrupted" && state.stop?.signal ? signalExitCode(state.stop.signal) : exitCode;
  return runSummary(run, { status, exitCode: code, missesByStage, missesEstimate });
}

/** A dry run's misses, counted per stage, with what a run would spend on them, and printed (the first ones). */
function logMisses(run: EngineRun<unknown>, misses: Misses): { missesByStage: Record<string, number>; missesEstimate?: MissesEstimate } {
  const byStage: Record<string, number> = {};
  for (const m of misses) byStage[m.stage] = (byStage[m.stage] ?? 0) + 1;
  if (!misses.length) return { missesByStage: byStage };
  const { log, config } = run.rt;
  const estimate = estimateMisses(misses, config);
  log.warn(`dry run: ${misses.length} call(s) not in the cache (${Object.entries(byStage).map(([stage, n]) => `${stage} ${n}`).join(", ")}), ${describeMissesEstimate(estimate)}:`);
  for (const m of misses.slice(0, MAX_MISSES_LOGGED)) log.warn(`  miss: ${[m.stage, m.serviceId, m.plateau, m.field, m.model].filter(Boolean).join(" ")}`);
  if (misses.length > MAX_MISSES_LOGGED) log.warn(`  ... and ${misses.length - MAX_MISSES_LOGGED} more (every one in --json)`);
  return { missesByStage: byStage, missesEstimate: estimate };
}
