import { existsSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { z } from "zod";
import { cacheModeSchema, reasoningEfforts } from "./schema/config.ts";

type Plain = Record<string, unknown>;

const text = z.string().min(1);

/** The Python tool's `AppConfig` (its `config/app.yaml`), read as that tool reads it: unknown keys are errors. */
export const pythonConfigSchema = z.strictObject({
  model: text.optional(),
  models: z.strictObject({ descriptions: text.nullish(), features: text.nullish(), mapping: text.nullish(), search: text.nullish() }).nullish(),
  // The Python tool passes unknown reasoning keys through to its provider; they are listed as ignored here.
  reasoning: z.looseObject({ effort: z.enum(reasoningEfforts).nullish(), summary: z.enum(["detailed", "concise"]).nullish() }).nullish(),
  web_search: z.boolean().optional(),
  log_level: text.optional(),
  prompt_dir: z.string().optional(),
  context_id: text.optional(),
  inspiration: text.optional(),
  concurrency: z.number().int().min(1).optional(),
  /** Seconds. */
  request_timeout: z.number().positive().optional(),
  use_local_cache: z.boolean().optional(),
  cache_mode: cacheModeSchema.optional(),
  cache_dir: z.string().optional(),
  mapping_sets: z.array(z.strictObject({ name: text, file: text, field: text })).optional(),
  // In the Python tool's example config (commented out); accepted so that uncommenting them does no harm.
  llm_queue_enabled: z.boolean().optional(),
  llm_queue_concurrency: z.number().int().min(1).optional(),
});
export type PythonConfig = z.infer<typeof pythonConfigSchema>;

/** Python's `os.path.expandvars` then `expanduser`: unset variables are left as written. */
export function expandPath(path: string, env: Record<string, string | undefined>): string {
  const expanded = path.replace(/\$(?:\{(\w+)\}|(\w+))/g, (whole, braced?: string, bare?: string) => env[(braced ?? bare)!] ?? whole);
  return expanded === "~" || expanded.startsWith("~/") ? join(homedir(), expanded.slice(1)) : expanded;
}

/** Where the Python tool keeps its cache: `cache_dir` expanded, or its default when a variable in it is unset. */
export function pythonCacheDir(cacheDir: string | undefined, env: Record<string, string | undefined>): string {
  const fallback = join(env.XDG_CACHE_HOME || tmpdir(), "service-ambitions");
  if (cacheDir === undefined) return fallback;
  const expanded = expandPath(cacheDir, env);
  return expanded.includes("$") ? fallback : expanded;
}

/**
 * The Python tool's defaults for keys its config leaves out, where ours differ and it matters: the
 * model (it changes every answer) and the cache folder (its cache and ours side by side).
 */
export function withPythonDefaults(layer: Plain, env: Record<string, string | undefined>): Plain {
  return { model: "openai:gpt-5", cache: { driver: "fs", base: pythonCacheDir(undefined, env) }, ...layer };
}

/** The Python tool's prompt templates: its prompt folder may hold them, and they are not read here. */
const pythonTemplates = ["description_prompt.md", "mapping_prompt.md", "mapping_prompt_diagnostics.md", "plateau_descriptions_prompt.md", "plateau_prompt.md", "service_feature_plateaus.md", "task_definition.md"];

/** The Python tool's templates that are in `promptDir`, sorted. */
export const pythonTemplatesIn = (promptDir: string): string[] => pythonTemplates.filter((name) => existsSync(join(promptDir, name)));

/** `openai:gpt-5` is already ours; a bare name is an OpenAI model, as the Python tool treats it. */
const pythonModelId = (id: string) => (id.includes(":") ? id : `openai:${id}`);

export interface PythonMapping {
  /** A layer in our config's shape. */
  layer: Plain;
  /** Keys of the file with no meaning here, as written (`web_search`, `models.search`, ...). */
  ignored: string[];
  /** Keys that mean something else here than there, each said in one line. */
  notes: string[];
}

/** Python: no mapping set, no mapping call. Ours always maps, to the default sets when none is named. */
const noMappingSets = (given: boolean) =>
  `mapping_sets is ${given ? "empty" : "not set"}: the Python tool then mapped to no catalogue; here the default sets are mapped (applications.json, technologies.json, information.json): name the sets you want in mapping_sets`;

/**
 * Maps the Python tool's config to ours. `accepts(key)` says whether our config has a top-level
 * key; a Python key whose counterpart this version lacks is listed as ignored instead of failing.
 */
export function fromPythonConfig(py: PythonConfig, options: { env: Record<string, string | undefined>; accepts: (key: string) => boolean }): PythonMapping {
  // The Python tool reads its data from ./data (mapping_data_dir and roles_file defaults).
  const layer: Plain = { dataDir: "data" };
  const ignored: string[] = [];
  const put = (pyKey: string, key: string, value: unknown) => {
    if (value === undefined || value === null) return;
    if (options.accepts(key)) layer[key] = value;
    else ignored.push(pyKey);
  };
  put("model", "model", py.model && pythonModelId(py.model));
  const models = py.models ?? {};
  const stageModels = Object.fromEntries((["descriptions", "features", "mapping"] as const).filter((s) => models[s]).map((s) => [s, pythonModelId(models[s]!)]));
  if (Object.keys(stageModels).length) layer.models = stageModels;
  if (models.search) ignored.push("models.search");
  const { effort, ...otherReasoning } = py.reasoning ?? {};
  if (effort) layer.reasoning = { effort };
  ignored.push(...Object.entries(otherReasoning).filter(([, v]) => v != null).map(([k]) => `reasoning.${k}`));
  for (const key of ["web_search", "log_level", "llm_queue_enabled", "llm_queue_concurrency"] as const) if (py[key] !== undefined) ignored.push(key);
  put("prompt_dir", "promptDir", py.prompt_dir === undefined ? undefined : expandPath(py.prompt_dir, options.env));
  put("context_id", "contextId", py.context_id);
  put("inspiration", "inspiration", py.inspiration);
  put("concurrency", "concurrency", py.concurrency);
  put("request_timeout", "requestTimeout", py.request_timeout === undefined ? undefined : Math.round(py.request_timeout * 1000));
  // As the Python tool reads them: SA_USE_LOCAL_CACHE (1, true, yes: on) over use_local_cache,
  // SA_CACHE_MODE over cache_mode, and no local cache is no cache whatever the mode says.
  const useLocal = options.env.SA_USE_LOCAL_CACHE;
  const local = useLocal === undefined ? py.use_local_cache !== false : ["1", "true", "yes"].includes(useLocal.toLowerCase());
  const envMode = cacheModeSchema.safeParse(options.env.SA_CACHE_MODE).data;
  put("cache_mode", "cacheMode", local ? (envMode ?? py.cache_mode) : "off");
  if (py.cache_dir !== undefined) layer.cache = { driver: "fs", base: pythonCacheDir(py.cache_dir, options.env) };
  const notes: string[] = [];
  if (py.mapping_sets?.length) layer.mappingSets = py.mapping_sets.map((s) => ({ file: s.file, field: s.field, label: s.name }));
  else notes.push(noMappingSets(py.mapping_sets !== undefined));
  return { layer, ignored, notes };
}
