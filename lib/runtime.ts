import { checkModelIds, createProviders, withProviderPrices } from "./endpoints.ts";
import { promptDefaults } from "./prompts/sources.ts";
import { builtInEndpoints, providerTypes } from "../providers/index.ts";
import type { Provider } from "../providers/types.ts";
import { createCacheStorage, createCallCache } from "./cache.ts";
import { describeStore } from "./cache-stats.ts";
import { systemClock, type Clock } from "./clock.ts";
import { loadDataset, type Dataset, type LoadDatasetOptions } from "./data.ts";
import { createLimiter, interruptionsOf, sharedBucketsClient, type Limiter } from "./limits.ts";
import type { Log } from "./log.ts";
import { buildDomainText } from "./prompts/build.ts";
import { descriptionsResponse, featuresResponse } from "./schema/responses.ts";
import { assertBudgetPriced, createPricing } from "./pricing.ts";
import { createQuarantine, type Quarantine } from "./quarantine.ts";
import { createRecorder } from "./recorder.ts";
import { callsPath, readLedger } from "./ledger.ts";
import { observedOutput } from "./estimate.ts";
import { createTokenForecast } from "./token-forecast.ts";
import { createJournal, journalPath, type Journal } from "./journal.ts";
import type { Config } from "./schema/config.ts";
import { createSession, type Route, type Session } from "./session.ts";
import { callFields } from "./call-scope.ts";
import { allModels, callSettings, stageChain, stages } from "./model-settings.ts";
import type { Stage } from "./call-spec.ts";
import { createUsageGuard, type UsageGuard } from "./usage-guard.ts";
import type { PipelineContext } from "./pipeline/context.ts";
import type { Misses, RunContext } from "./pipeline/engine-types.ts";
import { exportFailure, noTracing, type Tracing } from "./tracing.ts";
import { setLogField } from "./log.ts";

export interface RuntimeOptions {
  task: string;
  config: Config;
  log: Log;
  env?: Record<string, string | undefined>;
  /** Time for the run (its id, pacing, the cache's and ledger's dates). @default systemClock */
  clock?: Clock;
  /** The providers' and the Batch API's fetch. @default the global fetch */
  fetch?: typeof globalThis.fetch;
  dryRun?: boolean;
  reuseImported?: boolean;
  ledgerCalls?: boolean;
  dataset?: LoadDatasetOptions;
  /** Spans for the run, its services and calls. @default noTracing */
  tracing?: Tracing;
  /** Where calls are journalled; a queue worker's goes to Redis. @default the run's file journal */
  journal?: (header: { runId: string; task: string; startedAt: string; model: string }) => Journal;
  /** The run a live answer is made for (a queue worker's job's run). @default this run */
  answerRunId?: () => string | undefined;
  /** Adds checks to the usage guard (a queue worker's shared budget). */
  wrapGuard?: (guard: UsageGuard) => UsageGuard;
  /** Also sends what is quarantined elsewhere (a queue worker's to its coordinator). */
  wrapQuarantine?: (quarantine: Quarantine) => Quarantine;
  /** Names this run's batches in the store (`batchRunKey`); with `batch.enabled`, calls go through the Batch API. */
  batchRunKey?: string;
}

/**
 * Everything a task needs to reach a model, built once from config. The pipeline sees only its
 * `RunContext` part (lib/pipeline/engine-types.ts); the session holds the cache, limits and providers.
 */
