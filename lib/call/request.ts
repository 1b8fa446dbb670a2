import type { ChatMessage, ChatResult } from "../../providers/types.ts";
import { isLeftWaiting } from "./left-waiting.ts";
import { isSAError, isUnsent } from "../errors.ts";
import { countPromptTokens } from "../tokens.ts";
import { guessPromptTokens } from "../token-guess.ts";
import type { Attempt, CallContext } from "./context.ts";
import { noUsage, recordRequest } from "./record.ts";
import { checkRoute } from "./ask-route.ts";

interface Guess {
  /** Our own count of the prompt (the forecast scales it by what the provider bills). */
  counted: number;
  inputTokens: number;
  outputTokens: number;
  costUsd: number;
}


/** What a request will use, forecast when it is dispatched (answers seen while it queued count): for the limits, the usage limits and the budget. */
function estimate(ctx: CallContext, attempt: Attempt<unknown>, counted: number): Guess {
  const { settings } = attempt.route;
  const inputTokens = ctx.forecast.input(counted, attempt.model);
  const outputTokens = Math.min(ctx.forecast.output(attempt.spec.stage, attempt.model), settings.maxOutputTokens ?? Infinity);
  const costUsd = ctx.guard.needsCost ? (ctx.pricing.cost(attempt.model, { inputTokens, cachedInputTokens: 0, outputTokens }) ?? 0) * (ctx.priceFactor ?? 1) : 0;
  return { counted, inputTokens, outputTokens, costUsd };
}

/**
 * A request that no usage limit or budget weighs: nothing to forecast before it is sent, so the
 * first request does not wait for the ledger's history to be read. A TPM limit forecasts anyway,
 * when the limiter asks (`tokens` below).
 */
const unweighed = (counted: number): Guess => ({ counted, inputTokens: 0, outputTokens: 0, costUsd: 0 });

/** Pricings whose price table is loaded or loading. */
const warmed = new WeakSet<object>();

/**
 * Loads the price table (tens of milliseconds) while the first answers are awaited: left to the
 * first answer, it would hold up every answer that arrives with it.
 */
function warmPricing(ctx: CallContext, modelId: string): void {
  if (warmed.has(ctx.pricing)) return;
  warmed.add(ctx.pricing);
  setImmediate(() => ctx.pricing.cost(modelId, noUsage));
}

/**
 * A re-ask finishes a call in flight: after Ctrl-C it still goes (the first answer was paid for,
 * and a rerun would pay for it again), never past a limit.
 */
const finishing = (attempt: Attempt<unknown>, messages: ChatMessage[]) => messages !== attempt.spec.messages;
const stopFor = (ctx: CallContext, attempt: Attempt<unknown>, messages: ChatMessage[]) =>
  (finishing(attempt, messages) ? ctx.limiter.stoppedFinishing : undefined) ?? ctx.limiter.stopped;

/** Sends one request once the limiter lets it go; settles the reservation whatever the answer. */
async function send(ctx: CallContext, attempt: Attempt<unknown>, messages: ChatMessage[], guess: Guess): Promise<ChatResult> {
  const { spec, route, jsonSchema } = attempt;
  const { provider } = route;
  const reservation = await ctx.guard.admit(guess, stopFor(ctx, attempt, messages));
  const startedAt = ctx.clock.now();
  // Sent, so counted even when the run's record is written first (a second Ctrl-C): a failed call, its answer never seen.
  const failed = (retries: number) => recordRequest(ctx, { spec, provider, cache: "failed", usage: noUsage, latencyMs: ctx.clock.now() - startedAt, retries, answeredBy: provider.model });
  const settled = ctx.recorder.open(() => failed(0));
  let result: ChatResult;
  try {
    const answer = provider.complete({
      messages,
      schemaName: spec.schemaName,
      jsonSchema,
      ...(spec.choices ? { choices: spec.choices } : {}),
      ...route.settings,
      stopped: stopFor(ctx, attempt, messages),
      // The cache key names the request (a batch line's custom_id); a re-ask sends other messages.
      // Made only when a provider reads it: a live call with the cache off never makes the key.
      get requestKey() {
        return messages === spec.messages ? attempt.key : `${attempt.key}:reask`;
      },
    });
    warmPricing(ctx, attempt.model);
    result = await answer;
  } catch (error) {
    ctx.guard.settle(reservation, { inputTokens: 0, outputTokens: 0, costUsd: 0 });
    // No answer came back: a failed call, never a live call with 0 tokens that estimates would learn from.
    // A batch line left waiting at a stop is neither: the next run counts it.
    // A call the provider failed before it sent anything (no key) was never asked: skipped, no request counted.
    const counts = settled() && !isLeftWaiting(error);
    if (counts && isUnsent(error)) recordRequest(ctx, { spec, provider, cache: "skipped", usage: noUsage, answeredBy: provider.model });
    else if (counts) failed(isSAError(error) ? Number(error.details.retries ?? 0) : 0);
    throw error;
  }
  const { usage } = result;
  const latencyMs = ctx.clock.now() - startedAt;
  // An answer after the run's record was written (abandoned, counted as failed) is used, not counted again.
  const costUsd = !settled() ? 0 : recordRequest(ctx, { spec, provider, cache: "live", usage, latencyMs, retries: result.retries, answeredBy: result.model, responseId: result.responseId, batchPriceFactor: result.batchPriceFactor });
  ctx.forecast.observe({ stage: spec.stage, model: attempt.model, counted: guess.counted, usage });
  ctx.guard.settle(reservation, { inputTokens: usage.inputTokens, outputTokens: usage.outputTokens, costUsd });
  ctx.limiter.settle(guess.inputTokens + guess.outputTokens, usage.inputTokens + usage.outputTokens);
  return result;
}

/** One live request through the limits; recorded in the ledger whatever the answer. */
export async function requestAnswer(ctx: CallContext, attempt: Attempt<unknown>, messages: ChatMessage[]): Promise<ChatResult> {
  // The four-characters guess is calibrated by the forecast; exact counts only when limits need them.
  const counted = ctx.exactTokens ? await countPromptTokens(messages) : guessPromptTokens(messages);
  // Forecast when the call goes, not when it queues: answers that came back meanwhile count.
  // A TPM limit asks first (`tokens`), and the bucket and the guard then weigh the same guess.
  let guess: Guess | undefined;
  const tokens = () => {
    guess = estimate(ctx, attempt, counted);
    return guess.inputTokens + guess.outputTokens;
  };
  const dispatched = () => (guess ??= ctx.guard.needsEstimate ? estimate(ctx, attempt, counted) : unweighed(counted));
  const dispatch = async () => (checkRoute(ctx, attempt), send(ctx, attempt, messages, dispatched()));
  return ctx.limiter.schedule(dispatch, { priority: attempt.spec.priority, tokens, endpoint: attempt.route.provider.name, finishing: finishing(attempt, messages) });
}
