import { validateAnswer, type CallResult } from "../call-spec.ts";
import type { Attempt, CallContext } from "./context.ts";
import { recordRequest } from "./record.ts";

/** Step 1: the answer cached under the attempt's key, when it still validates. */
export async function lookup<T>(ctx: CallContext, attempt: Attempt<T>): Promise<CallResult<T> | undefined> {
  const { spec, model, key } = attempt;
  const hit = await ctx.cache.lookup(key);
  if (!hit) return undefined;
  const checked = validateAnswer(spec, hit.answer, { cached: true });
  if (!checked.ok || checked.problems.length > 0) {
    ctx.log.warn(`cache: entry ${key} no longer validates; asking again`, { serviceId: spec.serviceId });
    return undefined;
  }
  // A repaired answer is stored repaired: what it lost is quarantined again, so --strict
  // gives a cached rerun the exit code of the live run.
  if (hit.dropped) ctx.quarantine.add({ kind: "mapping", serviceId: spec.serviceId, stage: spec.stage, model, ...hit.dropped });
  recordRequest(ctx, { spec, provider: attempt.route.provider, cache: "hit", usage: hit.usage, answeredBy: hit.model });
  return { value: checked.value, model, cached: true };
}
