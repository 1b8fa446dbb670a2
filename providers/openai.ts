import type { OpenAI as OpenAIClient } from "openai";
import { loadOpenAISdk } from "../lib/openai-sdk.ts";
import { isUsageStop, SAError, unsent } from "../lib/errors.ts";
import { createRetryFetch, defaultMaxWaitMs, refusedWaitHeader, retriesOf } from "../lib/http.ts";
import { addSecret, redact, redactUrl } from "../lib/redact.ts";
import type { ChatRequest, ChatResult, Provider, ProviderContext, Usage } from "./types.ts";

// The SDK, from its precompiled copy when `bun install` made one (lib/openai-sdk.ts).
const { OpenAI, APIError, APIConnectionError } = loadOpenAISdk();

/** The fields of a chat completion's `usage` that we read. */
interface ChatCompletionUsage {
  prompt_tokens?: number;
  completion_tokens?: number;
  prompt_tokens_details?: { cached_tokens?: number | null } | null;
  completion_tokens_details?: { reasoning_tokens?: number | null } | null;
}

export const defaultBaseURL = "https://api.openai.com/v1";

/** The key: `OPENAI_API_KEY`, else `SA_OPENAI_API_KEY` (the name the Python tool reads). */
export const openaiApiKey = (env: Record<string, string | undefined>): string | undefined => env.OPENAI_API_KEY || env.SA_OPENAI_API_KEY || undefined;

/** An `openai` entry's options (lib/schema/providers.ts), as the registry hands them over. */
interface EndpointOptions {
  baseURL?: string;
  apiKeyEnv?: string;
  headers?: Record<string, string | { env: string }>;
  api?: "chat" | "responses";
  organization?: string;
  defaultQuery?: Record<string, string>;
}

/** Where an endpoint is and how it is reached; the secrets are read at call time, never stored on the provider. */
export function endpointSettings(context: Pick<ProviderContext, "env" | "endpoint">) {
  const name = context.endpoint?.name ?? "openai";
  const options = (context.endpoint?.options ?? {}) as EndpointOptions;
  const builtIn = name === "openai";
  const baseURL = (options.baseURL || (builtIn ? context.env.OPENAI_BASE_URL : undefined) || defaultBaseURL).replace(/\/+$/, "");
  const keyName = options.apiKeyEnv ?? (builtIn ? "OPENAI_API_KEY" : undefined);
  const headerVariables = Object.values(options.headers ?? {}).flatMap((v) => (typeof v === "string" ? [] : [v.env]));
  const describeKey = options.apiKeyEnv ?? (builtIn ? "OPENAI_API_KEY (or SA_OPENAI_API_KEY)" : headerVariables.join(", ") || undefined);
  // A key read from a variable config names is redacted from every message, as OPENAI_API_KEY is.
  const apiKey = () => {
    const key = options.apiKeyEnv ? context.env[options.apiKeyEnv] || undefined : builtIn ? openaiApiKey(context.env) : undefined;
    addSecret(key);
    return key;
  };
  const headers = () => {
    const out: Record<string, string> = {};
    for (const [header, value] of Object.entries(options.headers ?? {})) {
      const resolved = typeof value === "string" ? value : context.env[value.env];
      if (typeof value !== "string") addSecret(resolved);
      if (!resolved) throw new SAError("E_USAGE", `providers.${name}.headers.${header}: ${(value as { env: string }).env} is not set`);
      out[header] = resolved;
    }
    return out;
  };
  return { name, options, baseURL, keyName, describeKey, apiKey, headers, api: options.api ?? "chat" };
}

type Settings = ReturnType<typeof endpointSettings>;

/** `preflight --online`'s model list: at most this many attempts, each at most this long. */
const listAttempts = 2;
const listTimeoutMs = 15_000;

function createClient(settings: Settings, context: ProviderContext, expectBody?: (data: unknown) => boolean): OpenAIClient {
  const apiKey = settings.apiKey();
  if (settings.keyName && !apiKey) {
    const also = settings.name === "openai" && !settings.options.apiKeyEnv ? ", nor SA_OPENAI_API_KEY" : "";
    throw new SAError("E_USAGE", `${settings.keyName} is not set${also} (needed for ${settings.name}: models)`);
  }
  return new OpenAI({
    // An endpoint without a key (a local server, or a key in a header) is sent no Authorization header.
    apiKey: apiKey ?? "no-key",
    baseURL: settings.baseURL,
    organization: settings.options.organization ?? null,
    defaultHeaders: { ...settings.headers(), ...(apiKey ? {} : { authorization: null as unknown as string }) },
    defaultQuery: settings.options.defaultQuery,
    maxRetries: 0,
    // The retry layer times each attempt; this only bounds the whole series.
    timeout: context.http.attempts * (context.http.requestTimeout + Math.max(context.http.capMs, context.http.maxWaitMs ?? defaultMaxWaitMs)) + 60_000,
    fetch: createRetryFetch({ ...context.http, fetch: context.fetch, expectBody, onRetry: context.onRetry, onResponseHeaders: context.onResponseHeaders, waitingToRetry: context.waitingToRetry }),
  });
}

