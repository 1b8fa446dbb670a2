import type { Provider } from "../providers/types.ts";
import { leftWaiting } from "./call/left-waiting.ts";
import { systemClock, type Clock } from "./clock.ts";
import { createLimiter, type Limiter } from "./limits.ts";
import { guessPromptTokens } from "./token-guess.ts";

/** An endpoint's own `rpm`/`tpm`, as config gives them. */
export interface EndpointLimits {
  rpm?: number;
  tpm?: number;
}

/** Calls in flight on one endpoint are bounded by the global concurrency; this limiter only meters. */
const unbounded = 1_000_000;

/** One limiter per endpoint that sets `rpm` or `tpm`, shared by every model on that endpoint. */
export function createEndpointLimiters(clock: Clock = systemClock) {
  const limiters = new Map<string, Limiter>();
  const limiterFor = (name: string, limits: EndpointLimits) => {
    let limiter = limiters.get(name);
    if (!limiter) limiters.set(name, (limiter = createLimiter({ concurrency: unbounded, rpm: limits.rpm, tpm: limits.tpm, clock })));
    return limiter;
  };
  return {
    /** The provider, its calls metered by its endpoint's buckets (inside the global limits). */
    wrap(provider: Provider, limits: EndpointLimits): Provider {
      if (!limits.rpm && !limits.tpm) return provider;
      const limiter = limiterFor(provider.name, limits);
      return {
        ...provider,
        async complete(request) {
          const guess = guessPromptTokens(request.messages) + (request.maxOutputTokens ?? 0);
          // The run's stop ends the wait for the endpoint's turn: a call still waiting for it was
          // never sent, and is no request of this run (the ledger counts none).
          let sent = false;
          const result = await limiter
            .schedule(() => ((sent = true), provider.complete(request)), { priority: 0, tokens: guess, stop: request.stopped })
            .catch((error: unknown) => {
              throw sent || !(error instanceof Error) ? error : leftWaiting(error);
            });
          limiter.settle(guess, result.usage.inputTokens + result.usage.outputTokens);
          return result;
        },
      };
    },
    /** A response from `endpoint`: its 429s, rate headers and retried 5xx reach that endpoint's own buckets. */
    observe(headers: Headers, status: number, endpoint: string) {
      limiters.get(endpoint)?.observe(headers, status);
    },
    async close() {
      await Promise.all([...limiters.values()].map((l) => l.close()));
    },
  };
}
