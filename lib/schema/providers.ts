import { z } from "zod";

/**
 * Strings shaped like credentials, which must come from a variable: a `sk-` key, a bearer token,
 * a long hex key (Azure's), or a long run of mixed-case letters and digits.
 */
export const looksLikeSecret = (value: string): boolean =>
  /^(sk-|sk_|Bearer\s)/i.test(value) || /^[a-f0-9]{32,}$/i.test(value) || (value.length >= 20 && /[a-z]/.test(value) && /[A-Z]/.test(value) && /\d/.test(value) && !/\s/.test(value));

const nameOnly = "the NAME of an environment variable (letters, digits, _), never the key itself";

/** A variable's name, never its value. */
const envName = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, nameOnly)
  .refine((v) => !looksLikeSecret(v), nameOnly);

/** A header value: plain text, or `{env: "NAME"}` for a value read from a variable (a secret). */
const headerValue = z.union([
  z.string().refine((v) => !looksLikeSecret(v), "looks like a secret: write {\"env\": \"VARIABLE\"} and keep the value in that variable"),
  z.strictObject({ env: envName }),
]);

const price = z.strictObject({ input: z.number().min(0), cachedInput: z.number().min(0).optional(), output: z.number().min(0) });

const limits = {
  /** Requests per minute on this endpoint alone (the global `rpm` still applies). */
  rpm: z.number().int().positive().optional(),
  /** Tokens per minute on this endpoint alone (the global `tpm` still applies). */
  tpm: z.number().int().positive().optional(),
  /** USD per million tokens, keyed by the model name on this endpoint (`gpt-4o`). */
  pricing: z.record(z.string(), price).optional(),
};

/** Any OpenAI-compatible endpoint: OpenAI, Azure OpenAI, OpenRouter, Ollama, vLLM. */
export const openaiEndpointSchema = z.strictObject({
  type: z.literal("openai"),
  baseURL: z.url().optional(),
  /** The variable holding the key. @default OPENAI_API_KEY (then SA_OPENAI_API_KEY) for the `openai` entry */
  apiKeyEnv: envName.optional(),
  headers: z.record(z.string(), headerValue).optional(),
  /** `chat` (Chat Completions) or `responses` (the Responses API). @default "chat" */
  api: z.enum(["chat", "responses"]).optional(),
  organization: z.string().optional(),
  /** Query parameters sent with every request, e.g. Azure's `{"api-version": "2024-10-21"}`. */
  defaultQuery: z.record(z.string(), z.string()).optional(),
  ...limits,
});

export const syntheticEndpointSchema = z.strictObject({ type: z.literal("synthetic"), ...limits });

/** A plug-in: a path (relative to the config file, else the working directory) or a package name. */
export const moduleEndpointSchema = z.strictObject({
  type: z.literal("module"),
  module: z.string().min(1),
  /** Passed to the plug-in as `context.endpoint.options.options`. */
  options: z.record(z.string(), z.unknown()).optional(),
  ...limits,
});

export const endpointSchema = z.discriminatedUnion("type", [openaiEndpointSchema, syntheticEndpointSchema, moduleEndpointSchema]);
export type EndpointConfig = z.infer<typeof endpointSchema>;

/** `providers`: named endpoints; the name is what a model id starts with (`azure:gpt-4o`). */
export const providersConfigSchema = z.record(z.string().regex(/^[\w.-]+$/, "an endpoint name of letters, digits, _, . or -"), endpointSchema).default({});
