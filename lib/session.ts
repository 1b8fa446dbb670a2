import type { z } from "zod";
import type { CallSettings, ChatMessage, Provider, Usage } from "../providers/types.ts";
import { createJsonSchemas } from "./json-schema.ts";
import { cacheHash, cacheKey, keyPart, type CallCache } from "./cache.ts";
import { findImportedAnswer } from "./cache-import.ts";
import type { Clock } from "./clock.ts";
import { SAError, isSAError } from "./errors.ts";
import type { Limiter } from "./limits.ts";
import type { Log } from "./log.ts";
import type { Pricing } from "./pricing.ts";
import type { Quarantine } from "./quarantine.ts";
import type { Recorder } from "./recorder.ts";
import { countPromptTokens } from "./tokens.ts";
import type { UsageGuard } from "./usage-guard.ts";
import { noTracing, type Tracing } from "./tracing.ts";
import { createCallTraces } from "./call-trace.ts";
import { fakeFromSchema } from "./fake-answer.ts";
import { validateAnswer, type CallResult, type CallSpec, type Stage } from "./call-spec.ts";

export type { CallResult, CallSpec, CheckResult, Stage } from "./call-spec.ts";

export interface SessionOptions {
  task: string;
  runId: string;
  context: string;
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
  /** Expected output tokens per stage, for limit and budget checks before a call. */
  expectedOutput: Record<Stage, number>;
  /** Exact token counts (js-tiktoken) are only worth loading when a token limit or budget needs them. */
  exactTokens: boolean;
  transcripts: boolean;
  /** Try answers imported from the Python tool's cache when the prompt-exact key misses. */
  reuseImported?: boolean;
  /** No network: a miss is recorded in `misses` and throws E_DRY_RUN_MISS. */
  dryRun: boolean;
  misses?: Array<{ stage: string; serviceId: string; model: string }>;
  /** Spans for calls, when tracing is on. @default noTracing */
  tracing?: Tracing;
}

/** One model a stage may call, with the settings it is sent. */
export interface Route {
  provider: Provider;
  settings: CallSettings;
}

export interface Session {
  call<T>(spec: CallSpec<T>): Promise<CallResult<T>>;
}

const modelIdOf = (p: Provider) => `${p.name}:${p.model}`;
const noUsage: Usage = { inputTokens: 0, cachedInputTokens: 0, outputTokens: 0, reasoningTokens: 0 };

/**
 * The one call path every task uses: prompt → cache → limits → provider → validation → ledger.
 * An invalid answer is asked for again once, with the reason; then the next fallback model is tried.
 */
