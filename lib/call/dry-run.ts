import { SAError } from "../errors.ts";
import { fakeFromSchema } from "../fake-answer.ts";
import { validateAnswer, type CallResult } from "../call-spec.ts";
import type { Attempt, CallContext } from "./context.ts";

/**
 * A dry run in place of `ask`: it counts the miss, then goes on with a stand-in answer
 * (schema-valid, as the synthetic provider makes them) so that the later stages' calls are
 * counted too. The engine never writes a service that had a miss.
 */
export function dryRunMiss<T>(ctx: Pick<CallContext, "misses" | "runId" | "clock">, attempt: Attempt<T>): CallResult<T> {
  const { spec, model } = attempt;
  ctx.misses?.push({ stage: spec.stage, serviceId: spec.serviceId, model });
  const standIn = validateAnswer(spec, fakeFromSchema(attempt.jsonSchema, attempt.hash, spec.choices));
  // A stand-in is never written, but named like a live answer of this run.
  if (standIn.ok) return { value: standIn.value, model, cached: false, source: { runId: ctx.runId, at: new Date(ctx.clock.now()).toISOString() } };
  throw new SAError("E_DRY_RUN_MISS", `dry run: no cached answer for ${spec.stage} of ${spec.serviceId} with ${model}`, {
    details: { stage: spec.stage, serviceId: spec.serviceId, model },
  });
}
