import type { Asked, AskFailed } from "./ask.ts";
import type { Attempt, CallContext } from "./context.ts";
import { noUsage, recordRequest } from "./record.ts";
import { isRouteFailure } from "./route-health.ts";

/** A route that is down, passed over for the next model: no request was made. */
export interface Skipped {
  skipped: string;
}

/**
 * Step 3 through the route's health: a route that is down is skipped while another model follows
 * (`hasNext`); the last model is always asked. What came back tells the route's health.
 */
export async function askRoute<T>(ctx: CallContext, attempt: Attempt<T>, hasNext: boolean): Promise<Asked<T> | AskFailed | Skipped> {
  const { route } = attempt;
  const pass = hasNext ? ctx.health.admit(route) : "ask";
  if (pass === "skip") {
    // In the ledger as a skipped call: no request, no retries, no tokens.
    recordRequest(ctx, { spec: attempt.spec, provider: route.provider, cache: "skipped", usage: noUsage, answeredBy: route.provider.model });
    return { skipped: `${attempt.model}: skipped, failing on recent calls` };
  }
  try {
    const asked = await ctx.ask(ctx, attempt);
    ctx.health.answered(route);
    return asked;
  } catch (error) {
    if (isRouteFailure(error)) ctx.health.failed(route, pass);
    else ctx.health.released(route, pass);
    throw error;
  }
}
