import { hostname } from "node:os";
import { resolve } from "node:path";
import PQueue from "p-queue";
import { SAError, errorMessage, isSAError } from "../errors.ts";
import { assertReadable, readRecords } from "../jsonl.ts";
import type { Totals } from "../ledger.ts";
import { saveRun } from "../ledger.ts";
import { recoverLedger } from "../ledger-recover.ts";
import { claimOutput, type OutputClaim } from "../output-claim.ts";
import { createEvolutionWriter } from "../output.ts";
import { onStdoutClosed } from "../stdout.ts";
import { noProgress, type Progress, type ProgressCounts } from "../progress.ts";
import type { Runtime } from "../runtime.ts";
import type { ServiceEvolution } from "../schema/evolution.ts";
import { onStopSignal, signalExitCode, type StopSignal } from "../signals.ts";
import { stageModels } from "../model-settings.ts";

/** Dry-run misses printed one by one; the rest are in the --json summary. */
const MAX_MISSES_LOGGED = 100;

const countByStage = (misses: Array<{ stage: string }>) => {
  const counts: Record<string, number> = {};
  for (const m of misses) counts[m.stage] = (counts[m.stage] ?? 0) + 1;
  return counts;
};

/** Bad input lines printed one by one; the rest are counted in one line (all are quarantined). */
const MAX_BAD_LINES_LOGGED = 20;

export interface RunOptions {
  input: string;
  output: string;
  /** Ignore what the output already holds. */
  fresh?: boolean;
  strict?: boolean;
  /** Catch SIGINT/SIGTERM for a graceful stop. @default false (scripts turn it on) */
  handleSignals?: boolean;
  /** How long calls in flight may take to finish after a stop. @default 30000 */
  graceMs?: number;
  progress?: Progress;
  /** Known ahead for progress percentages (a file's line count). */
  expectedServices?: number;
  /** Read at most this many services from the input (the rest are left alone). */
  maxServices?: number;
  /** Services in flight at once. @default twice the concurrency (a queue coordinator enqueues them all) */
  window?: number;
  /** Called once when dispatch stops (a signal, a limit), so work waited on elsewhere can stop being awaited. */
  onHalt?: (error: SAError) => void;
}

export type RunStatus = "ok" | "failed" | "interrupted" | "limit";

export interface RunSummary {
  runId: string;
  status: RunStatus;
  exitCode: number;
  stopReason: string | null;
  /** `redone`: in the output already, but made from other inputs (see `RecordHandler.fingerprint`). */
  services: { total: number; ok: number; failed: number; skipped: number; redone: number };
  badLines: number;
  quarantined: number;
  failures: Array<{ serviceId: string; stage: string; reason: string }>;
  misses: Runtime["misses"];
  /** Dry run: the calls not in the cache, per stage. */
  missesByStage: Record<string, number>;
  totals: Totals;
  ledger: string;
  output: string;
}

/** How a task reads its input lines and turns each into an evolution. */
export interface RecordHandler<T> {
  task: string;
  /** Checks one input value: the item and its service id, or why the line is bad. */
  parse(value: unknown): { ok: true; item: T; serviceId: string } | { ok: false; reason: string } | { ok: false; skip: true };
  /** All calls go through the runtime's session; `position` orders work between services. */
  process(item: T, position: number): Promise<ServiceEvolution>;
  /** Skip services already complete in the output (run), or always start the output afresh (map). */
  resume: boolean;
  /**
   * The fingerprint of one input value's inputs, stamped on its line (`meta.models.fingerprint`):
   * resume skips a service only when its line carries the same one.
   */
  fingerprint?(value: unknown): string;
  /** Calls one service makes at each stage, for progress totals. */
  callsPerService: Record<string, number>;
}

/**
 * Streams records from the input, processes each within the global limits, and writes each
 * evolution as soon as it is complete. One service failing never stops the others; a usage
 * limit, a budget or a signal stops dispatch, lets calls in flight finish, and flushes.
 */
