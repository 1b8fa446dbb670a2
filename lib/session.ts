import { SAError, isSAError, isUsageStop } from "./errors.ts";
import { inCallScope, inCallScopeNow } from "./call-scope.ts";
import { noTracing } from "./tracing.ts";
import { createCallTraces } from "./call-trace.ts";
import type { CallResult, CallSpec } from "./call-spec.ts";
import { ask } from "./call/ask.ts";
import { prepareAttempt } from "./call/attempt.ts";
import { createResponseFormats } from "./response-format.ts";
import type { Attempt, CallContext, Route, SessionOptions } from "./call/context.ts";
import { lookup } from "./call/lookup.ts";
import { persist } from "./call/persist.ts";
import { reuseImported } from "./call/reuse-imported.ts";
import { askRoute, type Skipped } from "./call/ask-route.ts";
import { createRouteHealth, defaultCircuitBreaker } from "./call/route-health.ts";

export type { Stage } from "./call-spec.ts";
export type { Route } from "./call/context.ts";

export interface Session {
  call<T>(spec: CallSpec<T>): Promise<CallResult<T>>;
}

/**
 * The one call path every task uses. Each model of the stage's chain is tried in turn with the
 * same steps (lib/call/): lookup → reuseImported → ask (live, with one re-ask) → persist.
 */
export function createSession(options: SessionOptions): Session {
  const health = createRouteHealth({ ...(options.circuitBreaker ?? defaultCircuitBreaker), clock: options.clock, log: options.log });
  const ctx: CallContext = { ...options, traces: createCallTraces(options.tracing ?? noTracing), formats: createResponseFormats(), ask: options.ask ?? ask, health };
  return {
    call<T>(spec: CallSpec<T>): Promise<CallResult<T>> {
      const span = ctx.traces.start(spec, ctx.routes[spec.stage][0]!.provider);
      const scope = { serviceId: spec.serviceId, stage: spec.stage };
      // Lines written below the call name it (lib/call-scope.ts). A store read at once (the fs
      // driver) is looked up in the plain synchronous scope: the async one, which a cached rerun
      // would pay for on each of its calls, is entered only for what goes on past the lookup.
      if (!ctx.cache.readsAtOnce) return inCallScope(scope, () => finish(span, callModels(ctx, spec, firstStep(ctx, spec))));
      const first = inCallScopeNow(scope, () => firstStep(ctx, spec));
      // A hit the cache gave without waiting is the answer at once: no promise per layer below.
      // Anything else goes the whole way, with that first step already taken.
      if ("found" in first && first.found && !(first.found instanceof Promise)) {
        span.end(undefined, first.found.value);
        return Promise.resolve(first.found);
      }
      return inCallScope(scope, () => finish(span, callModels(ctx, spec, first)));
    },
  };
}

/** The call's span ended with its result or error. */
function finish<T>(span: ReturnType<CallContext["traces"]["start"]>, result: Promise<CallResult<T>>): Promise<CallResult<T>> {
  return result.then(
    (value) => {
      span.end(undefined, value.value);
      return value;
    },
    (error) => {
      span.end(error);
      throw error;
    },
  );
}

/** The first model's attempt and its cache lookup (a value, or a promise), or what they threw. */
type FirstStep<T> = { attempt: Attempt<T>; found: ReturnType<typeof lookup<T>> } | { error: unknown };

function firstStep<T>(ctx: CallContext, spec: CallSpec<T>): FirstStep<T> {
  try {
    const attempt = prepareAttempt(ctx, spec, ctx.routes[spec.stage][0]!);
    return { attempt, found: lookup(ctx, attempt) };
  } catch (error) {
    return { error };
  }
}

