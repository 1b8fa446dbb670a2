import type { ArgsDef } from "citty";
import { SAError } from "../lib/errors.ts";
import { cacheModes, modelIdPattern } from "../lib/schema/config.ts";

/** The flags every task shares, with the same names everywhere. */
export const sharedArgs = {
  config: { type: "string", description: "Config file (default: service-ambitions.config.{ts,json,yaml,yml} in the working directory, else the Python tool's config/app.yaml)" },
  input: { type: "string", alias: "i", description: "Input file; - reads stdin" },
  output: { type: "string", alias: "o", description: "Output file; - writes stdout" },
  data: { type: "string", description: "Data folder: roles, plateaus, definitions, catalogues (config dataDir)" },
  model: { type: "string", description: "provider:model, e.g. openai:gpt-4o-mini or synthetic:demo" },
  "descriptions-model": { type: "string", description: "Model of the descriptions stage (config models.descriptions; default --model)" },
  "features-model": { type: "string", description: "Model of the features stage (config models.features; default --model)" },
  "mapping-model": { type: "string", description: "Model of the mapping stage (config models.mapping; default --model)" },
  "context-id": { type: "string", description: "Situational context <promptDir>/situational_context/<id>.md (config contextId; default university)" },
  inspiration: { type: "string", description: "Inspirations <promptDir>/inspirations/<id>.md (config inspiration; default general)" },
  "cache-mode": { type: "string", description: "off | read | refresh | write (default read)" },
  concurrency: { type: "string", description: "Calls in flight at once (default 8)" },
  rpm: { type: "string", description: "Requests per minute" },
  tpm: { type: "string", description: "Tokens per minute" },
  "max-requests": { type: "string", description: "Stop (exit 3) after this many provider requests (retries included)" },
  "max-tokens": { type: "string", description: "Stop (exit 3) before total tokens exceed this" },
  "max-input-tokens": { type: "string", description: "Stop (exit 3) before input tokens exceed this" },
  "max-output-tokens": { type: "string", description: "Stop (exit 3) before output tokens exceed this" },
  budget: { type: "string", description: "Hard budget in USD: a call that would cross it is not made (exit 3)" },
  "dry-run": { type: "boolean", description: "No network: answer from the cache and list every miss" },
  strict: { type: "boolean", description: "Anything quarantined fails the run (exit 1)" },
  json: { type: "boolean", description: "Print one JSON summary as the last line on stdout" },
  verbose: { type: "boolean", alias: "v", description: "Debug logs and stack traces" },
  quiet: { type: "boolean", alias: "q", description: "Errors only" },
  "log-format": { type: "string", description: "text | json (one JSON object per log line on stderr)" },
} as const satisfies ArgsDef;

/** The flags of tasks that call no model (cache, usage, export). */
export const commonArgs = {
  config: sharedArgs.config,
  json: sharedArgs.json,
  verbose: sharedArgs.verbose,
  quiet: sharedArgs.quiet,
  "log-format": sharedArgs["log-format"],
} as const satisfies ArgsDef;

type Raw = Record<string, unknown>;

const decimal = /^\+?(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?$/i;

function number(args: Raw, flag: string, kind: "int" | "float" = "int"): number | undefined {
  const raw = args[flag];
  if (raw === undefined || raw === "") return undefined;
  // Decimal only: Number() also reads 0x10, 0b11 and 0o7, which no one means in a flag.
  const value = decimal.test(String(raw).trim()) ? Number(raw) : Number.NaN;
  const ok = kind === "int" ? Number.isSafeInteger(value) && value > 0 : Number.isFinite(value) && value > 0;
  if (!ok) throw new SAError("E_USAGE", `--${flag}: expected a positive ${kind === "int" ? "whole number" : "number"}, got "${String(raw)}"`);
  return value;
}

/** A flag that must be one of `options`, named with its value when it is not (not as the config key it sets). */
function choice(args: Raw, flag: string, options: readonly string[]): string | undefined {
  const raw = args[flag];
  if (raw === undefined || raw === "") return undefined;
  if (!options.includes(String(raw))) throw new SAError("E_USAGE", `--${flag}: expected ${options.join(" | ")}, got "${String(raw)}"`);
  return String(raw);
}

/** A `provider:model` flag, named with its value when it has no provider part. */
function modelFlag(args: Raw, flag: string): string | undefined {
  const raw = args[flag];
  if (raw === undefined || raw === "") return undefined;
  if (!modelIdPattern.test(String(raw))) throw new SAError("E_USAGE", `--${flag}: expected provider:model, e.g. openai:gpt-4o-mini or synthetic:demo, got "${String(raw)}"`);
  return String(raw);
}

/** A flag that must be a positive whole number, or undefined when not given. */
export const positiveInt = (args: Raw, flag: string) => number(args, flag);

/** Flags in config shape; unset flags stay undefined so they never override the config. */
export function configOverrides(args: Raw): Record<string, unknown> {
  return {
    dataDir: args.data,
    model: modelFlag(args, "model"),
    models: { descriptions: modelFlag(args, "descriptions-model"), features: modelFlag(args, "features-model"), mapping: modelFlag(args, "mapping-model") },
    contextId: args["context-id"],
    inspiration: args.inspiration,
    cacheMode: choice(args, "cache-mode", cacheModes),
    concurrency: number(args, "concurrency"),
    rpm: number(args, "rpm"),
    tpm: number(args, "tpm"),
    strict: args.strict ? true : undefined,
    limits: {
      maxRequests: number(args, "max-requests"),
      maxTokens: number(args, "max-tokens"),
      maxInputTokens: number(args, "max-input-tokens"),
      maxOutputTokens: number(args, "max-output-tokens"),
    },
    budget: { hardUsd: number(args, "budget", "float") },
  };
}