/** The JSON Schema as a strict structured output, as the SDK's zod helper writes it. */
const responseFormat = (request: ChatRequest) => ({ type: "json_schema" as const, json_schema: { name: request.schemaName, strict: true, schema: request.jsonSchema } });

/** The body of a chat completion request; a Batch API line (lib/batch/) carries the same. */
export const chatBody = (model: string, request: ChatRequest) => ({
  model,
  messages: request.messages,
  response_format: responseFormat(request),
  ...(request.temperature === undefined ? {} : { temperature: request.temperature }),
  ...(request.seed === undefined ? {} : { seed: request.seed }),
  ...(request.reasoningEffort === undefined ? {} : { reasoning_effort: request.reasoningEffort }),
  ...(request.maxOutputTokens === undefined ? {} : { max_completion_tokens: request.maxOutputTokens }),
});

/** A chat completion's `usage` (a live answer's, or a batch result line's) as ours; what is missing counts 0. */
export function chatUsage(usage: ChatCompletionUsage | null | undefined): Usage {
  return {
    inputTokens: usage?.prompt_tokens ?? 0,
    cachedInputTokens: usage?.prompt_tokens_details?.cached_tokens ?? 0,
    outputTokens: usage?.completion_tokens ?? 0,
    reasoningTokens: usage?.completion_tokens_details?.reasoning_tokens ?? 0,
  };
}

async function chat(client: OpenAIClient, model: string, request: ChatRequest): Promise<ChatResult> {
  const { data, response } = await client.chat.completions.create(chatBody(model, request), { signal: request.signal }).withResponse();
  const message = data.choices[0]?.message;
  const cutOff = data.choices[0]?.finish_reason === "length";
  const retries = retriesOf(response);
  // A refusal is a failed call: the next fallback model may answer.
  if (message?.refusal) throw new SAError("E_PROVIDER", `${model}: the model refused (${redact(message.refusal)})`, { details: { retries, refused: true } });
  return {
    content: message?.content ?? "",
    model: data.model || model,
    responseId: data.id,
    retries,
    ...(cutOff ? { cutOff } : {}),
    usage: chatUsage(data.usage),
  };
}

/** The Responses API: the schema goes in `text.format`; `seed` is not part of that API. */
async function responses(client: OpenAIClient, model: string, request: ChatRequest): Promise<ChatResult> {
  const { data, response } = await client.responses
    .create(
      {
        model,
        input: request.messages,
        text: { format: { type: "json_schema", name: request.schemaName, strict: true, schema: request.jsonSchema } },
        ...(request.temperature === undefined ? {} : { temperature: request.temperature }),
        ...(request.reasoningEffort === undefined ? {} : { reasoning: { effort: request.reasoningEffort } }),
        ...(request.maxOutputTokens === undefined ? {} : { max_output_tokens: request.maxOutputTokens }),
      },
      { signal: request.signal },
    )
    .withResponse();
  const retries = retriesOf(response);
  const parts = data.output.flatMap((item) => (item.type === "message" ? item.content : []));
  const refusal = parts.find((part) => part.type === "refusal");
  if (refusal && refusal.type === "refusal") throw new SAError("E_PROVIDER", `${model}: the model refused (${redact(refusal.refusal)})`, { details: { retries, refused: true } });
  const text = parts.map((part) => (part.type === "output_text" ? part.text : "")).join("");
  const usage: Usage = {
    inputTokens: data.usage?.input_tokens ?? 0,
    cachedInputTokens: data.usage?.input_tokens_details?.cached_tokens ?? 0,
    outputTokens: data.usage?.output_tokens ?? 0,
    reasoningTokens: data.usage?.output_tokens_details?.reasoning_tokens ?? 0,
  };
  const cutOff = data.incomplete_details?.reason === "max_output_tokens";
  return { content: text, model: data.model || model, responseId: data.id, retries, usage, ...(cutOff ? { cutOff } : {}) };
}

/** A 400 refusing a setting that tells reasoning models from others: which modelSettings entry says it. */
function refusedSettingHint(param: string | null | undefined, modelId: string): string {
  if (param === "temperature" || param === "top_p") return `; set modelSettings["${modelId}"].reasoningModel: true (a reasoning model is sent no ${param})`;
  if (param === "reasoning_effort" || param === "reasoning.effort") return `; set modelSettings["${modelId}"].reasoningModel: false (only reasoning models are sent an effort)`;
  return "";
}

