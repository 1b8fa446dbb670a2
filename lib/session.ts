import { SAError, isSAError } from "./errors.ts";
import { noTracing } from "./tracing.ts";
import { createCallTraces } from "./call-trace.ts";
import type { CallResult, CallSpec } from "./call-spec.ts";
import { ask } from "./call/ask.ts";
import { prepareAttempt } from "./call/attempt.ts";
import { createResponseFormats } from "./response-format.ts";
import type { CallContext, Route, SessionOptions } from "./call/context.ts";
import { lookup } from "./call/lookup.ts";
import { persist } from "./call/persist.ts";
import { reuseImported } from "./call/reuse-imported.ts";

export type { CallResult, CallSpec, CheckResult, Stage } from "./call-spec.ts";
export type { Route, SessionOptions } from "./call/context.ts";

export interface Session {
  call<T>(spec: CallSpec<T>): Promise<CallResult<T>>;
}

/**
 * The one call path every task uses. Each model of the stage's chain is tried in turn with the
 * same steps (lib/call/): lookup → reuseImported → ask (live, with one re-ask) → persist.
 */
export function createSession(options: SessionOptions): Session {
  const ctx: CallContext = { ...options, traces: createCallTraces(options.tracing ?? noTracing), formats: createResponseFormats(), ask: options.ask ?? ask };
  return {
    async call<T>(spec: CallSpec<T>): Promise<CallResult<T>> {
      const span = ctx.traces.start(spec, ctx.routes[spec.stage][0]!.provider);
      try {
        const result = await callModels(ctx, spec);
        span.end(undefined, result.value);
        return result;
      } catch (error) {
        span.end(error);
        throw error;
      }
    },
  };
}

/** One model's try: its answer, or why it failed (an invalid answer after the re-ask). */
async function callModel<T>(ctx: CallContext, spec: CallSpec<T>, route: Route): Promise<CallResult<T> | { failed: string }> {
  const attempt = prepareAttempt(ctx, spec, route);
  const found = (await lookup(ctx, attempt)) ?? (await reuseImported(ctx, attempt));
  if (found) return found;
  // The stand-in answers load only for a dry run.
  if (ctx.dryRun) return (await import("./call/dry-run.ts")).dryRunMiss(ctx, attempt);
  const asked = await ctx.ask(ctx, attempt);
  return "failed" in asked ? asked : persist(ctx, attempt, asked);
}

/** The primary model, then each fallback: provider failures and invalid answers move on. */
async function callModels<T>(ctx: CallContext, spec: CallSpec<T>): Promise<CallResult<T>> {
  const reasons: string[] = [];
  const routes = ctx.routes[spec.stage];
  for (const route of routes) {
    try {
      const result = await callModel(ctx, spec, route);
      if (!("failed" in result)) return result;
      reasons.push(result.failed);
    } catch (error) {
      // Limits, budgets, dry-run misses and usage errors stop here; provider failures fall back.
      if (!isSAError(error, "E_PROVIDER")) throw error;
      reasons.push(error.message);
    }
    if (route !== routes.at(-1)) ctx.log.warn(`${spec.stage}: ${reasons.at(-1)}; trying the next model`, { serviceId: spec.serviceId });
  }
  throw new SAError("E_CALL_FAILED", `${spec.stage} failed: ${reasons.join(" | ")}`, { details: { stage: spec.stage, serviceId: spec.serviceId } });
}
