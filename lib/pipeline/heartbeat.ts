import { hostname } from "node:os";
import { errorMessage } from "../errors.ts";
import { saveRun, type RunRecord } from "../ledger.ts";
import { stageModels } from "../model-settings.ts";
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
    pid: process.pid,
    host: hostname(),
  });
}

export interface Heartbeat {
  /** Stops the periodic record and waits for one in progress. */
  stop(): Promise<void>;
  /** The journal says how the run ended first, so a failed ledger write still leaves it known. */
  final(status: RunStatus): Promise<void>;
}

/** Saves the run as "running" now and every few seconds, until `stop`; then `final` ends it. */
export async function startHeartbeat(run: EngineRun<unknown>): Promise<Heartbeat> {
  const { rt } = run;
  const path = rt.config.ledger.path;
  await saveRun(path, ledgerRecord(run, "running", null)).catch((error) => rt.log.warn(`ledger: ${errorMessage(error)}`));
  let flushing: Promise<void> = Promise.resolve();
  const flusher = setInterval(() => (flushing = flushing.then(() => saveRun(path, ledgerRecord(run, "running", null))).catch(() => {})), FLUSH_EVERY_MS);
  flusher.unref?.();
  return {
    async stop() {
      clearInterval(flusher);
      await flushing; // never let a periodic "running" land after the final record
    },
    async final(status) {
      rt.journal.end(status, run.state.stop?.reason ?? null);
      await saveRun(path, ledgerRecord(run, status, new Date(rt.clock.now()).toISOString()));
      rt.journal.remove();
    },
  };
}