/** The SDK's errors as ours: the status, the provider's words (redacted), the request id and the retries. */
function providerError(error: unknown, settings: Settings, model: string): SAError {
  if (error instanceof SAError) return error;
  const label = `${settings.name} ${model}`;
  const retries = retriesOf(error as { headers?: unknown; cause?: unknown });
  if (error instanceof APIError && !(error instanceof APIConnectionError)) {
    // A gateway may put anything in its request id (the key, even): redacted like its words.
    const requestId = error.requestID ? redact(error.requestID) : undefined;
    // The SDK's message starts with the status, which the message below gives once already.
    const reason = redact((error.message.split("\n")[0] ?? "error").replace(/^\d{3} /, ""));
    const id = requestId ? ` (request id ${requestId})` : "";
    const refused = Number(error.headers?.get(refusedWaitHeader) ?? 0);
    const wait = refused ? `; it asked to wait ${Math.round(refused / 1000)} s, more than retry.maxWaitMs, so it was not retried` : "";
    // A rejected key (401), or a key without the right to this model (403), fails every call the
    // same way: stop the run (exit 2) instead of failing each service, unless the stage has a next
    // model to answer instead (lib/call/ask-route.ts).
    const key = settings.describeKey ?? `the key of providers.${settings.name}`;
    if (error.status === 401) return new SAError("E_USAGE", `${label}: HTTP 401 ${reason}: check ${key}${id}`, { cause: error, details: { status: 401, requestId } });
    if (error.status === 403) return new SAError("E_USAGE", `${label}: HTTP 403 ${reason}${id}: check ${key}, and that it may use ${model}`, { cause: error, details: { status: 403, requestId } });
    const hint = error.status === 400 ? refusedSettingHint(error.param, `${settings.name}:${model}`) : "";
    return new SAError("E_PROVIDER", `${label}: HTTP ${error.status ?? "?"} ${reason}${id} after ${retries + 1} attempt(s)${wait}${hint}`, { cause: error, details: { status: error.status, requestId, retries } });
  }
  const cause = error instanceof APIConnectionError && error.cause ? error.cause : error;
  // No answer came back: where the request was going is what a reader needs to know (never its credentials).
  const where = error instanceof APIConnectionError ? ` (${redactUrl(settings.baseURL)})` : "";
  // A retry a usage limit refused (lib/usage-guard.ts `resend`) stops the run for that limit, not as a failed call.
  if (isUsageStop(cause)) return new SAError(cause.code, cause.message, { cause: error, details: { retries } });
  return new SAError("E_PROVIDER", `${label}: ${redact(withoutFetchAdvice((cause as Error).message ?? String(cause)))}${where} after ${retries + 1} attempt(s)`, { cause: error, details: { retries } });
}

/** Bun's advice to fetch's caller (`pass verbose: true ...`) means nothing to a user: the error line drops it. */
const withoutFetchAdvice = (message: string) => message.replace(/\.? For more information, pass `verbose: true` in the second argument to fetch\(\)\.?/, "");

/** The official SDK, for any OpenAI-compatible endpoint named in config (or the built-in `openai`). */
export function create(model: string, context: ProviderContext): Provider {
  const settings = endpointSettings(context);
  const useResponses = settings.api === "responses";
  // A 200 without choices (or output) is a gateway's own JSON and would fail later as a TypeError: retry it.
  const expectBody = (data: unknown) => Array.isArray((data as Record<string, unknown> | null)?.[useResponses ? "output" : "choices"]);
  let client: OpenAIClient | undefined;
  // Made at the first call; a client that cannot be made (no key) fails each call before it sends anything.
  const createdClient = () => {
    try {
      return (client ??= createClient(settings, context, expectBody));
    } catch (error) {
      throw unsent(providerError(error, settings, model));
    }
  };
  return {
    name: settings.name,
    model,
    // What is logged, stored and hashed: never the credentials a gateway URL may carry.
    baseURL: redactUrl(settings.baseURL),
    capabilities: { structuredOutputs: true, seed: !useResponses, reasoning: true },
    async complete(request) {
      try {
        return await (useResponses ? responses : chat)(createdClient(), model, request);
      } catch (error) {
        throw providerError(error, settings, model);
      }
    },
    async listModels() {
      try {
        // A model list has no choices: this client checks only that the answer is JSON. It is a
        // check (preflight --online), so an endpoint that never answers is given up on in
        // seconds, not after every attempt of a model call (6 × 120 s by default).
        const http = { ...context.http, attempts: Math.min(context.http.attempts, listAttempts), requestTimeout: Math.min(context.http.requestTimeout, listTimeoutMs) };
        const lister = createClient(settings, { ...context, http });
        const ids: string[] = [];
        for await (const m of lister.models.list()) ids.push(m.id);
        return ids;
      } catch (error) {
        throw providerError(error, settings, "models");
      }
    },
  };
}
