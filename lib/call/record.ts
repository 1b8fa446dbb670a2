import type { Provider, Usage } from "../../providers/types.ts";
import type { CallSpec } from "../call-spec.ts";
import { modelIdOf } from "./attempt.ts";
import type { CallContext } from "./context.ts";

export const noUsage: Usage = { inputTokens: 0, cachedInputTokens: 0, outputTokens: 0, reasoningTokens: 0 };

/** One request of a call, as the ledger and the call's span see it. */
export interface RequestRecord {
  spec: Pick<CallSpec<unknown>, "task" | "stage" | "serviceId">;
  provider: Provider;
  /** `hit`: from the cache (or imported); `failed`: no answer came back; `skipped`: not asked, its route down. */
  cache: "hit" | "live" | "failed" | "skipped";
  usage: Usage;
  /** The model that answered, as the provider (or the cache entry) named it. */
  answeredBy: string;
  /** @default 0 */
  latencyMs?: number;
  /** @default 0 */
  retries?: number;
  responseId?: string;
  /** Answered through a Batch API: priced at this share of the live price. */
  batchPriceFactor?: number;
}

/** Records one request in the ledger and on its call's span; returns its price (null: unknown). */
export function recordRequest(ctx: Pick<CallContext, "pricing" | "traces" | "recorder">, request: RequestRecord): number | null {
  const { spec, provider, cache, usage, answeredBy, responseId } = request;
  const retries = request.retries ?? 0;
  const model = modelIdOf(provider);
  const livePrice = ctx.pricing.cost(model, usage);
  const factor = request.batchPriceFactor;
  const price = livePrice === null || factor === undefined ? livePrice : livePrice * factor;
  ctx.traces.record(spec, { provider: provider.name, model, cache, usage, retries, answeredBy, responseId, costUsd: cache === "live" ? (price ?? 0) : 0 });
  ctx.recorder.record({
    task: spec.task,
    stage: spec.stage,
    serviceId: spec.serviceId,
    provider: provider.name,
    model,
    answeredBy,
    cache,
    ...usage,
    latencyMs: request.latencyMs ?? 0,
    retries,
    costUsd: cache === "live" ? price : 0,
    savedCostUsd: cache === "hit" ? price : null,
    ...(factor === undefined ? {} : { mode: "batch" as const, savedByBatchUsd: livePrice === null || price === null ? null : livePrice - price }),
  });
  return price;
}
