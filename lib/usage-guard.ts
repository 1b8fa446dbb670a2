import { SAError } from "./errors.ts";
import type { Log } from "./log.ts";
import { unlessAborted } from "./unless-aborted.ts";
import type { Config } from "./schema/config.ts";

export interface Reservation {
  inputTokens: number;
  outputTokens: number;
  costUsd: number;
}

export interface UsageGuard {
  /** Before a call: refuse it (E_LIMIT or E_BUDGET) when it would cross a limit. */
  reserve(estimate: Reservation): Reservation;
  /**
   * `reserve`, but while only the estimates of calls in flight stand in the way, wait for them to
   * settle (their answers usually cost less) and look again; refuse once the call would cross a
   * limit with nothing in flight, or on what is used alone. A stop of `signal` ends the wait with its reason.
   */
  admit(estimate: Reservation, signal: AbortSignal): Promise<Reservation>;
  /** After a call: swap the estimate for what the provider reported. */
  settle(reservation: Reservation, actual: { inputTokens: number; outputTokens: number; costUsd: number | null }): void;
  /** Release a reservation whose call never happened. */
  release(reservation: Reservation): void;
  /**
   * Before a call in flight sends a retry: one more request. Counted, or refused when it would
   * cross `max-requests` (the run then stops for that reason, as for a refused call).
   */
  resend(): SAError | undefined;
  /** Whether a call's estimated cost matters (a hard budget); otherwise it need not be priced. */
  readonly needsCost: boolean;
  /** Whether a call's estimate matters at all (a token limit or a hard budget); otherwise it need not be forecast. */
  readonly needsEstimate: boolean;
  /** Why dispatch stopped, once a limit was reached. */
  readonly stopReason: string | undefined;
  readonly requests: number;
}

/** Used so far, expected by the calls in flight, and the next call's estimate. */
type Parts = [used: number, inFlight: number, next: number];
const sum = (parts: Parts) => parts[0] + parts[1] + parts[2];
const soFar = ([used, inFlight, next]: Parts, verb: string, show: (n: number) => string) =>
  `${verb} ${show(used)}${inFlight > 0 ? `, ${show(inFlight)} more in flight` : ""}, next call about ${show(next)}`;

/** Why a call may not go, as an error code and a reason; `inFlight` are the estimates of calls in flight (zero: as if none were). */
function blocked(limits: Config["limits"], budget: Config["budget"], usage: { used: Usage; inFlight: Usage; next: Reservation }): [code: "E_LIMIT" | "E_BUDGET", reason: string] | undefined {
  const { used, inFlight, next } = usage;
  if (limits.maxRequests !== undefined && used.requests + 1 > limits.maxRequests) return ["E_LIMIT", `max-requests ${limits.maxRequests} reached`];
  // What was used, what the calls in flight are expected to use, and this call: the reason names all three.
  const input: Parts = [used.inputTokens, inFlight.inputTokens, next.inputTokens];
  const output: Parts = [used.outputTokens, inFlight.outputTokens, next.outputTokens];
  const total: Parts = [input[0] + output[0], input[1] + output[1], input[2] + output[2]];
  const tokenLimits = [["max-input-tokens", limits.maxInputTokens, input], ["max-output-tokens", limits.maxOutputTokens, output], ["max-tokens", limits.maxTokens, total]] as const;
  for (const [name, limit, parts] of tokenLimits) {
    if (limit !== undefined && sum(parts) > limit) return ["E_LIMIT", `${name} ${limit} would be exceeded (${soFar(parts, "used", String)})`];
  }
  const cost: Parts = [used.costUsd, inFlight.costUsd, next.costUsd];
  if (budget.hardUsd !== undefined && sum(cost) > budget.hardUsd) return ["E_BUDGET", `budget $${budget.hardUsd} would be crossed (${soFar(cost, "spent", (usd) => `$${usd.toFixed(4)}`)})`];
  return undefined;
}

interface Usage {
  requests: number;
  inputTokens: number;
  outputTokens: number;
  costUsd: number;
}

export interface UsageGuardOptions {
  /**
   * Whether `admit` waits for calls in flight. Batch mode says no: its calls in flight settle only
   * once the wave they wait for is sent, which waits for them. @default true
   */
  waitForCallsInFlight?: boolean;
  /**
   * Told once, when a limit is first reached (a call or a retry refused): every later call would
   * be refused too, so the run's calls still waiting for their turn (a 429's pause, a retry ahead
   * of them, the RPM/TPM buckets) need not wait to hear it.
   */
  onStop?: (error: SAError) => void;
}

const noUsage = (): Usage => ({ requests: 0, inputTokens: 0, outputTokens: 0, costUsd: 0 });

/**
 * What a run used and what its calls in flight are expected to use (`pending.requests`: how many
 * are in flight), and a promise that a call in flight settles, which waiting calls wait for.
 */
