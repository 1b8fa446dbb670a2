import type { CallSettings, JsonSchema, Provider } from "../../providers/types.ts";
import type { CallCache } from "../cache.ts";
import type { createCallTraces } from "../call-trace.ts";
import type { CallSpec, Stage } from "../call-spec.ts";
import type { Clock } from "../clock.ts";
import type { Limiter } from "../limits.ts";
import type { Log } from "../log.ts";
import type { Pricing } from "../pricing.ts";
import type { Quarantine } from "../quarantine.ts";
import type { Recorder } from "../recorder.ts";
import type { Tracing } from "../tracing.ts";
import type { UsageGuard } from "../usage-guard.ts";
import type { AskStep } from "./ask.ts";
import type { Misses } from "../pipeline/engine-types.ts";
import type { TokenForecast } from "../token-forecast.ts";
import type { createResponseFormats } from "../response-format.ts";
import type { CircuitBreakerSettings, RouteHealth } from "./route-health.ts";

/** One model a stage may call, with the settings it is sent. */
export interface Route {
  provider: Provider;
  settings: CallSettings;
}

export interface SessionOptions {
  task: string;
  runId: string;
  /**
   * The run a live answer is made for, stored in its cache entry and named by the lines built
   * from it: a queue worker answers for its job's run. @default runId
   */
  answerRunId?: () => string | undefined;
  /** The cache namespace: the first part of every cache key (config key `context`). */
  namespace: string;
  /** Per stage: its own model first, then the configured fallbacks. */
  routes: Record<Stage, Route[]>;
  cache: CallCache;
  limiter: Limiter;
  guard: UsageGuard;
  recorder: Recorder;
  pricing: Pricing;
  quarantine: Quarantine;
  log: Log;
  clock: Clock;
  /** Expected output and billed prompt tokens, for limit and budget checks before a call; learns from answers. */
  forecast: TokenForecast;
  /** Exact token counts (js-tiktoken) are only worth loading when a token limit or budget needs them. */
  exactTokens: boolean;
  transcripts: boolean;
  /** Try answers imported from the Python tool's cache when the prompt-exact key misses. */
  reuseImported?: boolean;
  /** The Python tool's `context_id` whose imported cache answers may be reused; another context's are not. */
  importedContext?: string;
  /** No network: a miss is recorded in `misses` and throws E_DRY_RUN_MISS. */
  dryRun: boolean;
  misses?: Misses;
  /** Spans for calls, when tracing is on. @default noTracing */
  tracing?: Tracing;
  /** Estimates before a call are priced at this share of the live price (batch mode). @default 1 */
  priceFactor?: number;
  /** How an answer that is not cached is got. @default the live call with its re-ask (lib/call/ask.ts) */
  ask?: AskStep;
  /** When a model that keeps failing is skipped for the next one (lib/call/route-health.ts). @default 3 failures, 30 s */
  circuitBreaker?: CircuitBreakerSettings;
}

/** What every step of a call reads: the session's options and what the session built once. */
export interface CallContext extends SessionOptions {
  traces: ReturnType<typeof createCallTraces>;
  /** A schema's JSON Schema and digest, once per schema; per-call pins on a copy. */
  formats: ReturnType<typeof createResponseFormats>;
  ask: AskStep;
  /** Which routes are down, for the whole run: their calls go to the next model. */
  health: RouteHealth;
}

/** One model's try at a call: the call, the route, and what its cache key was made of. */
export interface Attempt<T> {
  spec: CallSpec<T>;
  route: Route;
  /** `provider:model`, as results and the ledger name it. */
  model: string;
  /** The answer's JSON Schema (with this call's pins), sent to the provider; built on first use. */
  readonly jsonSchema: JsonSchema;
  /** The hash of everything sent; the key adds the namespace, stage and service. Made on first use. */
  readonly hash: string;
  readonly key: string;
}
