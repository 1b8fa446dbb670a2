import type { ChatMessage, ChatResult } from "../../providers/types.ts";
import { isSAError } from "../errors.ts";
import { countPromptTokens } from "../tokens.ts";
import { guessPromptTokens } from "../token-guess.ts";
import type { Attempt, CallContext } from "./context.ts";
import { noUsage, recordRequest } from "./record.ts";

interface Guess {
  inputTokens: number;
  outputTokens: number;
  costUsd: number;
}

/** What a request will use, before it is sent: for the limits, the usage limits and the budget. */
async function estimate(ctx: CallContext, attempt: Attempt<unknown>, messages: ChatMessage[]): Promise<Guess> {
  const { settings } = attempt.route;
  const inputTokens = ctx.exactTokens ? await countPromptTokens(messages) : guessPromptTokens(messages);
  const outputTokens = Math.min(ctx.expectedOutput[attempt.spec.stage], settings.maxOutputTokens ?? Infinity);
  const costUsd = (ctx.pricing.cost(attempt.model, { inputTokens, cachedInputTokens: 0, outputTokens }) ?? 0) * (ctx.priceFactor ?? 1);
  return { inputTokens, outputTokens, costUsd };
}

/** Sends one request once the limiter lets it go; settles the reservation whatever the answer. */
async function send(ctx: CallContext, attempt: Attempt<unknown>, messages: ChatMessage[], guess: Guess): Promise<ChatResult> {
  const { spec, route, jsonSchema } = attempt;
  const { provider } = route;
  const startedAt = ctx.clock.now();
  const reservation = ctx.guard.reserve(guess);
  let result: ChatResult;
  try {
    // The cache key names the request (a batch line's custom_id); a re-ask sends other messages.
    const requestKey = messages === spec.messages ? attempt.key : `${attempt.key}:reask`;
    result = await provider.complete({ messages, schemaName: spec.schemaName, jsonSchema, ...route.settings, requestKey });
  } catch (error) {
    ctx.guard.settle(reservation, { inputTokens: 0, outputTokens: 0, costUsd: 0 });
    const retries = isSAError(error) ? Number(error.details.retries ?? 0) : 0;
    // No answer came back: a failed call, never a live call with 0 tokens that estimates would learn from.
    recordRequest(ctx, { spec, provider, cache: "failed", usage: noUsage, latencyMs: ctx.clock.now() - startedAt, retries, answeredBy: provider.model });
    throw error;
  }
  const { usage } = result;
  const latencyMs = ctx.clock.now() - startedAt;
  const costUsd = recordRequest(ctx, { spec, provider, cache: "live", usage, latencyMs, retries: result.retries, answeredBy: result.model, responseId: result.responseId, batchPriceFactor: result.batchPriceFactor });
  ctx.guard.settle(reservation, { inputTokens: usage.inputTokens, outputTokens: usage.outputTokens, costUsd });
  ctx.limiter.settle(guess.inputTokens + guess.outputTokens, usage.inputTokens + usage.outputTokens);
  return result;
}

/** One live request through the limits; recorded in the ledger whatever the answer. */
export async function requestAnswer(ctx: CallContext, attempt: Attempt<unknown>, messages: ChatMessage[]): Promise<ChatResult> {
  const guess = await estimate(ctx, attempt, messages);
  return ctx.limiter.schedule(() => send(ctx, attempt, messages, guess), { priority: attempt.spec.priority, tokens: guess.inputTokens + guess.outputTokens });
}
