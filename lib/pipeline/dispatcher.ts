import PQueue from "p-queue";
import { SAError, errorMessage, isSAError, isUsageStop } from "../errors.ts";
import { diskError } from "../disk-error.ts";
import type { EngineRun, Stop } from "./engine-types.ts";
import { planRecord, settleRecord, type StageCalls } from "./call-plan.ts";
import { gapsOf } from "./gaps.ts";
import { halt } from "./run-state.ts";

/** One accepted input record, ready to be processed. */
export interface Accepted<T> {
  item: T;
  serviceId: string;
  fingerprint?: string;
  /** In the output already, made from other inputs. */
  redo: boolean;
}

export interface Dispatcher<T> {
  /** Waits for room in the window, then starts processing the record. */
  dispatch(accepted: Accepted<T>): Promise<void>;
  /** Resolves once every dispatched record is done. */
  idle(): Promise<void>;
}

/** Processes records a window at a time, so a large input never sits in memory. */
export function createDispatcher<T>(run: EngineRun<T>): Dispatcher<T> {
  // Batch mode admits every service at once, so each wave holds a whole stage of the run.
  const window = run.rt.config.batch.enabled ? Number.POSITIVE_INFINITY : (run.options.window ?? Math.max(4, run.rt.config.concurrency * 2));
  const queue = new PQueue({ concurrency: window });
  return {
    async dispatch(accepted) {
      await queue.onSizeLessThan(window);
      const position = run.state.dispatched++;
      const calls = run.handler.callsOf?.(accepted.item) ?? run.handler.callsPerService;
      planRecord(run.state.calls, calls);
      void queue.add(() => processRecord(run, accepted, { position, calls }));
      // The first service's request goes out before the next service is read: its steps to the
      // socket are promise callbacks, which would take turns with every other service's preparation.
      if (position === 0) await new Promise((resolve) => setImmediate(resolve));
    },
    idle: () => queue.onIdle(),
  };
}

/**
 * Processes one record and writes its evolution; a failure is counted, or stops the run. A record
 * that ended either way settles its planned calls (`calls`) for the progress.
 */
async function processRecord<T>(run: EngineRun<T>, { item, serviceId, fingerprint, redo }: Accepted<T>, plan: { position: number; calls: StageCalls }): Promise<void> {
  const { rt, state } = run;
  const { position } = plan;
  if (state.stop) return;
  let ended = false;
  try {
    const evolution = await rt.tracing.service(serviceId, () => run.handler.process(item, position));
    // A dry run went on past its misses with stand-in answers: never write those.
    if (rt.misses.some((m) => m.serviceId === serviceId)) throw new SAError("E_DRY_RUN_MISS", `dry run: ${serviceId} has calls not in the cache`);
    // Loaded by then (the stages build evolutions with it); not needed to send the first requests.
    if (fingerprint) (await import("./evolution.ts")).withFingerprint(evolution, fingerprint);
    await run.writer.write(evolution);
    state.counts.ok++;
    ended = true;
    if (gapsOf(evolution.meta.models)) state.counts.incomplete++;
    if (redo) state.counts.redone++;
  } catch (error) {
    try {
      ended = onFailure(run as EngineRun<unknown>, serviceId, error);
    } catch (failure) {
      // Its quarantine line could not be written either (a full disk): the run stops, with one line.
      ended = onFailure(run as EngineRun<unknown>, serviceId, failure);
    }
  } finally {
    if (ended) settleRecord(state.calls, plan.calls, rt.recorder.takeAnswered(serviceId));
    run.progress.tick();
  }
}

/** The stop a failure calls for: a limit or budget ends the run as `limit`, a usage error or a full disk as `fatal`. */
function stopFor(error: unknown): Stop | undefined {
  if (isUsageStop(error)) return { status: "limit", reason: error.message };
  if (isSAError(error, "E_USAGE") || isSAError(error, "E_CONFIG") || isSAError(error, "E_WRITE")) return { status: "fatal", reason: error.message, error };
  // A disk that takes no more writes: every later service would be paid for and lost.
  const disk = diskError(error, "stopped before paying for more calls (the output keeps every service written)");
  return disk ? { status: "fatal", reason: disk.message, error: disk } : undefined;
}

/** Limits and usage errors stop the run; a dry-run miss or a failed service is counted (true). */
function onFailure(run: EngineRun<unknown>, serviceId: string, error: unknown): boolean {
  const { rt, state } = run;
  const stop = stopFor(error);
  if (stop) halt(run, stop);
  if (stop || isSAError(error, "E_INTERRUPTED") || state.stop) return false;
  state.counts.failed++;
  if (isSAError(error, "E_DRY_RUN_MISS")) return true;
  const stage = isSAError(error) ? String(error.details.stage ?? "pipeline") : "pipeline";
  state.failures.push({ serviceId, stage, reason: errorMessage(error) });
  rt.log.error(`service ${serviceId} failed at ${stage}: ${errorMessage(error)}`, { serviceId });
  if (rt.log.level >= 4 && error instanceof Error) rt.log.debug(error, { serviceId });
  rt.quarantine.add({ kind: "service", serviceId, stage, reason: errorMessage(error) });
  return true;
}
