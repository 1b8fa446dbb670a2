import type { Redis } from "ioredis";
import { SAError } from "../errors.ts";
import type { Reservation, UsageGuard } from "../usage-guard.ts";
import type { QueueKeys } from "./connection.ts";
import { currentJob, type SharedUsage } from "./journal.ts";

/** How often a worker reads the shared spend and stop marks of the runs it holds jobs for. */
const POLL_MS = 500;

export interface SharedBudget {
  /** The usage guard, with each call also checked against its run's budget and usage limits over all workers. */
  wrap(guard: UsageGuard): UsageGuard;
  /** A call's cost was added to its run's counter, which now stands at `spent`. */
  onSpend(runId: string, spent: number): void;
  /** One of this worker's calls (`call`) was added to its run's request and token counters, which now stand at `usage`. */
  onUsage(runId: string, usage: SharedUsage, call: SharedUsage): void;
  /** A job of the run starts: why the run is stopped (its budget spent by some worker), if it is; `leave` when the job ends. */
  enter(runId: string): Promise<{ reason: string | undefined; leave(): void }>;
  close(): void;
}

type Job = NonNullable<ReturnType<typeof currentJob.getStore>>;
const none: SharedUsage = { requests: 0, inputTokens: 0, outputTokens: 0 };
const most = (a: SharedUsage, b: SharedUsage): SharedUsage => ({ requests: Math.max(a.requests, b.requests), inputTokens: Math.max(a.inputTokens, b.inputTokens), outputTokens: Math.max(a.outputTokens, b.outputTokens) });
const plus = (a: SharedUsage, b: SharedUsage, sign = 1): SharedUsage => ({ requests: a.requests + sign * b.requests, inputTokens: a.inputTokens + sign * b.inputTokens, outputTokens: a.outputTokens + sign * b.outputTokens });
const stopError = (reason: string) => new SAError(reason.startsWith("budget") ? "E_BUDGET" : "E_LIMIT", reason);

/** Why a call of the job's run must not go: its budget or a usage limit, over every worker's answered calls. */
function overShared(job: Job, used: { spent: number; usage: SharedUsage }, estimate: Reservation): string | undefined {
  const { spent, usage } = used;
  if (job.budgetUsd !== undefined && spent + estimate.costUsd > job.budgetUsd) return `budget $${job.budgetUsd} would be crossed (spent $${spent.toFixed(4)} over all workers)`;
  const limits = job.limits ?? {};
  if (limits.maxRequests !== undefined && usage.requests + 1 > limits.maxRequests) return `max-requests ${limits.maxRequests} reached over all workers`;
  const input = usage.inputTokens + estimate.inputTokens;
  const output = usage.outputTokens + estimate.outputTokens;
  const tokens = [["max-input-tokens", limits.maxInputTokens, input, usage.inputTokens], ["max-output-tokens", limits.maxOutputTokens, output, usage.outputTokens], ["max-tokens", limits.maxTokens, input + output, usage.inputTokens + usage.outputTokens]] as const;
  const over = tokens.find(([, limit, total]) => limit !== undefined && total > limit);
  return over && `${over[0]} ${over[1]} would be exceeded (used ${over[3]} over all workers)`;
}

/** What this worker knows of each run's shared counters, kept fresh by polling while it holds the run's jobs. */
function createRunCounters(client: Redis, keys: Pick<QueueKeys, "spend" | "usage" | "stop">) {
  const spent = new Map<string, number>();
  const usage = new Map<string, SharedUsage>();
  const stops = new Map<string, string>();
  const held = new Map<string, number>();
  const poll = setInterval(async () => {
    for (const runId of held.keys()) {
      const [total, counters, reason] = await Promise.all([client.get(keys.spend(runId)), client.hgetall(keys.usage(runId)), client.hget(keys.stop, runId)]).catch(() => [null, null, null] as const);
      if (total !== null) spent.set(runId, Math.max(spent.get(runId) ?? 0, Number(total)));
      if (counters) usage.set(runId, most(usage.get(runId) ?? none, { requests: Number(counters.requests ?? 0), inputTokens: Number(counters.inputTokens ?? 0), outputTokens: Number(counters.outputTokens ?? 0) }));
      if (reason) stops.set(runId, reason);
    }
  }, POLL_MS);
  poll.unref?.();
  return {
    spent,
    usage,
    stops,
    held,
    stop(runId: string, reason: string) {
      stops.set(runId, reason);
      void client.hsetnx(keys.stop, runId, reason).catch(() => {});
    },
    async stoppedBecause(runId: string): Promise<string | undefined> {
      const reason = stops.get(runId) ?? (await client.hget(keys.stop, runId).catch(() => null)) ?? undefined;
      if (reason) stops.set(runId, reason);
      return reason;
    },
    close: () => clearInterval(poll),
  };
}

