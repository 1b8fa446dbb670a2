import type { RetryInfo } from "../lib/http.ts";

export interface ChatMessage {
  role: "system" | "user" | "assistant";
  content: string;
}

/** A JSON Schema object, as zod's `z.toJSONSchema` (draft-7) writes it. */
export type JsonSchema = Record<string, unknown>;

/** What a call asks of a provider: plain data, no SDK types. */
export interface ChatRequest {
  messages: ChatMessage[];
  /** The answer's JSON Schema; each provider turns it into its own wire format. */
  jsonSchema: JsonSchema;
  /** The schema's name (OpenAI's `json_schema.name`). */
  schemaName: string;
  temperature?: number;
  seed?: number;
  /** Sent to reasoning models only (the session decides, from lib/reasoning-models.ts). */
  reasoningEffort?: "minimal" | "low" | "medium" | "high";
  /** Output tokens this call may produce. */
  maxOutputTokens?: number;
  signal?: AbortSignal;
  /**
   * The run's stop as this call heeds it (a re-ask after Ctrl-C still goes): it ends a wait for
   * the call's turn under its endpoint's own `rpm`/`tpm`, never a request already sent.
   */
  stopped?: AbortSignal;
  /**
   * Values a string property may take that the JSON Schema could not pin (too many for an enum):
   * for providers that build answers from the schema (synthetic); a model API is never sent them.
   */
  choices?: Record<string, string[]>;
  /** The call's cache key (a re-ask's carries `:reask`): a batch request's `custom_id`. */
  requestKey?: string;
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
  /** HTTP retries this call needed, as the retry layer counted them. */
  retries: number;
  /** Answered through a Batch API: the share of the live price it costs. */
  batchPriceFactor?: number;
  /** The answer stopped at the output cap (`maxOutputTokens`): a re-ask would be cut off again. */
  cutOff?: boolean;
}

/** What a provider can do; the session and preflight ask before they rely on it. */
export interface Capabilities {
  /** Sends the JSON Schema as a strict structured output. @default true */
  structuredOutputs?: boolean;
  /** Honours `seed`. @default true */
  seed?: boolean;
  /** Takes `reasoningEffort`. @default true */
  reasoning?: boolean;
}

export interface Provider {
  /** The endpoint's name, e.g. `openai` or `azure`: the part before `:` in a model id. */
  name: string;
  model: string;
  /** Part of the cache key, without credentials: the same model behind another endpoint may answer differently. */
  baseURL: string;
  capabilities?: Capabilities;
  complete(request: ChatRequest): Promise<ChatResult>;
  /** The model ids the endpoint serves (`preflight --online`). */
  listModels?(): Promise<string[]>;
  /** USD for one call's usage, or null when unknown; without it the bundled price table is used. */
  price?(usage: Pick<Usage, "inputTokens" | "cachedInputTokens" | "outputTokens">): number | null;
}

/** One named endpoint from config's `providers` (or a built-in one), with its options. */
export interface Endpoint {
  /** The name models use, e.g. `azure` in `azure:gpt-4o`. */
  name: string;
  type: string;
  /** The endpoint's options as config gives them (see lib/schema/providers.ts). */
  options: Record<string, unknown>;
  /** The config file's folder: a module path is resolved from it. */
  baseDir?: string;
}

/** What a provider may use; tests point it at a local server (the environment's or an endpoint's base URL). */
export interface ProviderContext {
  env: Record<string, string | undefined>;
  /** @default the global fetch */
  fetch?: typeof globalThis.fetch;
  http: { attempts: number; baseMs: number; capMs: number; requestTimeout: number; maxWaitMs?: number; stopped?: AbortSignal; beforeRetry?: () => Error | undefined };
  onRetry?: (info: RetryInfo) => void;
  /** Every response's headers; `endpoint` is the endpoint's name (a pause holds that endpoint's calls only). */
  onResponseHeaders?: (headers: Headers, status: number, endpoint?: string) => void;
  /** A call starts waiting to retry after `status`; the function returned is called when the wait ends (see lib/retry-first.ts). */
  waitingToRetry?: (status: number | undefined, endpoint?: string) => () => void;
  /** The endpoint the model id named. @default the built-in entry of the same name */
  endpoint?: Endpoint;
}

export interface ProviderModule {
  create(model: string, context: ProviderContext): Provider | Promise<Provider>;
}
