import { validateAnswer, type CallResult } from "../call-spec.ts";
import { entrySource, type CacheEntry } from "../cache.ts";
import type { Attempt, CallContext } from "./context.ts";
import { recordRequest } from "./record.ts";

/**
 * Step 1: the answer cached under the attempt's key, when it still validates. Synchronous when
 * the cache read is (the fs driver): a cached rerun then spends no promise on the lookup.
 */
export function lookup<T>(ctx: CallContext, attempt: Attempt<T>): CallResult<T> | undefined | Promise<CallResult<T> | undefined> {
  // With the cache off (or not read), the key is never made: it is only needed to read or write.
  if (!ctx.cache.reads) return undefined;
  const hit = ctx.cache.lookup(attempt.key);
  return hit instanceof Promise ? hit.then((entry) => accept(ctx, attempt, entry)) : accept(ctx, attempt, hit);
}

function accept<T>(ctx: CallContext, attempt: Attempt<T>, hit: CacheEntry | undefined): CallResult<T> | undefined {
  const { spec, model, key } = attempt;
  if (!hit) return undefined;
  const checked = validateAnswer(spec, hit.answer);
  if (!checked.ok || checked.problems.length > 0) {
    ctx.log.warn(`cache: entry ${key} no longer validates; asking again`, { serviceId: spec.serviceId });
    return undefined;
  }
  // A repaired answer is stored repaired: what it lost is quarantined again, so --strict
  // gives a cached rerun the exit code of the live run.
  if (hit.dropped) ctx.quarantine.add({ kind: "mapping", serviceId: spec.serviceId, stage: spec.stage, model, ...hit.dropped });
  recordRequest(ctx, { spec, provider: attempt.route.provider, cache: "hit", usage: hit.usage, answeredBy: hit.model });
  return { value: checked.value, model, cached: true, source: entrySource(hit) };
}
