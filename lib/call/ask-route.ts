import { SAError, isSAError } from "../errors.ts";
import type { Asked, AskFailed } from "./ask.ts";
import type { Attempt, CallContext } from "./context.ts";
import { noUsage, recordRequest } from "./record.ts";
import { isKeyRefused, isRouteFailure, type Pass } from "./route-health.ts";

/** A route that is down, passed over for the next model: no request was made. */
export interface Skipped {
  skipped: string;
  /** Puts the skip in the ledger: once the next model is asked (a stop before that makes it no skip). */
  record(): void;
}

/** How an attempt with a next model was let through: as an ordinary call or as the probe. */
interface Gate {
  pass: Pass;
}
const gates = new WeakMap<object, Gate>();

/**
 * Checked again when the first request leaves the limiter's queue: a call that queued while the
 * route went down is skipped then (it made no request), and after the cool-down it may be the
 * probe. A re-ask follows an answer, and is sent.
 */
export function checkRoute(ctx: CallContext, attempt: Attempt<unknown>): void {
  const gate = gates.get(attempt);
  gates.delete(attempt);
  if (gate?.pass !== "ask") return;
  gate.pass = ctx.health.admit(attempt.route);
  if (gate.pass === "skip") throw new SAError("E_PROVIDER", `${attempt.model}: skipped, down`, { details: { skipped: true } });
}

function skip<T>(ctx: CallContext, attempt: Attempt<T>): Skipped {
  const { route } = attempt;
  // In the ledger as a skipped call: no request, no retries, no tokens.
  const record = () => void recordRequest(ctx, { spec: attempt.spec, provider: route.provider, cache: "skipped", usage: noUsage, answeredBy: route.provider.model });
  return { skipped: `${attempt.model}: skipped, failing on recent calls`, record };
}

/**
 * A key the endpoint refused fails each of its calls the same way: while a next model follows,
 * the route is shut for the run (one warning) and the call falls back, as after a provider
 * failure. On the chain's last model a 401 or 403 stays a usage error and stops the run.
 */
function keyRefused<T>(ctx: CallContext, attempt: Attempt<T>, error: SAError): SAError {
  ctx.health.keyRefused(attempt.route, error.message);
  return new SAError("E_PROVIDER", error.message, { cause: error, details: { ...error.details, announced: true } });
}

/**
 * Step 3 through the route's health: a route that is down is skipped while another model follows
 * (`hasNext`). The last model is asked as if there were no health at all: a stage without a
 * fallback behaves, and logs, exactly as before.
 */
export async function askRoute<T>(ctx: CallContext, attempt: Attempt<T>, hasNext: boolean): Promise<Asked<T> | AskFailed | Skipped> {
  if (!hasNext) return ctx.ask(ctx, attempt);
  const gate: Gate = { pass: ctx.health.admit(attempt.route) };
  if (gate.pass === "skip") return skip(ctx, attempt);
  gates.set(attempt, gate);
  try {
    const asked = await ctx.ask(ctx, attempt);
    ctx.health.answered(attempt.route);
    return asked;
  } catch (error) {
    if (isSAError(error, "E_PROVIDER") && error.details.skipped) return skip(ctx, attempt);
    if (isKeyRefused(error)) throw keyRefused(ctx, attempt, error as SAError);
    if (isRouteFailure(error)) ctx.health.failed(attempt.route, gate.pass);
    else ctx.health.released(attempt.route, gate.pass);
    throw error;
  }
}