export function createSession(options: SessionOptions): Session {
  const { log } = options;
  const traces = createCallTraces(options.tracing ?? noTracing);
  const jsonSchemaOf = createJsonSchemas();

  async function estimate(stage: Stage, { provider, settings }: Route, messages: ChatMessage[]) {
    const inputTokens = options.exactTokens
      ? await countPromptTokens(messages)
      : Math.ceil(messages.reduce((n, m) => n + m.content.length, 0) / 4);
    const outputTokens = Math.min(options.expectedOutput[stage], settings.maxOutputTokens ?? Infinity);
    const costUsd = options.pricing.cost(modelIdOf(provider), { inputTokens, cachedInputTokens: 0, outputTokens }) ?? 0;
    return { inputTokens, outputTokens, costUsd };
  }

  /** One live request through the limits; records it in the ledger whatever the answer. */
  async function live<T>(spec: CallSpec<T>, route: Route, messages: ChatMessage[]) {
    const { provider, settings } = route;
    const jsonSchema = jsonSchemaOf(spec.schema);
    const guess = await estimate(spec.stage, route, messages);
    const startedAt = options.clock.now();
    return options.limiter.schedule(
      async () => {
        const reservation = options.guard.reserve(guess);
        let result;
        try {
          result = await provider.complete({ messages, schemaName: spec.schemaName, jsonSchema, ...settings });
        } catch (error) {
          options.guard.settle(reservation, { inputTokens: 0, outputTokens: 0, costUsd: 0 });
          const retries = isSAError(error) ? Number(error.details.retries ?? 0) : 0;
          // No answer came back: a failed call, never a live call with 0 tokens that estimates would learn from.
          record(spec, provider, "failed", noUsage, options.clock.now() - startedAt, retries, provider.model);
          throw error;
        }
        const costUsd = record(spec, provider, "live", result.usage, options.clock.now() - startedAt, result.retries, result.model, result.responseId);
        options.guard.settle(reservation, { inputTokens: result.usage.inputTokens, outputTokens: result.usage.outputTokens, costUsd });
        options.limiter.settle(guess.inputTokens + guess.outputTokens, result.usage.inputTokens + result.usage.outputTokens);
        return result;
      },
      { priority: spec.priority, tokens: guess.inputTokens + guess.outputTokens },
    );
  }

  /** Records one request in the ledger and on its call's span; returns its price (null: unknown). */
  function record(spec: Pick<CallSpec<unknown>, "task" | "stage" | "serviceId">, provider: Provider, cache: "hit" | "live" | "failed", usage: Usage, latencyMs: number, retries: number, answeredBy: string, responseId?: string): number | null {
    const model = modelIdOf(provider);
    const price = options.pricing.cost(model, usage);
    traces.record(spec, { provider: provider.name, model, cache, usage, retries, answeredBy, responseId, costUsd: cache === "live" ? (price ?? 0) : 0 });
    options.recorder.record({
      task: spec.task,
      stage: spec.stage,
      serviceId: spec.serviceId,
      provider: provider.name,
      model,
      answeredBy,
      cache,
      ...usage,
      latencyMs,
      retries,
      costUsd: cache === "live" ? price : 0,
      savedCostUsd: cache === "hit" ? price : null,
    });
    return price;
  }

  /**
   * A dry run counts the miss, then goes on with a stand-in answer (schema-valid, as the
   * synthetic provider makes them) so that the later stages' calls are counted too. The engine
   * never writes a service that had a miss.
   */
  function dryRunMiss<T>(spec: CallSpec<T>, model: string, jsonSchema: unknown, hash: string): CallResult<T> {
    options.misses?.push({ stage: spec.stage, serviceId: spec.serviceId, model });
    const standIn = validateAnswer(spec, fakeFromSchema(jsonSchema as Record<string, unknown>, hash));
    if (standIn.ok) return { value: standIn.value, model, cached: false };
    throw new SAError("E_DRY_RUN_MISS", `dry run: no cached answer for ${spec.stage} of ${spec.serviceId} with ${model}`, {
      details: { stage: spec.stage, serviceId: spec.serviceId, model },
    });
  }

  async function tryProvider<T>(spec: CallSpec<T>, route: Route): Promise<CallResult<T> | { failed: string }> {
    const { provider } = route;
    const jsonSchema = jsonSchemaOf(spec.schema);
    const hash = cacheHash({
      provider: provider.name,
      baseURL: provider.baseURL,
      model: provider.model,
      messages: spec.messages,
      schema: jsonSchema,
      ...route.settings,
      stage: spec.stage,
    });
    const key = cacheKey(options.context, spec.stage, spec.serviceId, hash);
    const model = modelIdOf(provider);

    const hit = await options.cache.lookup(key);
    if (hit) {
      const checked = validateAnswer(spec, hit.answer);
      if (checked.ok && checked.problems.length === 0) {
        // A repaired answer is stored repaired: what it lost is quarantined again, so --strict
        // gives a cached rerun the exit code of the live run.
        if (hit.dropped) options.quarantine.add({ kind: "mapping", serviceId: spec.serviceId, stage: spec.stage, model, ...hit.dropped });
        record(spec, provider, "hit", hit.usage, 0, 0, hit.model);
        return { value: checked.value, model, cached: true };
      }
      log.warn(`cache: entry ${key} no longer validates; asking again`, { serviceId: spec.serviceId });
    }
    if (options.reuseImported) {
      const reused = await findImportedAnswer(options.cache.storage, { stage: spec.stage, serviceId: spec.serviceId, ...spec.imported }, (answer) => {
        const checked = validateAnswer(spec.importedCheck ? { ...spec, check: spec.importedCheck } : spec, answer);
        return checked.ok && checked.problems.length === 0 ? checked.value : undefined;
      });
      if (reused !== undefined) {
        record(spec, provider, "hit", noUsage, 0, 0, "imported");
        await options.cache.store(key, { answer: reused as {} | null, usage: noUsage, model: "imported", provider: provider.name, createdAt: new Date(options.clock.now()).toISOString(), request: { stage: spec.stage, serviceId: spec.serviceId, imported: true } });
        return { value: reused, model, cached: true };
      }
    }
    if (options.dryRun) return dryRunMiss(spec, model, jsonSchema, hash);

    let messages = spec.messages;
    let dropped: { reason: string; data: string } | undefined;
    let answer = await live(spec, route, messages);
    let checked = validateAnswer(spec, answer.content);
    if (!checked.ok || checked.problems.length > 0) {
      const reason = checked.ok ? checked.problems.join("; ") : checked.reason;
      log.debug(`${spec.stage} answer from ${model} failed validation (${reason}); asking once more`, { serviceId: spec.serviceId });
      messages = [
        ...spec.messages,
        { role: "assistant", content: answer.content },
        { role: "user", content: `Your answer failed validation: ${reason}. Answer again with JSON that matches the schema exactly.` },
      ];
      answer = await live(spec, route, messages);
      const second = validateAnswer(spec, answer.content);
      if (!second.ok) {
        options.quarantine.add({ kind: "answer", serviceId: spec.serviceId, stage: spec.stage, model, reason: second.reason, data: answer.content });
        return { failed: `${model}: invalid answer after a re-ask (${second.reason})` };
      }
      if (second.problems.length > 0) {
        // The answer is kept, minus what could not be used; the dropped parts are quarantined.
        dropped = { reason: second.problems.join("; "), data: answer.content };
        options.quarantine.add({ kind: "mapping", serviceId: spec.serviceId, stage: spec.stage, model, ...dropped });
      }
      checked = second;
    }
    await options.cache.store(key, {
      answer: checked.value as {} | null,
      usage: answer.usage,
      model: answer.model,
      provider: provider.name,
      createdAt: new Date(options.clock.now()).toISOString(),
      request: { stage: spec.stage, serviceId: spec.serviceId, schemaName: spec.schemaName, model, baseURL: provider.baseURL, runId: options.runId },
      ...(dropped ? { dropped } : {}),
    });
    if (options.transcripts) {
      const transcriptKey = `transcripts:${keyPart(options.context)}:${spec.stage}:${keyPart(spec.serviceId)}:${hash}`;
      await options.cache.storage
        .setItem(transcriptKey, { runId: options.runId, model, messages, answer: answer.content, createdAt: new Date(options.clock.now()).toISOString() })
        .catch((error: Error) => log.warn(`transcripts: could not write ${transcriptKey} (${error.message})`));
    }
    return { value: checked.value, model, cached: false };
  }

  return {
    async call<T>(spec: CallSpec<T>): Promise<CallResult<T>> {
      const span = traces.start(spec, options.routes[spec.stage][0]!.provider);
      try {
        const result = await callModels(spec);
        span.end(undefined, result.value);
        return result;
      } catch (error) {
        span.end(error);
        throw error;
      }
    },
  };

  /** The primary model, then each fallback: provider failures and invalid answers move on. */
  async function callModels<T>(spec: CallSpec<T>): Promise<CallResult<T>> {
    const reasons: string[] = [];
    const routes = options.routes[spec.stage];
    for (const route of routes) {
      try {
        const result = await tryProvider(spec, route);
        if (!("failed" in result)) return result;
        reasons.push(result.failed);
      } catch (error) {
        // Limits, budgets, dry-run misses and usage errors stop here; provider failures fall back.
        if (!isSAError(error, "E_PROVIDER")) throw error;
        reasons.push(error.message);
      }
      if (route !== routes.at(-1)) log.warn(`${spec.stage}: ${reasons.at(-1)}; trying the next model`, { serviceId: spec.serviceId });
    }
    throw new SAError("E_CALL_FAILED", `${spec.stage} failed: ${reasons.join(" | ")}`, { details: { stage: spec.stage, serviceId: spec.serviceId } });
  }
}
