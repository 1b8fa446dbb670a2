import { entrySource, keyPart, type CacheEntry } from "../cache.ts";
import type { CallResult } from "../call-spec.ts";
import type { Asked } from "./ask.ts";
import type { Attempt, CallContext } from "./context.ts";

/**
 * Step 4: the asked answer stored under the attempt's key, and its transcript when asked for. The
 * result names the entry's run and time as its source, so a rerun from the cache names the same.
 */
export async function persist<T>(ctx: CallContext, attempt: Attempt<T>, asked: Asked<T>): Promise<CallResult<T>> {
  const { spec, route, model } = attempt;
  const runId = ctx.answerRunId?.() ?? ctx.runId;
  const entry: Omit<CacheEntry, "v" | "expiresAt"> = {
    answer: asked.value as {} | null,
    usage: asked.answer.usage,
    model: asked.answer.model,
    provider: route.provider.name,
    createdAt: new Date(ctx.clock.now()).toISOString(),
    request: { stage: spec.stage, serviceId: spec.serviceId, schemaName: spec.schemaName, model, baseURL: route.provider.baseURL, runId },
    ...(asked.dropped ? { dropped: asked.dropped } : {}),
  };
  if (ctx.cache.writes) await ctx.cache.store(attempt.key, entry);
  if (ctx.transcripts) await storeTranscript(ctx, attempt, asked);
  return { value: asked.value, model, cached: false, source: entrySource(entry) };
}

/** The prompt and the answer in the `transcripts:` namespace, written as cache entries are (a failed write warns as theirs do). */
async function storeTranscript<T>(ctx: CallContext, attempt: Attempt<T>, asked: Asked<T>): Promise<void> {
  const { spec } = attempt;
  const transcriptKey = `transcripts:${keyPart(ctx.namespace)}:${spec.stage}:${keyPart(spec.serviceId)}:${attempt.hash}`;
  const transcript = { runId: ctx.answerRunId?.() ?? ctx.runId, model: attempt.model, messages: asked.messages, answer: asked.answer.content, createdAt: new Date(ctx.clock.now()).toISOString() };
  await ctx.cache.keep(transcriptKey, transcript);
}