export interface Runtime extends RunContext {
  /** The limiter, whole: its `stop` is the run's stop signal. */
  limiter: Limiter;
  /** Writes the cache entries held while the store was away (waiting `withinMs` at most), or says in one line how many went uncached (once). */
  finishCache(withinMs?: number): Promise<void>;
  /** Flushes spans and closes the cache store (finishing the cache first). */
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

/**
 * The providers of every model the run may call; their retries and rate headers reach the log and
 * limiter, and each retry is one more request for the usage guard (`--max-requests`).
 */
function connectProviders(options: RuntimeOptions, limiter: Limiter, guard: UsageGuard): Promise<Provider[]> {
  const { config, log } = options;
  return createProviders(allModels(config), config, {
    env: options.env ?? process.env,
    fetch: options.fetch,
    http: { ...config.retry, requestTimeout: config.requestTimeout, stopped: interruptionsOf(limiter.stopped), beforeRetry: () => guard.resend() },
    // Made by the HTTP layer, shared by every call: the call's scope names its service and stage.
    onRetry: (info) => {
      const call = callFields();
      const of = call.stage ? ` of the ${call.stage} call` : "";
      log.debug(`retry ${info.attempt}/${config.retry.attempts - 1}${of} after ${info.reason}, waiting ${info.delayMs} ms${info.requestId ? ` (request id ${info.requestId})` : ""}`, call);
    },
    onResponseHeaders: (headers, status, endpoint) => limiter.observe(headers, status, endpoint),
    waitingToRetry: (status, endpoint) => limiter.waitingToRetry(status, endpoint),
  });
}

/** Says the first time 429s lower the calls in flight (and how to pace instead); later changes at debug. */
function concurrencyNotice(log: Log, max: number) {
  let said = false;
  return (concurrency: number, lowered: boolean) => {
    const line = `HTTP 429 with no --rpm or --tpm set: at most ${concurrency} call${concurrency === 1 ? "" : "s"} in flight now, back up to ${max} as answers come; set --rpm/--tpm to the provider's limits to pace calls evenly`;
    if (lowered && !said) log.warn(line);
    else log.debug(`calls in flight at most ${concurrency} (of ${max})`);
    said ||= lowered;
  };
}

/** The cache store and the limits, shared with other runs when the config says so. */
async function createStores(config: Config, log: Log, clock: Clock, batch: boolean) {
  const storage = await createCacheStorage(config.cache);
  const cache = createCallCache(storage, { mode: config.cacheMode, ttl: config.cache.ttl, log, now: () => new Date(clock.now()), store: describeStore(config.cache) });
  // Batch requests wait for their wave, not for a slot: the Batch API has its own limits.
  if (batch) return { storage, cache, limiter: createLimiter({ concurrency: 1_000_000, clock }) };
  const shared = config.rateLimit.store === "redis" && (config.rpm || config.tpm) ? { client: await sharedBucketsClient(config.rateLimit.url, log), key: config.rateLimit.key } : undefined;
  const limiter = createLimiter({ concurrency: config.concurrency, rpm: config.rpm, tpm: config.tpm, clock, shared, maxPauseMs: config.retry.maxWaitMs, adaptive: concurrencyNotice(log, config.concurrency) });
  return { storage, cache, limiter };
}

/** The run's bookkeeping: its id, journal, recorder (ledger), quarantine and dry-run misses. */
function createBookkeeping(options: RuntimeOptions, clock: Clock, runId: string) {
  const { config } = options;
  const startedAt = new Date(clock.now()).toISOString();
  const header = { runId, task: options.task, startedAt, model: config.model };
  const journal = options.journal?.(header) ?? createJournal(journalPath(config.ledger.path, runId), header);
  const recorder = createRecorder({ callsFile: options.ledgerCalls ? callsPath(config.ledger.path, runId) : undefined, journal });
  const own = createQuarantine(config.quarantineDir, runId, () => new Date(clock.now()));
  const quarantine = options.wrapQuarantine?.(own) ?? own;
  const misses: Misses = [];
  return { runId, startedAt, journal, recorder, quarantine, misses };
}

/** What the stage steps read: the session, the dataset and the prompts' fixed parts. */
function pipelineContext(task: string, config: Config, data: Dataset, session: Session, log: Log): PipelineContext {
  return {
    task,
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
}

/** The ledger's history for output estimates; one that cannot be read only costs the history. */
function readLedgerOrEmpty(path: string, log: Log) {
  try {
    return readLedger(path);
  } catch (error) {
    log.debug(`ledger: no history for estimates (${(error as Error).message})`);
    return undefined;
  }
}

/** A model's average answer size per stage in past runs: the forecast's second source, after this run's. */
const ledgerHistory = (path: string, log: Log) => (model: string) =>
  observedOutput(readLedgerOrEmpty(path, log), { descriptions: model, features: model, mapping: model });

/** Starts loading the built-in provider modules a run's models use; errors surface when they are created. */
function preloadProviders(config: Config): Promise<unknown> {
  const endpoints: Record<string, { type: string }> = { ...builtInEndpoints, ...config.providers };
  const types = new Set(allModels(config).map((id) => endpoints[id.slice(0, id.indexOf(":"))]?.type));
  return Promise.all([...types].map((type) => (type && providerTypes[type] ? providerTypes[type]() : undefined))).catch(() => {});
}

/** A sortable run id (its start time, to the second) with a random tail; every log line carries it. */
function newRunId(clock: Clock): string {
  const runId = `${new Date(clock.now()).toISOString().replace(/[-:]/g, "").replace(/\..*/, "")}-${crypto.randomUUID().slice(0, 8)}`;
  setLogField("runId", runId);
  return runId;
}

/** The session's options that come straight from the config and the task's flags. */
function callSettingsOf({ task, config, dryRun, reuseImported, log }: RuntimeOptions) {
  return {
    task,
    namespace: config.context,
    forecast: createTokenForecast({ configured: config.estimate, history: ledgerHistory(config.ledger.path, log) }),
    // A TPM limit needs no exact count: the forecast calibrates chars ÷ 4 by what the provider bills.
    exactTokens: Boolean(config.limits.maxTokens || config.limits.maxInputTokens || config.budget.hardUsd),
    transcripts: config.transcripts,
    dryRun: dryRun ?? false,
    reuseImported: reuseImported ?? false,
    importedContext: config.contextId ?? promptDefaults.contextId,
  };
}

export async function createRuntime(options: RuntimeOptions): Promise<Runtime> {
  const { config, log } = options;
  const clock = options.clock ?? systemClock;
  const tracing = options.tracing ?? noTracing;
  const runId = newRunId(clock);
  checkModelIds(allModels(config), config);
  assertBudgetPriced(config);
  // Provider modules (the openai SDK is the largest) start loading while the data files are read.
  void preloadProviders(config);
  const data = await loadDataset(config, options.dataset);
  const batchRunKey = config.batch.enabled && !options.dryRun ? options.batchRunKey : undefined;
  const stores = await createStores(config, log, clock, batchRunKey !== undefined);
  const { storage, cache } = stores;
  // A limit reached stops dispatch at once (as the run's stop will): calls waiting their turn behind
  // a 429's pause or a retry would only be refused when it came. Not with a wrapped guard (queue
  // workers, local or not: a job's run stops through its coordinator, which reads the journal
  // until then), nor for batch waves (a stop leaves them to the next run).
  const stopDispatch = batchRunKey === undefined && !options.wrapGuard ? (error: Error) => stores.limiter.stop(error) : undefined;
  const ownGuard = createUsageGuard(config.limits, config.budget, log, { waitForCallsInFlight: batchRunKey === undefined, onStop: stopDispatch });
  const guard = options.wrapGuard?.(ownGuard) ?? ownGuard;
  const run = createBookkeeping(options, clock, runId);
  // The Batch API code (and its client) loads only for a batch run.
  const batch = batchRunKey ? (await import("./batch/mode.ts")).createBatchMode({ config, env: options.env ?? process.env, fetch: options.fetch, storage, guard, log, clock, runId, runKey: batchRunKey }) : undefined;
  const limiter = batch ? batch.wrapLimiter(stores.limiter) : stores.limiter;
  const pricing = createPricing(config.pricing, log);
  const connected = await connectProviders(options, limiter, guard);
  const providers = batch ? connected.map(batch.wrapProvider) : connected;
  const routes = stageRoutes(config, providers, log);
  const priceFactor = batch ? config.batch.priceFactor : undefined;
  const liveSession = createSession({ ...run, ...callSettingsOf(options), answerRunId: options.answerRunId, routes, cache, limiter, guard, pricing: withProviderPrices(pricing, providers), log, clock, tracing, priceFactor, circuitBreaker: config.circuitBreaker });
  const session = batch ? batch.wrapSession(liveSession) : liveSession;
  const pipeline = pipelineContext(options.task, config, data, session, log);
  return {
    ...run,
    config,
    log,
    clock,
    data,
    limiter,
    pipeline,
    tracing,
    finishCache: (withinMs) => cache.finish(withinMs),
    async close() {
      await tracing.shutdown().catch((error: unknown) => log.warn(`tracing: could not export spans (${exportFailure(error)})`));
      await limiter.close();
      // Answers made while the store was away are written now if it is back, else said in one line.
      await cache.finish();
      await storage.dispose();
    },
  };
}
