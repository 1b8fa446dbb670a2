import { entrySource, type CacheEntry } from "../cache.ts";
import { validateAnswer, type CallResult } from "../call-spec.ts";
import type { Attempt, CallContext } from "./context.ts";
import { noUsage, recordRequest } from "./record.ts";

/**
 * Step 2 (with --reuse-imported): an answer imported from the Python tool's cache that validates,
 * stored under the attempt's key so the next run finds it in step 1.
 */
export async function reuseImported<T>(ctx: CallContext, attempt: Attempt<T>): Promise<CallResult<T> | undefined> {
  if (!ctx.reuseImported) return undefined;
  // The imported namespace's code loads only for a run that asks for it.
  const { findImportedAnswer } = await import("../cache-imported.ts");
  const { spec, route, model } = attempt;
  const check = spec.importedCheck ? { ...spec, check: spec.importedCheck } : spec;
  const reused = await findImportedAnswer(ctx.cache.storage, { stage: spec.stage, serviceId: spec.serviceId, context: ctx.importedContext, ...spec.imported }, (answer) => {
    const checked = validateAnswer(check, answer);
    return checked.ok && checked.problems.length === 0 ? checked.value : undefined;
  });
  if (reused === undefined) return undefined;
  recordRequest(ctx, { spec, provider: route.provider, cache: "hit", usage: noUsage, answeredBy: "imported" });
  const entry: Omit<CacheEntry, "v" | "expiresAt"> = {
    answer: reused as {} | null,
    usage: noUsage,
    model: "imported",
    provider: route.provider.name,
    createdAt: new Date(ctx.clock.now()).toISOString(),
    request: { stage: spec.stage, serviceId: spec.serviceId, imported: true },
  };
  await ctx.cache.store(attempt.key, entry);
  return { value: reused, model, cached: true, source: entrySource(entry) };
}
