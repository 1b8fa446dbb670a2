import { AsyncResource } from "node:async_hooks";
import type { Journal } from "./journal.ts";
import { addCall, appendCall, emptyTotals, type CallRecord, type RunRecord, type Totals } from "./ledger.ts";

export interface Recorder {
  record(call: CallRecord): void;
  totals(): Totals;
  byStage(): Record<string, Totals>;
  byModel(): Record<string, Totals>;
  /**
   * The answered calls (live or cached) of one service by stage, recorded since it was last taken;
   * taking them forgets them (only services in flight are held).
   */
  takeAnswered(serviceId: string): Record<string, number>;
  /**
   * A request on the wire: `abandon` records it if the run's record is written before it settles
   * (a second Ctrl-C, the grace period over). Returns the function to call when it settles: false
   * when it was abandoned, and so is recorded already.
   */
  open(abandon: () => void): () => boolean;
  /** Records every request still on the wire (a second Ctrl-C, the grace period over): they were sent. */
  abandonOpen(): void;
  /** A run record for the ledger, from what was recorded so far. */
  snapshot(base: Pick<RunRecord, "runId" | "task" | "startedAt" | "finishedAt" | "status" | "stopReason"> & Partial<RunRecord>): RunRecord;
}

/**
 * Sums a run's calls by stage and by model as they come; nothing per call stays in memory
 * (per-call detail goes to the journal and the --ledger-calls file only).
 */
export function createRecorder(options: { callsFile?: string; journal?: Journal } = {}): Recorder {
  const totals = emptyTotals();
  const stages: Record<string, Totals> = {};
  const models: Record<string, Totals> = {};
  const sorted = (r: Record<string, Totals>) => Object.fromEntries(Object.entries(r).sort(([a], [b]) => a.localeCompare(b)));
  const onTheWire = new Set<() => void>();
  const answered = new Map<string, Record<string, number>>();
  return {
    open(abandon) {
      // Recorded in the request's own context, whatever calls `abandonOpen` (a queue worker's journal names the job from it).
      const bound = AsyncResource.bind(abandon);
      onTheWire.add(bound);
      return () => onTheWire.delete(bound);
    },
    abandonOpen() {
      const left = [...onTheWire];
      onTheWire.clear();
      for (const abandon of left) abandon();
    },
    record(call) {
      addCall(totals, call);
      addCall((stages[call.stage] ??= emptyTotals()), call);
      addCall((models[call.model] ??= emptyTotals()), call);
      if (call.cache !== "failed") {
        const tally = answered.get(call.serviceId) ?? {};
        tally[call.stage] = (tally[call.stage] ?? 0) + 1;
        answered.set(call.serviceId, tally);
      }
      // The journal line goes first: it is what survives a kill.
      options.journal?.append(call);
      if (options.callsFile) appendCall(options.callsFile, call);
    },
    totals: () => ({ ...totals }),
    byStage: () => sorted(stages),
    byModel: () => sorted(models),
    takeAnswered(serviceId) {
      const tally = answered.get(serviceId) ?? {};
      answered.delete(serviceId);
      return tally;
    },
    snapshot(base) {
      return { ...base, totals: { ...totals }, byStage: sorted(stages), byModel: sorted(models) };
    },
  };
}