function createTally() {
  const used = noUsage();
  const pending = noUsage();
  // Made only when a call waits (usually none does): no promise per settled call otherwise.
  let settled: PromiseWithResolvers<void> | undefined;
  return {
    used,
    pending,
    settled: () => (settled ??= Promise.withResolvers<void>()).promise,
    commit(estimate: Reservation): Reservation {
      used.requests++;
      pending.requests++;
      pending.inputTokens += estimate.inputTokens;
      pending.outputTokens += estimate.outputTokens;
      pending.costUsd += estimate.costUsd;
      return estimate;
    },
    release(reservation: Reservation) {
      pending.requests--;
      pending.inputTokens -= reservation.inputTokens;
      pending.outputTokens -= reservation.outputTokens;
      pending.costUsd -= reservation.costUsd;
      settled?.resolve();
      settled = undefined;
    },
    add(actual: { inputTokens: number; outputTokens: number; costUsd: number | null }) {
      used.inputTokens += actual.inputTokens;
      used.outputTokens += actual.outputTokens;
      used.costUsd += actual.costUsd ?? 0;
    },
  };
}

/**
 * Per-run usage limits and the hard budget. Calls in flight are counted by their estimates, so
 * concurrent calls cannot jointly overshoot a limit that each would respect on its own; a call
 * kept out only by those estimates waits for them (`admit`) rather than stopping the run.
 */
export function createUsageGuard(limits: Config["limits"], budget: Config["budget"], log: Log, options: UsageGuardOptions = {}): UsageGuard {
  const tally = createTally();
  const { used, pending } = tally;
  let stopReason: string | undefined;
  let softWarned = false;
  const stopped = () => (stopReason ? new SAError(stopReason.startsWith("budget") ? "E_BUDGET" : "E_LIMIT", stopReason) : undefined);
  const stopWith = (reason: string) => {
    if (stopReason) return;
    stopReason = reason;
    options.onStop?.(stopped()!);
  };
  const refuse = ([code, reason]: [code: "E_LIMIT" | "E_BUDGET", reason: string]): never => {
    stopWith(reason);
    throw new SAError(code, stopReason!);
  };
  const throwIfStopped = () => {
    const error = stopped();
    if (error) throw error;
  };
  const why = (next: Reservation, inFlight = pending) => blocked(limits, budget, { used, inFlight, next });
  return {
    reserve(estimate) {
      throwIfStopped();
      const reason = why(estimate);
      return reason ? refuse(reason) : tally.commit(estimate);
    },
    async admit(estimate, signal) {
      for (;;) {
        throwIfStopped();
        signal.throwIfAborted();
        const reason = why(estimate);
        if (!reason) return tally.commit(estimate);
        const waitable = options.waitForCallsInFlight !== false && pending.requests > 0 && !why(estimate, noUsage());
        if (!waitable) return refuse(reason);
        await unlessAborted(tally.settled(), signal);
      }
    },
    settle(reservation, actual) {
      tally.release(reservation);
      tally.add(actual);
      if (budget.softUsd === undefined || softWarned || used.costUsd <= budget.softUsd) return;
      softWarned = true;
      log.warn(`budget: soft limit $${budget.softUsd} crossed (spent $${used.costUsd.toFixed(4)})`);
    },
    release: (reservation) => tally.release(reservation),
    resend() {
      if (!stopReason && limits.maxRequests !== undefined && used.requests + 1 > limits.maxRequests) stopWith(`max-requests ${limits.maxRequests} reached`);
      if (!stopReason) used.requests++;
      return stopped();
    },
    needsCost: budget.hardUsd !== undefined,
    needsEstimate: [limits.maxInputTokens, limits.maxOutputTokens, limits.maxTokens, budget.hardUsd].some((limit) => limit !== undefined),
    get stopReason() {
      return stopReason;
    },
    get requests() {
      return used.requests;
    },
  };
}

/** What a whole run is expected to use (preflight's estimate, a dry run's misses). */
export interface UsageEstimate {
  calls: number;
  inputTokens: number;
  outputTokens: number;
  costUsd: number | null;
}

/** The usage limits and the hard budget an estimate is over: a run would stop on each (exit 3). */
export function overLimits(estimate: UsageEstimate, limits: Config["limits"], budget: Config["budget"]): string[] {
  const { calls, inputTokens, outputTokens, costUsd } = estimate;
  const checks = [
    ["max-requests", limits.maxRequests, calls, "calls"],
    ["max-input-tokens", limits.maxInputTokens, inputTokens, "input tokens"],
    ["max-output-tokens", limits.maxOutputTokens, outputTokens, "output tokens"],
    ["max-tokens", limits.maxTokens, inputTokens + outputTokens, "tokens"],
  ] as const;
  const over = checks.filter(([, limit, n]) => limit !== undefined && n > limit).map(([name, limit, n, what]) => `the estimate of ${n} ${what} is over ${name} ${limit} (the run would stop there, exit 3)`);
  if (budget.hardUsd !== undefined && costUsd !== null && costUsd > budget.hardUsd) over.unshift(`the estimate $${costUsd.toFixed(4)} is over the budget $${budget.hardUsd}`);
  return over;
}
