import { SAError } from "../errors.ts";
import { fakeFromSchema } from "../fake-answer.ts";
import { validateAnswer, type CallResult } from "../call-spec.ts";
import { countPromptTokens } from "../tokens.ts";
import type { Attempt, CallContext } from "./context.ts";

/**
 * What the missed call would use and cost, as preflight counts it: its prompt with js-tiktoken, and
 * the answer size the run expects of its stage and model (the ledger's history, else `estimate`).
 */
async function missEstimate(ctx: Pick<CallContext, "forecast" | "pricing" | "priceFactor">, attempt: Attempt<unknown>) {
  const { spec, model, route } = attempt;
  const inputTokens = ctx.forecast.input(await countPromptTokens(spec.messages), model);
  const outputTokens = Math.min(ctx.forecast.output(spec.stage, model), route.settings.maxOutputTokens ?? Infinity);
  const price = ctx.pricing.cost(model, { inputTokens, cachedInputTokens: 0, outputTokens });
  return { inputTokens, outputTokens, costUsd: price === null ? null : price * (ctx.priceFactor ?? 1) };
}

/**
 * A dry run in place of `ask`: it counts the miss, then goes on with a stand-in answer
 * (schema-valid, as the synthetic provider makes them) so that the later stages' calls are
 * counted too. The engine never writes a service that had a miss.
 */
export async function dryRunMiss<T>(ctx: Pick<CallContext, "misses" | "runId" | "clock" | "forecast" | "pricing" | "priceFactor">, attempt: Attempt<T>): Promise<CallResult<T>> {
  const { spec, model } = attempt;
  // A features or mapping call is one of several for its service: its plateau (and catalogue) tell them apart.
  const { plateau, field } = spec.imported ?? {};
  const at = { ...(plateau && { plateau: plateau.name }), ...(field && { field }) };
  ctx.misses?.push({ stage: spec.stage, serviceId: spec.serviceId, ...at, model, ...(await missEstimate(ctx, attempt as Attempt<unknown>)) });
  const standIn = validateAnswer(spec, fakeFromSchema(attempt.jsonSchema, attempt.hash, spec.choices));
  // A stand-in is never written, but named like a live answer of this run.
  if (standIn.ok) return { value: standIn.value, model, cached: false, source: { runId: ctx.runId, at: new Date(ctx.clock.now()).toISOString() } };
  throw new SAError("E_DRY_RUN_MISS", `dry run: no cached answer for ${spec.stage} of ${spec.serviceId} with ${model}`, {
    details: { stage: spec.stage, serviceId: spec.serviceId, model },
  });
}
