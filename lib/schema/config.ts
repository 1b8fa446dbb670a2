import { z } from "zod";
import { parseDuration } from "../duration.ts";
import { checksConfigSchema } from "../review/checks-config.ts";
import { providersConfigSchema } from "./providers.ts";

export const cacheModes = ["off", "read", "refresh", "write"] as const;
export const cacheModeSchema = z.enum(cacheModes);
export type CacheMode = z.infer<typeof cacheModeSchema>;

/**
 * The options of the drivers whose options are few and known (`ttl` is ours, `url` has its own
 * check below), so a mistyped one is refused instead of passed on and ignored. Other drivers (redis
 * takes every ioredis option) get theirs unchecked.
 */
const knownDriverOptions: Record<string, string[]> = {
  fs: ["base", "ignore", "readOnly", "noClear", "ttl"],
  "fs-lite": ["base", "ignore", "readOnly", "noClear", "ttl"],
  memory: ["ttl"],
};

/** `{ driver: "fs", base: ".sa/cache" }`: the driver name plus that driver's own options. */
export const cacheConfigSchema = z
  .looseObject({
    driver: z.string().min(1).default("fs"),
    /** Seconds an entry lives. Unset means forever. */
    ttl: z.number().int().positive().optional(),
    /** The store's folder (fs) or key prefix (redis). */
    base: z.string().min(1).optional(),
    /** The store's address (redis: `redis://HOST:PORT[/DB]`). */
    url: z.string().min(1).optional(),
  })
  // ioredis takes any text as a host name: a mistyped URL would only show as a cache that never answers.
  .refine((cache) => cache.driver !== "redis" || cache.url === undefined || /^rediss?:\/\//.test(cache.url), { path: ["url"], message: "expected redis://HOST:PORT[/DB] or rediss://… for the redis driver" })
  // Else a Redis URL given without its driver (SA_CACHE__URL alone) leaves the answers in a local folder, silently.
  .refine((cache) => cache.url === undefined || !/^rediss?:\/\//.test(cache.url) || cache.driver === "redis", { path: ["url"], message: "a Redis URL needs cache.driver redis (SA_CACHE__DRIVER=redis)" })
  .superRefine((cache, ctx) => {
    const known = knownDriverOptions[cache.driver];
    if (!known) return;
    for (const key of Object.keys(cache)) {
      if (key === "driver" || key === "url" || known.includes(key)) continue;
      ctx.addIssue({ code: "custom", path: [key], message: `not an option of the ${cache.driver} driver (its options: ${known.join(", ")})` });
    }
  });

export const mappingSetSchema = z.strictObject({
  /** Catalogue file in the data folder, e.g. `applications.json`. */
  file: z.string().min(1),
  /** Field name in the output, e.g. `applications`. */
  field: z.string().regex(/^[A-Za-z][\w-]*$/, "a field name of letters, digits, _ or -"),
  label: z.string().optional(),
  /** Accept a catalogue with no items; no mapping call is made for it. @default false */
  allowEmpty: z.boolean().optional(),
});

const durationSchema = z.string().refine((text) => parseDuration(text) !== undefined, "a duration such as 24h, 30s or 0.5s");

export const batchDefaults = {
  enabled: false,
  completionWindow: "24h",
  pollInterval: "30s",
  maxRequestsPerBatch: 50_000,
  maxBytesPerBatch: 200 * 1024 * 1024,
  priceFactor: 0.5,
  below: 0,
  quietMs: 200,
};

export const batchConfigSchema = z.strictObject({
  /** `run --batch`. @default false */
  enabled: z.boolean().default(batchDefaults.enabled),
  /** Sent as the batch's `completion_window`. @default "24h" */
  completionWindow: z.string().regex(/^\d+h$/, "hours, such as 24h").default(batchDefaults.completionWindow),
  /** How often a batch in flight is polled. @default "30s" */
  pollInterval: durationSchema.default(batchDefaults.pollInterval),
  /** The provider's limit on requests per batch file; a wave is split past it. @default 50000 */
  maxRequestsPerBatch: z.number().int().positive().max(50_000).default(batchDefaults.maxRequestsPerBatch),
  /** The provider's limit on the batch file's size in bytes. @default 200 MB */
  maxBytesPerBatch: z.number().int().positive().default(batchDefaults.maxBytesPerBatch),
  /** Batch price as a share of the live price (OpenAI: half). @default 0.5 */
  priceFactor: z.number().min(0).max(1).default(batchDefaults.priceFactor),
  /** A wave of fewer calls than this goes live instead (`--batch-below`). @default 0 */
  below: z.number().int().min(0).default(batchDefaults.below),
  /** A wave is sent once no call has been busy for this long (ms). @default 200 */
  quietMs: z.number().int().positive().default(batchDefaults.quietMs),
});
export type BatchConfig = z.infer<typeof batchConfigSchema>;

/** `provider:model`; the flags check it too (scripts/_args.ts), so a bad one names its flag. */
export const modelIdPattern = /^[\w.-]+:.+$/;
const modelIdSchema = z.string().regex(modelIdPattern, "expected provider:model, e.g. openai:gpt-4o-mini");

const positiveInt = z.number().int().positive();

export const reasoningEfforts = ["minimal", "low", "medium", "high"] as const;
export const reasoningSchema = z.strictObject({ effort: z.enum(reasoningEfforts) });

/** `modelSettings["openai:gpt-5"]`: what that model is sent, over the global settings. */
export const modelSettingsSchema = z.strictObject({
  reasoning: reasoningSchema.optional(),
  temperature: z.number().min(0).max(2).optional(),
  maxOutputTokens: positiveInt.optional(),
  /**
   * Whether the model reasons: a reasoning model is sent `reasoning.effort` and never `temperature`
   * or `top_p` (it rejects them); any other model the reverse. @default from lib/reasoning-models.ts
   */
  reasoningModel: z.boolean().optional(),
});
export type ModelSettings = z.infer<typeof modelSettingsSchema>;

export const configSchema = z.strictObject({
  /** Folder with roles, plateaus, definitions, catalogues and context texts. @default "fixtures/data" */
  dataDir: z.string().default("fixtures/data"),
  input: z.string().optional(),
  output: z.string().optional(),
  /** Primary model, `provider:model`. @default "openai:gpt-4o-mini" */
  model: modelIdSchema.default("openai:gpt-4o-mini"),
  /** Named endpoints (`azure`, `backup`, a plug-in): `--model azure:gpt-4o` goes through `providers.azure`. */
  providers: providersConfigSchema,
  /** Per-stage models (each falls back to `model`) and the fallback chain every stage shares. */
  models: z
    .strictObject({
      descriptions: modelIdSchema.optional(),
      features: modelIdSchema.optional(),
      mapping: modelIdSchema.optional(),
      /** Tried in order after a stage's model fails. */
      fallback: z.array(modelIdSchema).default([]),
    })
    .default({ fallback: [] }),
  /** Reasoning effort for every model that reasons (see `modelSettings` and lib/reasoning-models.ts). */
  reasoning: reasoningSchema.optional(),
  /** Output tokens one call may produce (sent as `max_completion_tokens`). Not the run limit `limits.maxOutputTokens`. */
  maxOutputTokens: positiveInt.optional(),
  /** Settings for one model, keyed by `provider:model`; they win over the global ones. */
  modelSettings: z.record(modelIdSchema, modelSettingsSchema).default({}),
  /**
   * Folder of the Python tool's prompt components, relative to the working directory: it holds
   * `situational_context/<contextId>.md` and `inspirations/<inspiration>.md`. @default "prompts"
   */
  promptDir: z.string().min(1).optional(),
  /** Situational context to read from `promptDir`; a named file must exist. @default "university" */
  contextId: z.string().min(1).optional(),
  /** Inspirations list to read from `promptDir`; a named file must exist. @default "general" */
  inspiration: z.string().min(1).optional(),
  /** Ask for a short rationale per mapped item (kept in the cache and transcripts, never in the output). @default false */
  rationale: z.boolean().default(false),
  /** Namespace for cache keys, so several projects can share a store. @default "default" */
  context: z.string().regex(/^[\w.-]+$/).default("default"),
  mappingSets: z
    .array(mappingSetSchema)
    .min(1)
    // Two sets with one field would write their mappings into one field of the output.
    .superRefine((sets, ctx) => {
      for (const [index, set] of sets.entries()) {
        if (sets.findIndex((other) => other.field === set.field) < index) ctx.addIssue({ code: "custom", path: [index, "field"], message: `duplicate "${set.field}" (each mapping set needs a field of its own)` });
      }
    })
    .default([
      { file: "applications.json", field: "applications" },
      { file: "technologies.json", field: "technologies" },
      { file: "information.json", field: "data" },
    ]),
  /** Features asked for per role and plateau. @default 3 */
  featuresPerRole: positiveInt.max(20).default(3),
  /** Catalogues with more items than this use a plain string id, checked after the answer. @default 500 */
  enumLimit: positiveInt.default(500),
  concurrency: positiveInt.max(1024).default(8),
  rpm: positiveInt.optional(),
  tpm: positiveInt.optional(),
  /**
   * Where the RPM/TPM buckets live. `redis` shares one limit between several processes (or
   * machines) using the same `key`. @default { store: "memory" }
   */
  rateLimit: z
    .discriminatedUnion("store", [
      z.strictObject({ store: z.literal("memory") }),
      z.strictObject({ store: z.literal("redis"), url: z.string().min(1), key: z.string().regex(/^[\w.:-]+$/).default("default") }),
    ])
    .default({ store: "memory" }),
  temperature: z.number().min(0).max(2).optional(),
  seed: z.number().int().default(0),
  /** Milliseconds one HTTP attempt may take. @default 120000 */
  requestTimeout: positiveInt.default(120_000),
  retry: z
    .strictObject({
      /** Attempts per request, the first one included. @default 6 */
      attempts: positiveInt.max(20).default(6),
      baseMs: positiveInt.default(500),
      capMs: positiveInt.default(30_000),
      /** The longest retry-after (or 429 reset) waited; a longer one fails the call at once, for the fallback. @default 120000 */
      maxWaitMs: positiveInt.default(120_000),
    })
    .default({ attempts: 6, baseMs: 500, capMs: 30_000, maxWaitMs: 120_000 }),
  /**
   * A model that failed `failures` calls in a row (after their retries) is skipped for the next
   * model for `coolDownMs`, then one call tries it again. Only while a next model follows.
   */
  circuitBreaker: z.strictObject({ failures: positiveInt.default(3), coolDownMs: positiveInt.default(30_000) }).default({ failures: 3, coolDownMs: 30_000 }),
  cacheMode: cacheModeSchema.default("read"),
  cache: cacheConfigSchema.default({ driver: "fs", base: ".sa/cache" }),
  transcripts: z.boolean().default(false),
  quarantineDir: z.string().default(".sa/quarantine"),
  strict: z.boolean().default(false),
  limits: z
    .strictObject({
      maxRequests: positiveInt.optional(),
      maxTokens: positiveInt.optional(),
      maxInputTokens: positiveInt.optional(),
      maxOutputTokens: positiveInt.optional(),
    })
    .default({}),
  budget: z
    .strictObject({ hardUsd: z.number().positive().optional(), softUsd: z.number().positive().optional() })
    .default({}),
  /** USD per million tokens, keyed by `provider:model`; wins over the bundled price table. */
  pricing: z
    .record(modelIdSchema, z.strictObject({ input: z.number().min(0), cachedInput: z.number().min(0).optional(), output: z.number().min(0) }))
    .default({}),
  ledger: z.strictObject({ path: z.string().default(".sa/usage.json") }).default({ path: ".sa/usage.json" }),
  /** Expected output tokens per call, for estimates before any run is in the ledger. */
  estimate: z
    .strictObject({ descriptions: positiveInt.default(900), features: positiveInt.default(1500), mapping: positiveInt.default(1200) })
    .default({ descriptions: 900, features: 1500, mapping: 1200 }),
  /** Batch mode (`run --batch`): waves of calls through the provider's Batch API at its batch price. */
  batch: batchConfigSchema.default(batchDefaults),
  /** Workers on a BullMQ queue (`worker`, `run --queue`, `queue`): the Redis URL, the queue's name, attempts per job, and a job's lock in ms. */
  queue: z
    .strictObject({ url: z.string().min(1).optional(), name: z.string().regex(/^[\w.-]+$/).default("sa"), attempts: positiveInt.max(50).default(3), lockDuration: positiveInt.default(30_000) })
    .default({ name: "sa", attempts: 3, lockDuration: 30_000 }),
  /** `check` and the HTML report's checks: brand names to flag, and each check's severity. */
  checks: checksConfigSchema.default({ brands: [], severity: {} }),
});

export type Config = z.infer<typeof configSchema>;
export type ConfigInput = z.input<typeof configSchema>;
