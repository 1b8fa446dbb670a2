import type { z } from "zod";
import type { RetryInfo } from "../lib/http.ts";

export interface ChatMessage {
  role: "system" | "user" | "assistant";
  content: string;
}

export interface ChatRequest {
  messages: ChatMessage[];
  /** The zod schema of the answer; providers with structured outputs send it. */
  schema: z.ZodType;
  schemaName: string;
  /** The same schema as JSON Schema (what the cache key and the synthetic provider use). */
  jsonSchema: Record<string, unknown>;
  /** The SDK zod helper's response_format for `schema`, built once by the session. */
  responseFormat?: ReturnType<typeof import("openai/helpers/zod").zodResponseFormat>;
  temperature?: number;
  seed?: number;
  /** Sent to reasoning models only (the session decides, from lib/reasoning-models.ts). */
  reasoningEffort?: "minimal" | "low" | "medium" | "high";
  /** Output tokens this call may produce. */
  maxOutputTokens?: number;
  signal?: AbortSignal;
}

/** The settings a call sends besides its messages and schema; all of them are in the cache key. */
export type CallSettings = Pick<ChatRequest, "temperature" | "seed" | "reasoningEffort" | "maxOutputTokens">;

export interface Usage {
  inputTokens: number;
  cachedInputTokens: number;
  outputTokens: number;
  reasoningTokens: number;
}

export interface ChatResult {
  /** The answer's JSON text, not yet validated. */
  content: string;
  usage: Usage;
  /** The model that answered, as the provider named it. */
  model: string;
  responseId?: string;
  /** HTTP retries this call needed. */
  retries: number;
}

export interface Provider {
  /** Registry name, e.g. `openai`. */
  name: string;
  model: string;
  /** Part of the cache key: the same model behind another endpoint may answer differently. */
  baseURL: string;
  complete(request: ChatRequest): Promise<ChatResult>;
}

/** What a provider may use; tests inject a local server's URL and a fetch. */
export interface ProviderContext {
  env: Record<string, string | undefined>;
  fetch?: typeof globalThis.fetch;
  http: { attempts: number; baseMs: number; capMs: number; requestTimeout: number };
  onRetry?: (info: RetryInfo) => void;
  onResponseHeaders?: (headers: Headers, status: number) => void;
}

export interface ProviderModule {
  create(model: string, context: ProviderContext): Provider;
}
