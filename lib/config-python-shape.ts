import { isRecord } from "./is-record.ts";

type Plain = Record<string, unknown>;

/** Keys only the Python tool's config has; one of them marks a file as the Python tool's. */
const pythonOnlyKeys = ["web_search", "log_level", "prompt_dir", "context_id", "request_timeout", "use_local_cache", "cache_mode", "cache_dir", "mapping_sets", "llm_queue_enabled", "llm_queue_concurrency"];

/**
 * A config file in the Python tool's shape: snake_case keys, or `models.search` / `reasoning.summary`.
 * Apart from lib/config-python.ts, so that reading our own config never loads the Python schema.
 */
export function isPythonConfig(raw: Plain): boolean {
  return pythonOnlyKeys.some((k) => k in raw) || (isRecord(raw.models) && "search" in raw.models) || (isRecord(raw.reasoning) && "summary" in raw.reasoning);
}

/** The keys of the Python tool's config that ours has too. */
const sharedKeys = ["model", "models", "reasoning", "concurrency", "inspiration"];

/**
 * A file named as the Python tool names its config (`app.yaml`) is its config when every key in it
 * is one of that config's keys, even with none of the snake_case ones (`model:` and `concurrency:`
 * alone): no config of ours has that name.
 */
export function isPythonAppYaml(raw: Plain, file: string): boolean {
  if (isPythonConfig(raw)) return true;
  const keys = Object.keys(raw);
  return /(^|[/\\])app\.ya?ml$/.test(file) && keys.length > 0 && keys.every((k) => sharedKeys.includes(k));
}
