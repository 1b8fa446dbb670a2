import { AsyncLocalStorage } from "node:async_hooks";
import OpenAI, { APIError, APIConnectionError } from "openai";
import { zodResponseFormat } from "openai/helpers/zod";
import { SAError } from "../lib/errors.ts";
import { createRetryFetch } from "../lib/http.ts";
import { redact, redactUrl } from "../lib/redact.ts";
import type { ChatRequest, ChatResult, Provider, ProviderContext } from "./types.ts";

export const defaultBaseURL = "https://api.openai.com/v1";

/** The key: `OPENAI_API_KEY`, else `SA_OPENAI_API_KEY` (the name the Python tool reads). */
export const openaiApiKey = (env: Record<string, string | undefined>): string | undefined => env.OPENAI_API_KEY || env.SA_OPENAI_API_KEY || undefined;

/** Retries of the call in progress: one client serves every call, so the count travels with the call. */
const retryScope = new AsyncLocalStorage<{ retries: number }>();

/** The official SDK; any OpenAI-compatible endpoint works through OPENAI_BASE_URL. */
export function create(model: string, context: ProviderContext): Provider {
  const baseURL = (context.env.OPENAI_BASE_URL || defaultBaseURL).replace(/\/+$/, "");
  let client: OpenAI | undefined;
  const clientFor = (apiKey: string) =>
    (client ??= new OpenAI({
      apiKey,
      baseURL,
      maxRetries: 0,
      // The retry layer times each attempt; this only bounds the whole series.
      timeout: context.http.attempts * (context.http.requestTimeout + context.http.capMs) + 60_000,
      fetch: createRetryFetch({
        ...context.http,
        fetch: context.fetch,
        // A 200 without choices (a gateway's own JSON) would fail later as a TypeError: retry it.
        expectBody: (data) => Array.isArray((data as { choices?: unknown } | null)?.choices),
        onRetry: (info) => {
          const scope = retryScope.getStore();
          if (scope) scope.retries++;
          context.onRetry?.(info);
        },
        onResponseHeaders: context.onResponseHeaders,
      }),
    }));
  return {
    name: "openai",
    model,
    // What is logged, stored and hashed: never the credentials a gateway URL may carry.
    baseURL: redactUrl(baseURL),
    async complete(request: ChatRequest): Promise<ChatResult> {
      const apiKey = openaiApiKey(context.env);
      if (!apiKey) throw new SAError("E_USAGE", "OPENAI_API_KEY is not set, nor SA_OPENAI_API_KEY (needed for openai: models)");
      const scope = { retries: 0 };
      try {
        const completion = await retryScope.run(scope, () => clientFor(apiKey).chat.completions.create(
          {
            model,
            messages: request.messages,
            response_format: request.responseFormat ?? zodResponseFormat(request.schema, request.schemaName),
            ...(request.temperature === undefined ? {} : { temperature: request.temperature }),
            ...(request.seed === undefined ? {} : { seed: request.seed }),
            ...(request.reasoningEffort === undefined ? {} : { reasoning_effort: request.reasoningEffort }),
            ...(request.maxOutputTokens === undefined ? {} : { max_completion_tokens: request.maxOutputTokens }),
          },
          { signal: request.signal },
        ));
        const message = completion.choices[0]?.message;
        // A refusal is a failed call: the next fallback model may answer.
        if (message?.refusal) throw new SAError("E_PROVIDER", `openai ${model}: the model refused (${redact(message.refusal)})`, { details: { retries: scope.retries } });
        const usage = completion.usage;
        return {
          content: message?.content ?? "",
          model: completion.model || model,
          responseId: completion.id,
          retries: scope.retries,
          usage: {
            inputTokens: usage?.prompt_tokens ?? 0,
            cachedInputTokens: usage?.prompt_tokens_details?.cached_tokens ?? 0,
            outputTokens: usage?.completion_tokens ?? 0,
            reasoningTokens: usage?.completion_tokens_details?.reasoning_tokens ?? 0,
          },
        };
      } catch (error) {
        if (error instanceof SAError) throw error;
        if (error instanceof APIError && !(error instanceof APIConnectionError)) {
          const requestId = error.requestID ?? undefined;
          const reason = redact(error.message.split("\n")[0] ?? "error");
          const retries = scope.retries;
          // A rejected key fails every call the same way: stop the run (exit 2) instead of failing each service.
          if (error.status === 401) throw new SAError("E_USAGE", `openai ${model}: HTTP 401 ${reason}: check OPENAI_API_KEY${requestId ? ` (request id ${requestId})` : ""}`, { cause: error, details: { status: 401, requestId } });
          throw new SAError("E_PROVIDER", `openai ${model}: HTTP ${error.status ?? "?"} ${reason}${requestId ? ` (request id ${requestId})` : ""} after ${retries + 1} attempt(s)`, {
            cause: error,
            details: { status: error.status, requestId, retries },
          });
        }
        const cause = error instanceof APIConnectionError && error.cause ? error.cause : error;
        const retries = scope.retries;
        throw new SAError("E_PROVIDER", `openai ${model}: ${redact((cause as Error).message ?? String(cause))} after ${retries + 1} attempt(s)`, {
          cause: error,
          details: { retries },
        });
      }
    },
  };
}
