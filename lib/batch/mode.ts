import PQueue from "p-queue";
import type { Storage } from "unstorage";
import type { Provider } from "../../providers/types.ts";
import { parseDuration } from "../duration.ts";
import type { Clock } from "../clock.ts";
import { SAError } from "../errors.ts";
import type { Limiter } from "../limits.ts";
import type { Log } from "../log.ts";
import { allModels } from "../model-settings.ts";
import type { Config } from "../schema/config.ts";
import type { Session } from "../session.ts";
import type { UsageGuard } from "../usage-guard.ts";
import { createBatchApi } from "./api.ts";
import { createCollector } from "./collector.ts";
import { runWave } from "./wave.ts";

export interface BatchModeOptions {
  config: Config;
  env: Record<string, string | undefined>;
  fetch?: typeof globalThis.fetch;
  storage: Storage;
  guard: UsageGuard;
  log: Log;
  clock: Clock;
  runId: string;
  runKey: string;
}

/** The seam between the call path and the Batch API: providers that enqueue, a session that is tracked. */
export interface BatchMode {
  wrapProvider(provider: Provider): Provider;
  wrapSession(session: Session): Session;
  /** A limiter whose stop also fails the calls waiting for a wave. */
  wrapLimiter(limiter: Limiter): Limiter;
}

export function createBatchMode(options: BatchModeOptions): BatchMode {
  const { config, log } = options;
  const other = allModels(config).find((id) => !id.startsWith("openai:"));
  if (other) throw new SAError("E_USAGE", `batch mode: ${other} has no Batch API (use openai: models, on OpenAI or an OpenAI-compatible endpoint)`);
  const api = createBatchApi({ env: options.env, fetch: options.fetch, retry: config.retry, requestTimeout: config.requestTimeout });
  let stopped = false;
  const wave = { stopped: () => stopped, api, storage: options.storage, log, clock: options.clock, config: config.batch, pollMs: parseDuration(config.batch.pollInterval) ?? 30_000, runKey: options.runKey, runId: options.runId };
  const queue = new PQueue({ concurrency: config.concurrency });
  const collector = createCollector({
    send: (n, requests) => runWave(wave, n, requests),
    live: (waiting) => Promise.all(waiting.map((w) => queue.add(() => w.provider.complete(w.request).catch((error: Error) => error)) as Promise<Awaited<ReturnType<Provider["complete"]>> | Error>)),
    below: config.batch.below,
    attempts: config.retry.attempts,
    quietMs: config.batch.quietMs,
    guard: options.guard,
    log,
  });
  return {
    wrapProvider: (provider) => ({ ...provider, complete: (request) => collector.ask(provider, request) }),
    wrapSession: (session) => ({ call: (spec) => collector.track(() => session.call(spec)) }),
    wrapLimiter: (limiter) => ({
      ...limiter,
      stop(error) {
        stopped = true;
        limiter.stop(error);
        collector.stop(error);
      },
    }),
  };
}
