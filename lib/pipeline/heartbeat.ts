import { hostname } from "node:os";
import { errorMessage } from "../errors.ts";
import { saveRun, saveRunNow, type RunRecord } from "../ledger.ts";
import { allModels, stageModels } from "../model-settings.ts";
import { priceDataVersion } from "../pricing.ts";
import type { Config } from "../schema/config.ts";
import type { EngineRun, RunStatus } from "./engine-types.ts";
import { serviceCounts } from "./run-state.ts";

/** A crash between flushes loses at most this much of the ledger's detail. */
const FLUSH_EVERY_MS = 10_000;

/** The run's ledger record as it stands. */
function ledgerRecord(run: EngineRun<unknown>, status: "running" | RunStatus, finishedAt: string | null): RunRecord {
  const { rt, options, handler, state } = run;
  return rt.recorder.snapshot({
    runId: rt.runId,
    task: handler.task,
    startedAt: rt.startedAt,
    finishedAt,
    status,
    stopReason: state.stop?.reason ?? null,
    services: serviceCounts(state),
    input: options.input,
    output: options.output,
    model: rt.config.model,
    models: stageModels(rt.config),
    ...runPrices(rt.config),
    pid: process.pid,
    host: hostname(),
  });
}

/**
 * Where the run's costs came from: the price table's version, and the config's prices for the
 * run's models that have one (`pricing`, `providers.<name>.pricing`), so a cost can be traced.
 */
function runPrices(config: Config): Pick<RunRecord, "priceDataVersion" | "priceOverrides"> {
  const overridden = [...new Set(allModels(config))].filter((model) => config.pricing[model]).sort();
  return { priceDataVersion, ...(overridden.length ? { priceOverrides: Object.fromEntries(overridden.map((model) => [model, config.pricing[model]!])) } : {}) };
}

export interface Heartbeat {
  /** The first calls are on their way: the ledger's bookkeeping starts at the next turn of the event loop. */
  begin(): void;
  /** Stops the periodic record and waits for one in progress. */
  stop(): Promise<void>;
  /** The journal says how the run ended first, so a failed ledger write still leaves it known. */
  final(status: RunStatus): Promise<void>;
  /**
   * `final` for a process that exits at once (a second signal): the record is written only if the
   * ledger is free this instant; else the journal, which keeps the end, completes it on the next read.
   */
  finalNow(status: RunStatus, reason: string): void;
}

/**
 * Brings the ledger up to date (other runs' journals folded in) and saves this run as "running",
 * then again every few seconds until `stop`; `final` ends it. The first two wait for `begin` (or
 * `stop`): they are not needed to send the first requests, and a crash before them loses nothing,
 * since every answered call is in the journal, which the next read of the ledger folds in.
 */
export function startHeartbeat(run: EngineRun<unknown>): Heartbeat {
  const { rt } = run;
  const path = rt.config.ledger.path;
  // Said once (the same error comes back at every write), with where the run's usage waits meanwhile.
  const warned = new Set<string>();
  const warn = (error: unknown) => {
    const message = errorMessage(error);
    if (warned.has(message)) return;
    warned.add(message);
    rt.log.warn(`${message.startsWith("ledger ") ? "" : "ledger: "}${message}; this run's usage is kept in ${rt.journal.path} and goes into the ledger once it can be written`);
  };
  let begun = false;
  let opened: Promise<void> | undefined;
  // Its module loads with it, after the first requests.
  const open = () => (opened ??= import("../ledger-recover.ts").then(({ recoverLedger }) => recoverLedger(path, rt.log, rt.runId)).catch(warn).then(() => saveRun(path, ledgerRecord(run, "running", null)).catch(warn)));
  let flushing: Promise<void> = Promise.resolve();
  const flusher = setInterval(() => (flushing = flushing.then(open).then(() => saveRun(path, ledgerRecord(run, "running", null))).catch(() => {})), FLUSH_EVERY_MS);
  flusher.unref?.();
  return {
    begin() {
      if (!begun) setImmediate(open);
      begun = true;
    },
    async stop() {
      clearInterval(flusher);
      await open();
      await flushing; // never let a periodic "running" land after the final record
    },
    async final(status) {
      await open();
      // Requests still on the wire (past the grace period) were sent: counted as failed calls.
      rt.recorder.abandonOpen();
      rt.journal.end(status, run.state.stop?.reason ?? null);
      // Not saved, the journal stays: the next run, usage or preflight folds it in.
      await saveRun(path, ledgerRecord(run, status, new Date(rt.clock.now()).toISOString())).then(() => rt.journal.remove(), warn);
    },
    finalNow(status, reason) {
      rt.recorder.abandonOpen();
      rt.journal.end(status, reason);
      try {
        const record = { ...ledgerRecord(run, status, new Date(rt.clock.now()).toISOString()), stopReason: reason };
        if (saveRunNow(path, record)) rt.journal.remove();
      } catch (error) {
        warn(error);
      }
    },
  };
}
