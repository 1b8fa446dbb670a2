import type { Redis } from "ioredis";
import { SAError } from "../errors.ts";
import type { UsageGuard } from "../usage-guard.ts";
import { currentJob } from "./journal.ts";

/** How often a worker reads the shared spend and stop marks of the runs it holds jobs for. */
const POLL_MS = 500;

export interface SharedBudget {
  /** The usage guard, with each call also checked against its run's spend over all workers. */
  wrap(guard: UsageGuard): UsageGuard;
  /** A call's cost was added to its run's counter, which now stands at `spent`. */
  onSpend(runId: string, spent: number): void;
  /** A job of the run starts: why the run is stopped (its budget spent by some worker), if it is; `leave` when the job ends. */
  enter(runId: string): Promise<{ reason: string | undefined; leave(): void }>;
  close(): void;
}

/**
 * A run's hard budget shared by every worker: the spend counter in Redis
 * (`sa:queue:<name>:spend:<runId>`) is checked before each call, and the first worker to reach
 * the budget marks the run stopped (`sa:queue:<name>:stop`), which every worker then honours.
 */
export function createSharedBudget(client: Redis, keys: { spend: (runId: string) => string; stop: string }): SharedBudget {
  const spent = new Map<string, number>();
  const stops = new Map<string, string>();
  const held = new Map<string, number>();
  const stop = (runId: string, reason: string) => {
    stops.set(runId, reason);
    void client.hsetnx(keys.stop, runId, reason).catch(() => {});
  };
  const poll = setInterval(async () => {
    for (const runId of held.keys()) {
      const [total, reason] = await Promise.all([client.get(keys.spend(runId)), client.hget(keys.stop, runId)]).catch(() => [null, null]);
      if (total !== null) spent.set(runId, Math.max(spent.get(runId) ?? 0, Number(total)));
      if (reason) stops.set(runId, reason);
    }
  }, POLL_MS);
  poll.unref?.();
  const check = (estimateUsd: number) => {
    const job = currentJob.getStore();
    if (!job) return;
    const reason = stops.get(job.runId);
    if (reason) throw new SAError("E_BUDGET", reason);
    const total = spent.get(job.runId) ?? 0;
    if (job.budgetUsd !== undefined && total + estimateUsd > job.budgetUsd) {
      const why = `budget $${job.budgetUsd} would be crossed (spent $${total.toFixed(4)} over all workers)`;
      stop(job.runId, why);
      throw new SAError("E_BUDGET", why);
    }
  };
  return {
    wrap: (guard) => ({
      reserve: (estimate) => (check(estimate.costUsd), guard.reserve(estimate)),
      settle: (reservation, actual) => guard.settle(reservation, actual),
      release: (reservation) => guard.release(reservation),
      // A job's budget is checked against every estimate here: calls are always priced.
      needsCost: true,
      needsEstimate: true,
      get stopReason() {
        return guard.stopReason;
      },
      get requests() {
        return guard.requests;
      },
    }),
    onSpend(runId, total) {
      spent.set(runId, Math.max(spent.get(runId) ?? 0, total));
    },
    async enter(runId) {
      held.set(runId, (held.get(runId) ?? 0) + 1);
      const leave = () => {
        const n = (held.get(runId) ?? 1) - 1;
        if (n <= 0) held.delete(runId);
        else held.set(runId, n);
      };
      const reason = stops.get(runId) ?? (await client.hget(keys.stop, runId).catch(() => null)) ?? undefined;
      if (reason) stops.set(runId, reason);
      return { reason, leave };
    },
    close: () => clearInterval(poll),
  };
}
