import type { z } from "zod";
import type { ChatMessage } from "../providers/types.ts";
import { errorMessage } from "./errors.ts";
import type { Pins } from "./response-format.ts";
import { formatIssues } from "./zod-error.ts";
import { fastCheckOf } from "./zod-fast-check.ts";

export type Stage = "descriptions" | "features" | "mapping";

/** What a stage's semantic check found: a repaired value and what had to be dropped. */
export interface CheckResult<T> {
  value: T;
  problems: string[];
}

export interface CallSpec<T> {
  task: string;
  stage: Stage;
  serviceId: string;
  /** Earlier services first, so they finish and free memory. */
  priority: number;
  messages: ChatMessage[];
  /** The schema sent to the model (strict, with enums); it is part of the cache key. */
  schema: z.ZodType<T>;
  schemaName: string;
  /** Identifiers that vary per call, pinned as enums into the JSON Schema sent (not into `schema`). */
  pins?: Pins;
  /**
   * Values a string property may take that are too many to pin (a large catalogue's item ids):
   * never sent, and checked after the answer; an offline provider answers with them.
   */
  choices?: Pins;
  /**
   * A more lenient schema to parse the answer with, when parts of an answer can be dropped
   * (unknown ids, bad facets) instead of failing it whole. @default schema
   */
  parseSchema?: z.ZodType<T>;
  /** Where a Python-tool answer imported by `cache import` would be indexed (for --reuse-imported). */
  imported?: { plateau?: { name: string; level: number }; field?: string };
  /** Checks beyond the schema (every plateau covered, known ids); problems cause one re-ask. */
  check?: (value: T) => CheckResult<T>;
  /** The check for an answer imported from elsewhere, when it differs (the Python tool wrote no facets). @default check */
  importedCheck?: (value: T) => CheckResult<T>;
}

/**
 * Where an answer came from: the run that made it and when, as its cache entry records them
 * (`request.runId`, `createdAt`), so a rerun from the cache names the same source.
 */
export interface AnswerSource {
  runId: string;
  /** ISO time the answer was made: its cache entry's `createdAt`. */
  at: string;
}

export interface CallResult<T> {
  value: T;
  /** `provider:model` that produced the answer (after fallback). */
  model: string;
  cached: boolean;
  source: AnswerSource;
}

/**
 * Parses an answer (JSON text or a cached value) with the call's schema, then its own checks.
 * A value that the schema's compiled check passes is taken as it is, without a zod parse
 * (lib/zod-fast-check.ts): zod would return an equal value (keys in the schema's order; the
 * output is written as canonical JSON either way). Anything else is parsed by zod, so what passes,
 * what fails and every reason stay zod's.
 */
export function validateAnswer<T>(spec: CallSpec<T>, content: unknown): { ok: true; value: T; problems: string[] } | { ok: false; reason: string } {
  let data = content;
  if (typeof content === "string") {
    // Some OpenAI-compatible servers wrap JSON in a Markdown fence even in JSON mode.
    const text = content.trim().replace(/^```(?:json)?\s*\n?([\s\S]*?)\n?```$/, "$1");
    try {
      data = JSON.parse(text);
    } catch (error) {
      return { ok: false, reason: `the answer is not JSON (${errorMessage(error)})` };
    }
  }
  const schema = spec.parseSchema ?? spec.schema;
  let value: T;
  if (typeof data === "object" && fastCheckOf(schema)?.(data)) value = data as T;
  else {
    const parsed = schema.safeParse(data);
    if (!parsed.success) return { ok: false, reason: formatIssues(parsed.error) };
    value = parsed.data;
  }
  const checked = spec.check ? spec.check(value) : { value, problems: [] };
  return { ok: true, value: checked.value, problems: checked.problems };
}