/**
 * This worker's calls the shared counters do not hold yet: in flight (by their estimates), or
 * answered and on their way to Redis. Counted too, so its own calls never overshoot together.
 */
function createUncounted() {
  const uncounted = new Map<string, SharedUsage>();
  const tokensOf = (r: { inputTokens: number; outputTokens: number }, requests = 0): SharedUsage => ({ requests, inputTokens: r.inputTokens, outputTokens: r.outputTokens });
  const add = (runId: string, change: SharedUsage, sign = 1) => uncounted.set(runId, plus(uncounted.get(runId) ?? none, change, sign));
  const ofJob = (change: SharedUsage, sign = 1) => {
    const job = currentJob.getStore();
    if (job) add(job.runId, change, sign);
  };
  return {
    of: (runId: string) => uncounted.get(runId) ?? none,
    reserved: (estimate: Reservation) => ofJob(tokensOf(estimate, 1)),
    settled(reservation: Reservation, actual: { inputTokens: number; outputTokens: number }) {
      ofJob(tokensOf(reservation), -1);
      ofJob(tokensOf(actual));
    },
    released: (reservation: Reservation) => ofJob(tokensOf(reservation, 1), -1),
    /** A retry of a call in flight: one request more until its call is counted (with its retries). */
    resent: () => ofJob({ requests: 1, inputTokens: 0, outputTokens: 0 }),
    counted: (runId: string, call: SharedUsage) => add(runId, call, -1),
  };
}

/** The guard, with each call also checked (`check`) against its run's shared counters, before and after it waits. */
function wrapGuard(guard: UsageGuard, check: (estimate: Reservation) => void, uncounted: ReturnType<typeof createUncounted>): UsageGuard {
  return {
    reserve(estimate) {
      check(estimate);
      const reserved = guard.reserve(estimate);
      uncounted.reserved(estimate);
      return reserved;
    },
    async admit(estimate, signal) {
      check(estimate);
      const reserved = await guard.admit(estimate, signal);
      try {
        check(estimate); // another worker may have reached a limit while this call waited
      } catch (error) {
        guard.release(reserved);
        throw error;
      }
      uncounted.reserved(estimate);
      return reserved;
    },
    settle(reservation, actual) {
      uncounted.settled(reservation, actual);
      guard.settle(reservation, actual);
    },
    release(reservation) {
      uncounted.released(reservation);
      guard.release(reservation);
    },
    resend() {
      try {
        check({ inputTokens: 0, outputTokens: 0, costUsd: 0 });
      } catch (error) {
        return error as SAError;
      }
      const refused = guard.resend();
      if (!refused) uncounted.resent();
      return refused;
    },
    // A job's budget and limits are checked against every estimate here: calls are always priced.
    needsCost: true,
    needsEstimate: true,
    get stopReason() {
      return guard.stopReason;
    },
    get requests() {
      return guard.requests;
    },
  };
}

/**
 * A run's hard budget and usage limits shared by every worker: the counters in Redis
 * (`sa:queue:<name>:spend:<runId>`, and the `usage:<runId>` hash of requests and tokens) are
 * checked before each call, and the first worker to reach one marks the run stopped
 * (`sa:queue:<name>:stop`), which every worker then honours.
 */
export function createSharedBudget(client: Redis, keys: Pick<QueueKeys, "spend" | "usage" | "stop">): SharedBudget {
  const runs = createRunCounters(client, keys);
  const uncounted = createUncounted();
  const check = (estimate: Reservation) => {
    const job = currentJob.getStore();
    if (!job) return;
    const reason = runs.stops.get(job.runId);
    if (reason) throw stopError(reason);
    const used = plus(runs.usage.get(job.runId) ?? none, uncounted.of(job.runId));
    const why = overShared(job, { spent: runs.spent.get(job.runId) ?? 0, usage: used }, estimate);
    if (!why) return;
    runs.stop(job.runId, why);
    throw stopError(why);
  };
  return {
    wrap: (guard) => wrapGuard(guard, check, uncounted),
    onSpend(runId, total) {
      runs.spent.set(runId, Math.max(runs.spent.get(runId) ?? 0, total));
    },
    onUsage(runId, counted, call) {
      runs.usage.set(runId, most(runs.usage.get(runId) ?? none, counted));
      uncounted.counted(runId, call);
    },
    async enter(runId) {
      const { held } = runs;
      held.set(runId, (held.get(runId) ?? 0) + 1);
      const leave = () => {
        const n = (held.get(runId) ?? 1) - 1;
        if (n <= 0) held.delete(runId);
        else held.set(runId, n);
      };
      return { reason: await runs.stoppedBecause(runId), leave };
    },
    close: () => runs.close(),
  };
}
