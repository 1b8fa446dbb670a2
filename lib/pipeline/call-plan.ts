/** Calls by stage. */
export type StageCalls = Record<string, number>;

/**
 * The calls a run will make, as its records say: each record dispatched adds its own (`map` of an
 * evolution with 2 of 4 plateaus makes half the calls a full one does), so the progress totals
 * are what will be called, not a guess per service.
 */
export interface CallPlan {
  /** The calls of every record dispatched so far. */
  dispatched: StageCalls;
  /** The calls of every record that ended (written, or failed), made or not. */
  settled: StageCalls;
  /** The calls those records had answered when they ended. */
  answeredBySettled: StageCalls;
}

export const createCallPlan = (): CallPlan => ({ dispatched: {}, settled: {}, answeredBySettled: {} });

const add = (into: StageCalls, calls: StageCalls) => {
  for (const [stage, n] of Object.entries(calls)) into[stage] = (into[stage] ?? 0) + n;
};

/** A record dispatched, with the calls it will make. */
export function planRecord(plan: CallPlan, calls: StageCalls): void {
  add(plan.dispatched, calls);
}

/**
 * A record ended, done or failed: its calls count as settled, those never made too (a failed
 * service's later stages; a plateau with no features to map), so each stage ends at its total.
 */
export function settleRecord(plan: CallPlan, calls: StageCalls, answered: StageCalls): void {
  add(plan.settled, calls);
  add(plan.answeredBySettled, answered);
}

/**
 * A stage's calls done: those of the records that ended, and the answers of those in flight, at
 * most the calls they were planned to make.
 */
export function settledDone(plan: CallPlan, stage: string, answered: number): number {
  const settled = plan.settled[stage] ?? 0;
  const inFlight = answered - (plan.answeredBySettled[stage] ?? 0);
  return settled + Math.max(0, Math.min(inFlight, (plan.dispatched[stage] ?? 0) - settled));
}

/**
 * Each stage's total: the dispatched records' calls, and for the records not read yet (`unread`,
 * known from the input's line count) as many as the dispatched ones made on average, or
 * `perService` before any was.
 */
export function plannedTotal(plan: CallPlan, stage: string, options: { perService: number; dispatched: number; unread: number }): number {
  const planned = plan.dispatched[stage] ?? 0;
  const average = options.dispatched ? planned / options.dispatched : options.perService;
  return planned + Math.round(options.unread * average);
}
