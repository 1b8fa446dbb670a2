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