/** One model's try: its answer, why it failed (an invalid answer after the re-ask), or why it was skipped (down). */
async function callModel<T>(ctx: CallContext, spec: CallSpec<T>, route: Route, first?: FirstStep<T>): Promise<CallResult<T> | { failed: string } | Skipped> {
  if (first && "error" in first) throw first.error;
  const attempt = first?.attempt ?? prepareAttempt(ctx, spec, route);
  const found = (await (first ? first.found : lookup(ctx, attempt))) ?? (await reuseImported(ctx, attempt));
  if (found) return found;
  // The stand-in answers load only for a dry run.
  if (ctx.dryRun) return (await import("./call/dry-run.ts")).dryRunMiss(ctx, attempt);
  const asked = await askRoute(ctx, attempt, route !== ctx.routes[spec.stage].at(-1));
  return "failed" in asked || "skipped" in asked ? asked : persist(ctx, attempt, asked);
}

/**
 * The fallbacks' cache entries, looked up once the stage's model missed and before it is asked:
 * an answer a fallback gave on an earlier run (the stage's model failing then) is that call's
 * answer, never paid for again. The steps taken, for `callModels` to go on from.
 */
async function fallbackHits<T>(ctx: CallContext, spec: CallSpec<T>, first: FirstStep<T>): Promise<{ found: CallResult<T> } | { steps: FirstStep<T>[] }> {
  const routes = ctx.routes[spec.stage];
  const steps = [first];
  if (routes.length < 2 || !ctx.cache.reads || "error" in first || (await first.found)) return { steps };
  for (const route of routes.slice(1)) {
    const attempt = prepareAttempt(ctx, spec, route);
    const found = await lookup(ctx, attempt);
    if (found) return { found };
    steps.push({ attempt, found: undefined });
  }
  return { steps };
}

/** Errors of a stopped run (a signal, a limit, the budget): the call went to no model. */
const isRunStop = (error: unknown) => isSAError(error, "E_INTERRUPTED") || isUsageStop(error);

/** The primary model (its first step already taken), then each fallback: provider failures and invalid answers move on. */
async function callModels<T>(ctx: CallContext, spec: CallSpec<T>, first: FirstStep<T>): Promise<CallResult<T>> {
  const reasons: string[] = [];
  let providerFailed = false;
  let lastFailure: SAError | undefined;
  const routes = ctx.routes[spec.stage];
  const cached = await fallbackHits(ctx, spec, first);
  if ("found" in cached) return cached.found;
  // Models passed over, recorded once a next one is asked: a stop first (Ctrl-C, a limit) asked none.
  const skips: Skipped[] = [];
  const recordSkips = () => skips.splice(0).forEach((s) => s.record());
  for (const [i, route] of routes.entries()) {
    let announced = false;
    try {
      const result = await callModel(ctx, spec, route, cached.steps[i]);
      // A skipped model is down: it counts as a provider failure, and its skip was logged when it went down.
      if ("skipped" in result) {
        providerFailed = true;
        reasons.push(result.skipped);
        skips.push(result);
        continue;
      }
      recordSkips();
      if (!("failed" in result)) return result;
      reasons.push(result.failed);
    } catch (error) {
      if (!isRunStop(error)) recordSkips();
      // Limits, budgets, dry-run misses and usage errors stop here; provider failures fall back.
      if (!isSAError(error, "E_PROVIDER")) throw error;
      providerFailed = true;
      lastFailure = error;
      announced = error.details.announced === true;
      reasons.push(error.message);
    }
    // A refused key was said once for the run (lib/call/route-health.ts), not once per call.
    if (route !== routes.at(-1) && !announced) ctx.log.warn(`${spec.stage}: ${reasons.at(-1)}; trying the next model`, { serviceId: spec.serviceId });
  }
  const details = { stage: spec.stage, serviceId: spec.serviceId };
  // Every model answered, and every answer stayed invalid (each is quarantined): the pipeline goes on without it (lib/pipeline/gaps.ts).
  if (!providerFailed) throw new SAError("E_VALIDATION", `${spec.stage} answer still invalid: ${reasons.join(" | ")}`, { details });
  // The last provider error is kept as the cause: its status and request id say what came back.
  const { status, requestId } = lastFailure?.details ?? {};
  throw new SAError("E_CALL_FAILED", `${spec.stage} failed: ${reasons.join(" | ")}`, { cause: lastFailure, details: { ...details, status, requestId } });
}
