import { randomUUID } from "node:crypto";
import type { Storage } from "unstorage";
import { createProvider, parseModelId } from "../providers/index.ts";
import type { Provider } from "../providers/types.ts";
import { createCacheStorage, createCallCache, type CallCache } from "./cache.ts";
import { systemClock, type Clock } from "./clock.ts";
import { loadDataset, type Dataset, type LoadDatasetOptions } from "./data.ts";
import { createLimiter, sharedBucketsClient, type Limiter } from "./limits.ts";
import type { Log } from "./log.ts";
import { buildDomainText } from "./prompts/build.ts";
import { descriptionsResponse, featuresResponse } from "./schema/responses.ts";
import { assertBudgetPriced, createPricing, type Pricing } from "./pricing.ts";
import { createQuarantine, type Quarantine } from "./quarantine.ts";
import { createRecorder, type Recorder } from "./recorder.ts";
import { callsPath } from "./ledger.ts";
import { createJournal, journalPath, type Journal } from "./journal.ts";
import type { Config } from "./schema/config.ts";
import { createSession, type Route, type Session } from "./session.ts";
import { allModels, callSettings, stageChain, stages } from "./model-settings.ts";
import type { Stage } from "./call-spec.ts";
import { createUsageGuard, type UsageGuard } from "./usage-guard.ts";
import type { PipelineContext } from "./pipeline/context.ts";
import { noTracing, type Tracing } from "./tracing.ts";
import { setLogField } from "./log.ts";

export interface RuntimeOptions {
  task: string;
  config: Config;
  log: Log;
  env?: Record<string, string | undefined>;
  clock?: Clock;
  /** Tests hand in their own fetch; production uses the global one. */
  fetch?: typeof globalThis.fetch;
  dryRun?: boolean;
  reuseImported?: boolean;
  ledgerCalls?: boolean;
  dataset?: LoadDatasetOptions;
  /** Spans for the run, its services and calls. @default noTracing */
  tracing?: Tracing;
}

/** Everything a task needs to reach a model, built once from config. */
export interface Runtime {
  runId: string;
  startedAt: string;
  config: Config;
  log: Log;
  clock: Clock;
  data: Dataset;
  storage: Storage;
  cache: CallCache;
  limiter: Limiter;
  guard: UsageGuard;
  recorder: Recorder;
  /** Every call as it is recorded, so the run's totals survive a kill (folded into the ledger after). */
  journal: Journal;
  pricing: Pricing;
  quarantine: Quarantine;
  /** One per model the run may call (every stage's model and the fallbacks). */
  providers: Provider[];
  /** Per stage, the models tried in order with the settings each is sent. */
  routes: Record<Stage, Route[]>;
  session: Session;
  /** Calls a dry run could not serve from the cache. */
  misses: Array<{ stage: string; serviceId: string; model: string }>;
  pipeline: PipelineContext;
  tracing: Tracing;
  /** Flushes spans and closes the cache store. */
  close(): Promise<void>;
}

/** Each stage's chain of models, with the settings each model is sent; says once what is left out. */
function stageRoutes(config: Config, providers: Provider[], log: Log): Record<Stage, Route[]> {
  const byId = new Map(providers.map((p) => [`${p.name}:${p.model}`, p]));
  const routeOf = new Map<string, Route>();
  for (const [id, provider] of byId) {
    const { settings, dropped } = callSettings(config, id);
    for (const what of dropped) log.warn(`model settings: not sending ${what}`);
    routeOf.set(id, { provider, settings });
  }
  return Object.fromEntries(stages.map((stage) => [stage, stageChain(config, stage).map((id) => routeOf.get(id)!)])) as Record<Stage, Route[]>;
}

export async function createRuntime(options: RuntimeOptions): Promise<Runtime> {
  const { config, log } = options;
  const clock = options.clock ?? systemClock;
  const env = options.env ?? process.env;
  const runId = `${new Date(clock.now()).toISOString().replace(/[-:]/g, "").replace(/\..*/, "")}-${randomUUID().slice(0, 8)}`;
  setLogField("runId", runId);
  const tracing = options.tracing ?? noTracing;
  const modelIds = allModels(config);
  modelIds.forEach(parseModelId);

  assertBudgetPriced(config);
  const data = await loadDataset(config, options.dataset);
  const storage = await createCacheStorage(config.cache as { driver: string; ttl?: number });
  const cache = createCallCache(storage, { mode: config.cacheMode, ttl: config.cache.ttl, log, now: () => new Date(clock.now()) });
  const shared = config.rateLimit.store === "redis" && (config.rpm || config.tpm) ? { client: await sharedBucketsClient(config.rateLimit.url, log), key: config.rateLimit.key } : undefined;
  const limiter = createLimiter({ concurrency: config.concurrency, rpm: config.rpm, tpm: config.tpm, clock, shared });
  const guard = createUsageGuard(config.limits, config.budget, log);
  const startedAt = new Date(clock.now()).toISOString();
  const journal = createJournal(journalPath(config.ledger.path, runId), { runId, task: options.task, startedAt, model: config.model });
  const recorder = createRecorder({ callsFile: options.ledgerCalls ? callsPath(config.ledger.path, runId) : undefined, journal });
  const pricing = createPricing(config.pricing, log);
  const quarantine = createQuarantine(config.quarantineDir, runId, () => new Date(clock.now()));
  const providers = await Promise.all(
    modelIds.map((id) =>
      createProvider(id, {
        env,
        fetch: options.fetch,
        http: { ...config.retry, requestTimeout: config.requestTimeout },
        onRetry: (info) => {
          log.debug(`retry ${info.attempt}/${config.retry.attempts - 1} after ${info.reason}, waiting ${info.delayMs} ms${info.requestId ? ` (request id ${info.requestId})` : ""}`);
        },
        onResponseHeaders: (headers, status) => limiter.observe(headers, status),
      }),
    ),
  );
  const routes = stageRoutes(config, providers, log);
  const misses: Runtime["misses"] = [];
  const session = createSession({
    misses,
    task: options.task,
    runId,
    namespace: config.context,
    routes,
    cache,
    limiter,
    guard,
    recorder,
    pricing,
    quarantine,
    log,
    clock,
    expectedOutput: config.estimate,
    exactTokens: Boolean(config.tpm || config.limits.maxTokens || config.limits.maxInputTokens || config.budget.hardUsd),
    transcripts: config.transcripts,
    tracing,
    dryRun: options.dryRun ?? false,
    reuseImported: options.reuseImported ?? false,
  });
  const pipeline: PipelineContext = {
    task: options.task,
    session,
    data,
    domain: buildDomainText(data),
    featuresPerRole: config.featuresPerRole,
    enumLimit: config.enumLimit,
    rationale: config.rationale,
    log,
    schemas: {
      descriptions: data.plateaus.length ? descriptionsResponse(data.plateaus.map((p) => p.name)) : undefined,
      features: data.roles.length ? featuresResponse(data.roles.map((r) => r.role_id)) : undefined,
    },
  };
  return {
    runId,
    startedAt,
    config,
    log,
    clock,
    data,
    storage,
    cache,
    limiter,
    guard,
    recorder,
    journal,
    pricing,
    quarantine,
    providers,
    routes,
    session,
    misses,
    pipeline,
    tracing,
    async close() {
      await tracing.shutdown().catch((error: Error) => log.warn(`tracing: could not export spans (${error.message})`));
      await limiter.close();
      await storage.dispose();
    },
  };
}