export function runRecords<T>(rt: Runtime, options: RunOptions, handler: RecordHandler<T>): Promise<RunSummary> {
  return rt.tracing.run(handler.task, { "sa.run_id": rt.runId, "sa.input": options.input, "sa.output": options.output, "sa.model": rt.config.model }, () => runInSpan(rt, options, handler));
}

async function runInSpan<T>(rt: Runtime, options: RunOptions, handler: RecordHandler<T>): Promise<RunSummary> {
  assertReadable(options.input);
  if (options.output !== "-" && options.input !== "-" && resolve(options.output) === resolve(options.input)) {
    throw new SAError("E_USAGE", `--output ${options.output} is the input file; write to another file (the input is read while the output is written)`);
  }
  // Before any call: the output can be written and is ours alone (exit 2 otherwise).
  const claim = claimOutput(options.output, { task: handler.task, runId: rt.runId, log: rt.log });
  try {
    await recoverLedger(rt.config.ledger.path, rt.log).catch((error) => rt.log.warn(`ledger: ${errorMessage(error)}`));
    return await runClaimed(rt, options, handler, claim);
  } finally {
    claim.release();
  }
}

async function runClaimed<T>(rt: Runtime, options: RunOptions, handler: RecordHandler<T>, claim: OutputClaim): Promise<RunSummary> {
  const { log, config } = rt;
  const progress = options.progress ?? noProgress;
  const writer = createEvolutionWriter(options.output, {
    fresh: !handler.resume || (options.fresh ?? false),
    plateauCount: rt.data.plateaus.length,
    sets: rt.data.catalogues.map((c) => c.field),
    onTruncate: (bytes) => log.warn(`output ${options.output}: removed a partial last line (${bytes} bytes) left by an earlier crash`),
  });
  const counts = { ok: 0, failed: 0, skipped: 0, redone: 0, bad: 0 };
  const failures: RunSummary["failures"] = [];
  const order: string[] = [];
  const seen = new Set<string>();
  let stop: { status: "limit" | "interrupted" | "fatal"; reason: string; signal?: StopSignal; error?: SAError } | undefined;

  const halt = (status: NonNullable<typeof stop>["status"], reason: string, extra: Partial<NonNullable<typeof stop>> = {}) => {
    if (stop) return;
    stop = { status, reason, ...extra };
    const error = new SAError(status === "limit" ? "E_LIMIT" : "E_INTERRUPTED", reason);
    rt.limiter.stop(error);
    options.onHalt?.(error);
    log.warn(`stopping: ${reason}; letting calls in flight finish`);
  };
  // A second signal exits at once: the journal says so, so the ledger still gets this run's totals.
  const exitNow = (code: number): never => {
    rt.journal.end("interrupted", `${stop?.reason ?? "signal"}; a second signal stopped the run at once`);
    claim.release();
    return process.exit(code);
  };
  const removeSignals = options.handleSignals ? onStopSignal((signal) => halt("interrupted", `${signal} received`, { signal }), exitNow) : () => {};
  // The reader of `--output -` went away: stop as on SIGTERM, with exit 141.
  const removePipe = options.output === "-" ? onStdoutClosed(() => halt("interrupted", "stdout closed (EPIPE)", { signal: "SIGPIPE" })) : () => {};

  const serviceCounts = () => ({ total: order.length, ok: counts.ok, failed: counts.failed, skipped: counts.skipped, redone: counts.redone });
  const ledgerRecord = (status: "running" | RunStatus, finishedAt: string | null) =>
    rt.recorder.snapshot({
      runId: rt.runId,
      task: handler.task,
      startedAt: rt.startedAt,
      finishedAt,
      status,
      stopReason: stop?.reason ?? null,
      services: serviceCounts(),
      input: options.input,
      output: options.output,
      model: config.model,
      models: stageModels(config),
      pid: process.pid,
      host: hostname(),
    });
  await saveRun(config.ledger.path, ledgerRecord("running", null)).catch((error) => log.warn(`ledger: ${errorMessage(error)}`));

  let dispatched = 0;
  const report = (): ProgressCounts => {
    const t = rt.recorder.totals();
    const stages = rt.recorder.byStage();
    // Services skipped as already done make no calls; before the input is read to its end, count what was dispatched.
    const services = Math.max(dispatched, (options.expectedServices ?? 0) - counts.skipped - counts.bad);
    const byStage = Object.fromEntries(
      Object.entries(handler.callsPerService).map(([stage, n]) => [stage, { done: (stages[stage]?.liveCalls ?? 0) + (stages[stage]?.cachedCalls ?? 0), total: services * n }]),
    );
    return { servicesDone: counts.ok, servicesFailed: counts.failed, servicesTotal: options.expectedServices, calls: t.liveCalls + t.cachedCalls, cached: t.cachedCalls, retries: t.retries, costUsd: t.costUsd, byStage };
  };
  progress.start(report);

  const bad = (line: number, reason: string, data?: unknown) => {
    counts.bad++;
    // A file that is not text at all has a bad line per line: print the first ones, count the rest.
    if (counts.bad <= MAX_BAD_LINES_LOGGED) log.error(`input ${options.input}:${line}: ${reason}`);
    rt.quarantine.add({ kind: "input", file: options.input, line, reason, data });
  };

  // Batch mode admits every service at once, so each wave holds a whole stage of the run.
  const window = config.batch.enabled ? Number.POSITIVE_INFINITY : (options.window ?? Math.max(4, config.concurrency * 2));
  const services = new PQueue({ concurrency: window });
  // A crash between flushes loses at most this much of the ledger's detail.
  let flushing: Promise<void> = Promise.resolve();
  const flusher = setInterval(() => (flushing = flushing.then(() => saveRun(config.ledger.path, ledgerRecord("running", null))).catch(() => {})), 10_000);
  flusher.unref?.();
  try {
    try {
      await readInput();
    } catch (error) {
      // The input broke off (an unreadable file, a bad JSON array): finish what started, then fail.
      halt("fatal", errorMessage(error), { error: isSAError(error) ? error : new SAError("E_INPUT_UNREADABLE", `input ${options.input}: ${errorMessage(error)}`, { cause: error }) });
    }
    const idle = services.onIdle();
    if (stop) {
      const graceMs = options.graceMs ?? 30_000;
      const timedOut = await Promise.race([idle.then(() => false), new Promise<boolean>((r) => setTimeout(r, graceMs, true).unref())]);
      if (timedOut) log.warn(`calls still in flight after ${graceMs} ms; they are abandoned`);
    } else await idle;
  } finally {
    clearInterval(flusher);
    await flushing; // never let a periodic "running" land after the final record
    removeSignals();
    removePipe();
    writer.finish(order);
  }
  progress.stop();

  /** The journal says how the run ended first, so a failed ledger write still leaves it known. */
  async function finalRecord(status: RunStatus) {
    rt.journal.end(status, stop?.reason ?? null);
    await saveRun(config.ledger.path, ledgerRecord(status, new Date(rt.clock.now()).toISOString()));
    rt.journal.remove();
  }

  async function readInput() {
    for await (const record of readRecords(options.input)) {
      if (stop || order.length >= (options.maxServices ?? Number.POSITIVE_INFINITY)) break;
      if (record.error) {
        bad(record.line, record.error);
        continue;
      }
      const parsed = handler.parse(record.value);
      if (!parsed.ok) {
        if ("reason" in parsed) bad(record.line, parsed.reason, record.value);
        continue;
      }
      const serviceId = parsed.serviceId;
      if (seen.has(serviceId)) {
        bad(record.line, `service_id: duplicate "${serviceId}"`);
        continue;
      }
      seen.add(serviceId);
      order.push(serviceId);
      const fingerprint = handler.fingerprint?.(record.value);
      const redo = writer.done.has(serviceId);
      if (redo) {
        if (writer.done.get(serviceId) === fingerprint) {
          counts.skipped++;
          continue;
        }
        log.debug(`service ${serviceId}: its line in the output was made from other inputs; doing it again`, { serviceId });
      }
      // Read ahead only as far as the window, so a large input never sits in memory.
      await services.onSizeLessThan(window);
      const position = dispatched++;
      void services.add(async () => {
        if (stop) return;
        try {
          const evolution = await rt.tracing.service(serviceId, () => handler.process(parsed.item, position));
          // A dry run went on past its misses with stand-in answers: never write those.
          if (rt.misses.some((m) => m.serviceId === serviceId)) throw new SAError("E_DRY_RUN_MISS", `dry run: ${serviceId} has calls not in the cache`);
          if (fingerprint) evolution.meta.models = { ...evolution.meta.models, fingerprint };
          await writer.write(evolution);
          counts.ok++;
          if (redo) counts.redone++;
        } catch (error) {
          if (isSAError(error, "E_LIMIT") || isSAError(error, "E_BUDGET")) halt("limit", error.message);
          else if (isSAError(error, "E_INTERRUPTED") || stop) return;
          else if (isSAError(error, "E_USAGE") || isSAError(error, "E_CONFIG")) halt("fatal", error.message, { error });
          else if (isSAError(error, "E_DRY_RUN_MISS")) counts.failed++;
          else {
            counts.failed++;
            const stage = isSAError(error) ? String(error.details.stage ?? "pipeline") : "pipeline";
            failures.push({ serviceId, stage, reason: errorMessage(error) });
            log.error(`service ${serviceId} failed at ${stage}: ${errorMessage(error)}`, { serviceId });
            if (log.level >= 4 && error instanceof Error) log.debug(error);
            rt.quarantine.add({ kind: "service", serviceId, stage, reason: errorMessage(error) });
          }
        } finally {
          progress.tick();
        }
      });
    }
  }

  if (stop?.status === "fatal" && stop.error) {
    await finalRecord("failed").catch(() => {});
    throw stop.error;
  }
  if (counts.bad > MAX_BAD_LINES_LOGGED) {
    log.error(`input ${options.input}: ${counts.bad - MAX_BAD_LINES_LOGGED} more bad line(s) not shown (${counts.bad} in all, every one in ${rt.quarantine.path})`);
  }
  const missesByStage = countByStage(rt.misses);
  if (rt.misses.length) {
    log.warn(`dry run: ${rt.misses.length} call(s) not in the cache (${Object.entries(missesByStage).map(([stage, n]) => `${stage} ${n}`).join(", ")}):`);
    for (const m of rt.misses.slice(0, MAX_MISSES_LOGGED)) log.warn(`  miss: ${m.stage} ${m.serviceId} ${m.model}`);
    if (rt.misses.length > MAX_MISSES_LOGGED) log.warn(`  ... and ${rt.misses.length - MAX_MISSES_LOGGED} more (every one in --json)`);
  }
  const somethingFailed = counts.failed > 0 || counts.bad > 0 || (options.strict && rt.quarantine.count > 0);
  const status: RunStatus = stop?.status === "interrupted" ? "interrupted" : stop?.status === "limit" ? "limit" : somethingFailed ? "failed" : "ok";
  const exitCode = status === "interrupted" ? signalExitCode(stop?.signal ?? "SIGINT") : status === "limit" ? 3 : status === "failed" ? 1 : 0;
  await finalRecord(status).catch((error) => log.warn(`ledger: ${errorMessage(error)}`));
  return {
    runId: rt.runId,
    status,
    exitCode,
    stopReason: stop?.reason ?? null,
    services: serviceCounts(),
    badLines: counts.bad,
    quarantined: rt.quarantine.count,
    failures,
    misses: rt.misses,
    missesByStage,
    totals: rt.recorder.totals(),
    ledger: config.ledger.path,
    output: options.output,
  };
}
