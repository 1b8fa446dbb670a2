import type { UsageGuard } from "../usage-guard.ts";
import { currentJob } from "./journal.ts";

/**
 * The usage guard of a process whose workers may lose a job (lib/queue/worker.ts): a call of a
 * lost job is refused before it is sent. The job is projected elsewhere now, and that copy
 * finds this one's answers in the cache: only the calls already in flight are paid twice.
 */
export function refuseLostJobs(guard: UsageGuard): UsageGuard {
  const refuse = () => {
    const lost = currentJob.getStore()?.lost;
    if (lost?.aborted) throw lost.reason;
  };
  return {
    reserve: (estimate) => (refuse(), guard.reserve(estimate)),
    admit: async (estimate, signal) => (refuse(), guard.admit(estimate, signal)),
    settle: (reservation, actual) => guard.settle(reservation, actual),
    release: (reservation) => guard.release(reservation),
    resend: () => guard.resend(),
    get needsCost() {
      return guard.needsCost;
    },
    get needsEstimate() {
      return guard.needsEstimate;
    },
    get stopReason() {
      return guard.stopReason;
    },
    get requests() {
      return guard.requests;
    },
  };
}
