import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { resolve, extname } from "node:path";
import type { z } from "zod";
import { isPythonAppYaml } from "./config-python-shape.ts";
import { SAError, errorMessage, isSAError } from "./errors.ts";
import { cacheModeSchema, configSchema, type Config } from "./schema/config.ts";
import { endpointPricing } from "./endpoints.ts";
import { parseModelId, type Endpoints } from "../providers/index.ts";
import { formatIssues, issueLocation } from "./zod-error.ts";
import { lineOf, sourceLineOf, syntaxErrorLine, yamlLineOf } from "./json-position.ts";
import { isRecord } from "./is-record.ts";
import { readUtf8File, withoutBom } from "./utf8-text.ts";

export const configFileNames = ["service-ambitions.config.ts", "service-ambitions.config.json", "service-ambitions.config.yaml", "service-ambitions.config.yml"];

/** Where the Python tool looks for its config; read when none of ours exists. */
export const pythonConfigFile = "config/app.yaml";

/** `SA_*` variables that hold secrets: read where they are needed, never turned into config. */
const secretEnvNames = new Set(["SA_OPENAI_API_KEY", "SA_LOGFIRE_TOKEN"]);
/** `SA_*` variables read before any config, at start-up (lib/task-bundle.ts): not config either. */
const startupEnvNames = new Set(["SA_NO_PRECOMPILED"]);

type Plain = Record<string, unknown>;

/** Whether a layer's value sets anything: an object of unset flags (`limits: {maxRequests: undefined}`) does not. */
const setsSomething = (value: unknown): boolean => (isRecord(value) ? Object.keys(value).length === 0 || Object.values(value).some(setsSomething) : value !== undefined);

/** Deep merge where later layers win; arrays are replaced, `undefined` never overrides. */
export function mergeLayers(...layers: Plain[]): Plain {
  const out: Plain = {};
  for (const layer of layers) {
    for (const [key, value] of Object.entries(layer)) {
      // Else the flags' empty `models: {}` would replace a `models` variable that is no object, which then goes unchecked.
      if (!setsSomething(value)) continue;
      out[key] = isRecord(value) && isRecord(out[key]) ? mergeLayers(out[key] as Plain, value) : value;
    }
  }
  return out;
}

const camel = (s: string) => s.toLowerCase().replace(/_([a-z0-9])/g, (_m, c: string) => c.toUpperCase());

type AnySchema = z.core.$ZodType & { def: Record<string, any>; shape?: Record<string, AnySchema> };

/** Whether the config schema has a place for `path` (a key of a strict object, or below a loose one or a record). */
export function acceptsPath(schema: AnySchema, path: string[]): boolean {
  let node = schema;
  while (["default", "optional", "nullable", "prefault"].includes(node.def.type)) node = node.def.innerType;
  if (path.length === 0) return true;
  const [key, ...rest] = path;
  if (node.def.type === "record") return true;
  if (node.def.type === "union") return (node.def.options as AnySchema[]).some((option) => acceptsPath(option, path));
  if (node.def.type !== "object") return false;
  const child = node.shape?.[key!];
  if (child) return acceptsPath(child, rest);
  return node.def.catchall !== undefined && node.def.catchall.def.type !== "never";
}

/** The Python tool's own variables that have a counterpart here under another name. */
const pythonEnvAliases: Record<string, { path: string[]; value: (raw: string) => unknown }> = {
  SA_CACHE_DIR: { path: ["cache", "base"], value: (raw) => raw },
  // The Python tool counts 1, true and yes as on; off means no cache at all, whatever SA_CACHE_MODE says.
  SA_USE_LOCAL_CACHE: { path: ["cacheMode"], value: (raw) => (["1", "true", "yes"].includes(raw.toLowerCase()) ? undefined : "off") },
};

/**
 * Whether the top-level config key at `path` takes text, so a variable's value such as 2024 for
 * `contextId` stays the id "2024", not the number. Nested keys (a cache driver's options) are
 * parsed as JSON, as their drivers expect.
 */
function takesText(schema: AnySchema, path: string[]): boolean {
  let node = schema;
  while (["default", "optional", "nullable", "prefault"].includes(node.def.type)) node = node.def.innerType;
  if (path.length === 0) return node.def.type === "string" || (node.def.type === "union" && (node.def.options as AnySchema[]).some((option) => takesText(option, [])));
  const child = node.def.type === "object" ? node.shape?.[path[0]!] : undefined;
  return child ? takesText(child, path.slice(1)) : false;
}

function envValue(raw: string, text: boolean): unknown {
  if (text) return raw;
  try {
    return JSON.parse(raw);
  } catch {
    return raw; // A plain string such as a path or a model id.
  }
}

/**
 * `SA_CACHE_MODE=off` → `{cacheMode: "off"}`; `SA_CACHE__DRIVER=redis` → `{cache: {driver: "redis"}}`.
 * A variable that names no config key (`SA_PASSWORD`) is left out and listed in `ignored`.
 */
export function envLayer(env: Record<string, string | undefined>): { layer: Plain; sources: Map<string, string>; ignored: string[] } {
  const layer: Plain = {};
  const sources = new Map<string, string>();
  const ignored: string[] = [];
  for (const [name, raw] of Object.entries(env).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    if (!name.startsWith("SA_") || raw === undefined || secretEnvNames.has(name) || startupEnvNames.has(name)) continue;
    const alias = pythonEnvAliases[name];
    const path = alias?.path ?? name.slice(3).split("__").map(camel);
    if (!acceptsPath(configSchema as unknown as AnySchema, path)) {
      ignored.push(name);
      continue;
    }
    const value = alias ? alias.value(raw) : envValue(raw, path.length === 1 && takesText(configSchema as unknown as AnySchema, path));
    if (value === undefined) continue;
    let node = layer;
    for (const key of path.slice(0, -1)) node = (node[key] = isRecord(node[key]) ? node[key] : {}) as Plain;
    node[path.at(-1)!] = value;
    sources.set(path.join("."), name);
  }
  return { layer, sources, ignored };
}

/** The Python tool's variables that no config key takes the place of here, and why none is needed (MIGRATING.md). */
const pythonOnlyEnv: Record<string, string> = {
  SA_LLM_PROVIDER: "the provider is the part of --model before the colon",
  SA_TRACE_IDS: "every final error names the provider's request id",
  SA_ADDITIONAL_TRANSIENT_EXCEPTIONS: "the statuses retried are fixed; config retry sets attempts and backoff",
};

/** Variables that name no key: the Python tool's each with what takes its place, any other in one line. */
function warnIgnoredEnv(ignored: string[], log: LoadConfigOptions["log"]): void {
  const other = ignored.filter((name) => !(name in pythonOnlyEnv));
  for (const name of ignored.filter((n) => n in pythonOnlyEnv)) log?.warn(`environment: ignoring the Python tool's ${name}: not needed here (${pythonOnlyEnv[name]}; see MIGRATING.md)`);
  if (other.length) log?.warn(`environment: ignoring ${other.join(", ")}: not a config key (see README, Config)`);
}

/** Below this many milliseconds a request timeout from the environment may be the Python tool's seconds. */
const shortestRequestTimeout = 1000;

/**
 * `SA_REQUEST_TIMEOUT` is in milliseconds here; the Python tool's README gives it in seconds
 * (`SA_REQUEST_TIMEOUT=60`), which would time out every call. Such a value is said in one warning
 * naming the value to write, and kept: a short timeout in ms is what a test of hung answers sets.
 */
function warnShortEnvTimeout(layer: Plain, log: LoadConfigOptions["log"]): void {
  const value = layer.requestTimeout;
  if (typeof value !== "number" || value <= 0 || value >= shortestRequestTimeout) return;
  log?.warn(`config: SA_REQUEST_TIMEOUT=${value} is ${value} ms: requestTimeout is in milliseconds here (the Python tool counted seconds); for ${value} s write SA_REQUEST_TIMEOUT=${value * 1000}`);
}

/** Where a config file failed to load, and why: a YAML error and Bun's build error (a TS/JS syntax error) know their line; a JSON one is found again (Bun's message has no position). */
function loadFailure(cause: unknown, ext: string, text: string | undefined): { line?: number; message: string } {
  if ((cause as NodeJS.ErrnoException).code === "EISDIR") return { message: "a folder, not a file" };
  const built = (cause as { errors?: Array<{ message?: string; position?: { line?: number } | null }> }).errors?.[0];
  if (built?.message) return { line: built.position?.line ?? undefined, message: built.message };
  const line = (cause as { linePos?: Array<{ line: number }> }).linePos?.[0]?.line ?? (text !== undefined && ext === ".json" ? syntaxErrorLine(text) : undefined);
  // yaml's first line ends "at line 2, column 1:" before a code frame: the line is named already, the frame dropped.
  return { line, message: (cause as Error).message.split("\n")[0]!.replace(/ at line \d+, column \d+:$/, "") };
}

const configExtensions = [".json", ".yaml", ".yml", ".ts", ".js", ".mjs"];

async function readConfigFile(file: string): Promise<Plain> {
  const ext = extname(file);
  // No extension (`--config <(...)`, /dev/stdin) is read as YAML, which takes JSON too.
  if (ext && !configExtensions.includes(ext)) throw new SAError("E_CONFIG", `config ${file}: unknown kind of file "${ext}" (a config is ${configExtensions.join(", ")})`);
  let text: string | undefined;
  try {
    if (ext === ".ts" || ext === ".js" || ext === ".mjs") {
      const mod = (await import(resolve(file))) as { default?: unknown };
      if (!isRecord(mod.default)) throw new Error("the file must `export default` an object");
      return mod.default;
    }
    text = await readUtf8File(file, ({ line, reason }) => new SAError("E_CONFIG", `config ${file}:${line}: ${reason}`));
    // yaml loads only for a YAML file: most configs are JSON.
    const data: unknown = ext === ".json" ? JSON.parse(text) : (await import("yaml")).parse(text);
    if (data == null) return {};
    if (!isRecord(data)) throw new Error("expected an object at the top level");
    return data;
  } catch (cause) {
    if (isSAError(cause)) throw cause;
    const { line, message } = loadFailure(cause, ext, text);
    throw new SAError("E_CONFIG", `config ${file}${line ? `:${line}` : ""}: ${message}`, { cause });
  }
}

/** Ours first; else the Python tool's `config/app.yaml`. */
function findConfigFile(cwd: string): string | undefined {
  return [...configFileNames, pythonConfigFile].map((n) => resolve(cwd, n)).find((f) => existsSync(f));
}

/** The 1-based line of `path` in a JSON, YAML, TS or JS config, for error messages. */
async function configLine(file: string, path: PropertyKey[]): Promise<number | undefined> {
  const ext = extname(file);
  // Read as readConfigFile read it: a byte-order mark is no part of the text.
  if (ext === ".json") return lineOf(withoutBom(await readFile(file, "utf8")), path);
  if (ext === ".yaml" || ext === ".yml") return yamlLineOf(await readFile(file, "utf8"), path);
  if (ext === ".ts" || ext === ".js" || ext === ".mjs") return sourceLineOf(await readFile(file, "utf8"), path);
  return undefined;
}

/**
 * The config is parsed once or twice a run: zod's compiled fast path for an object schema costs
 * more to build than it saves then (it pays off only for schemas parsed many times).
 */
const once = { jitless: true } as const;

/** Checks a file's own layer with `schema`; a bad field is one line naming the file, the line and the field. */
async function checkFileLayer<T>(file: string, raw: Plain, schema: z.ZodType<T>, mapped = false): Promise<T> {
  const checked = schema.safeParse(raw, once);
  if (checked.success) return checked.data;
  // A layer mapped from the Python tool's keys has no line of its own in the file.
  if (mapped) throw new SAError("E_CONFIG", `config ${file}: ${formatIssues(checked.error)} (mapped from the Python tool's config)`);
  const line = await configLine(file, issueLocation(checked.error));
  throw new SAError("E_CONFIG", `config ${file}${line ? `:${line}` : ""}: ${formatIssues(checked.error)}`);
}

/** Where a file names models: `model`, each stage's, each fallback. */
function modelsNamed(layer: Plain): Array<[PropertyKey[], unknown]> {
  const models = isRecord(layer.models) ? layer.models : {};
  const fallback = Array.isArray(models.fallback) ? models.fallback : [];
  return [[["model"], layer.model], ...["descriptions", "features", "mapping"].map((stage): [PropertyKey[], unknown] => [["models", stage], models[stage]]), ...fallback.map((id, i): [PropertyKey[], unknown] => [["models", "fallback", i], id])];
}

/** A model naming a provider neither built in nor under the file's `providers`: one line naming the file, the line and the field. */
async function checkFileModels(file: string, layer: Plain): Promise<void> {
  const endpoints = (isRecord(layer.providers) ? layer.providers : {}) as Endpoints;
  for (const [path, id] of modelsNamed(layer)) {
    if (typeof id !== "string") continue;
    try {
      parseModelId(id, endpoints);
    } catch (error) {
      const line = await configLine(file, path);
      throw new SAError("E_CONFIG", `config ${file}${line ? `:${line}` : ""}: ${path.join(".")}: ${errorMessage(error)}`, { cause: error });
    }
  }
}

/**
 * The file's layer in our shape: the Python tool's config is mapped, with one warning for what has
 * no meaning here. A `config/app.yaml` found by default that is not the Python tool's is not read.
 */
async function fileLayerOf(file: string, options: LoadConfigOptions, env: Record<string, string | undefined>): Promise<{ layer: Plain; python: boolean } | undefined> {
  const raw = await readConfigFile(file);
  const python = isPythonAppYaml(raw, file);
  if (!options.configPath && !python && resolve(options.cwd ?? process.cwd(), pythonConfigFile) === file) {
    options.log?.info(`config ${file}: not the Python tool's config (no snake_case keys); not read`);
    return undefined;
  }
  if (!python) {
    await checkFileLayer(file, raw, configSchema);
    await checkFileModels(file, raw);
    return { layer: raw, python };
  }
  // The Python tool's schema loads only for its config.
  const { fromPythonConfig, pythonConfigSchema, pythonTemplatesIn, withPythonDefaults } = await import("./config-python.ts");
  const py = await checkFileLayer(file, raw, pythonConfigSchema);
  const mapped = fromPythonConfig(py, { env, accepts: (key) => key in configSchema.shape });
  const { ignored } = mapped;
  const layer = withPythonDefaults(mapped.layer, env);
  options.log?.info(`config ${file}: read as the Python tool's config (see MIGRATING.md)`);
  if (ignored.length) options.log?.warn(`config ${file}: ignoring keys with no meaning here: ${ignored.join(", ")}`);
  for (const note of mapped.notes) options.log?.warn(`config ${file}: ${note}`);
  const promptDir = String(layer.promptDir ?? "prompts");
  const templates = pythonTemplatesIn(resolve(options.cwd ?? process.cwd(), promptDir));
  if (templates.length) options.log?.warn(`config ${file}: the Python tool's prompt templates in ${promptDir} (${templates.join(", ")}) are not read: the prompts are built in (README, Prompts); only its situational_context/ and inspirations/ are`);
  await checkFileLayer(file, layer, configSchema, true);
  return { layer, python };
}

export interface LoadConfigOptions {
  /** Path given with --config; it must exist. */
  configPath?: string;
  cwd?: string;
  env?: Record<string, string | undefined>;
  /** Values from flags, already in config shape. */
  overrides?: Plain;
  /** Where notes go: the Python config's ignored keys, `SA_*` variables that name no key. */
  log?: { info(message: string): void; warn(message: string): void };
}

/** The config, the file it came from, and who named its data folder (see dataDirFrom). */
export type LoadedConfig = Config & { configFile?: string; dataDirFrom?: string };

const stageKeys = ["descriptions", "features", "mapping"] as const;

/**
 * A layer's `models.<stage>` give way to `--model` when the flags do not name that stage's model
 * too: a flag wins over the file and the environment, and `--model` is every stage's model. Within
 * the file, and against SA_MODEL, `models.<stage>` wins over `model`, as in the Python tool (whose
 * users may keep SA_MODEL in their environment). Says so once per layer.
 */
function modelGivesWay(earlier: Plain, later: { layer: Plain; name: string }, options: { earlier: string; log?: LoadConfigOptions["log"] }): Plain {
  const { model } = later.layer;
  const own = earlier.models;
  if (typeof model !== "string" || !isRecord(own)) return earlier;
  const laterModels = isRecord(later.layer.models) ? later.layer.models : {};
  const replaced = stageKeys.filter((stage) => own[stage] !== undefined && laterModels[stage] === undefined);
  if (!replaced.length) return earlier;
  const models = { ...own };
  for (const stage of replaced) delete models[stage];
  options.log?.info(`${later.name} ${model} replaces ${replaced.map((s) => `models.${s}`).join(", ")} of ${options.earlier} (a later setting wins; --descriptions-model, --features-model and --mapping-model set one stage)`);
  return { ...earlier, models };
}

const cacheOf = (layer: Plain): Plain => (isRecord(layer.cache) ? (layer.cache as Plain) : {});

/**
 * A later layer that names another cache driver (`SA_CACHE__DRIVER=redis` over a config's fs
 * cache) starts that driver's options afresh: an fs folder is no redis key prefix. Only `ttl`,
 * which is ours and not the driver's, carries over.
 */
function withCacheDriverSwitch(merged: Plain, layers: Plain[]): Plain {
  const last = layers.findLastIndex((layer) => typeof cacheOf(layer).driver === "string");
  if (last <= 0) return merged;
  const before = cacheOf(mergeLayers(...layers.slice(0, last)));
  if ((before.driver ?? "fs") === cacheOf(layers[last]!).driver) return merged;
  const ttl = before.ttl === undefined ? {} : { ttl: before.ttl };
  return { ...merged, cache: mergeLayers(ttl, ...layers.slice(last).map(cacheOf)) };
}

/** Loads file → `SA_*` env → flags, and validates the result. A bad key is one line naming it. */
export async function loadConfig(options: LoadConfigOptions = {}): Promise<LoadedConfig> {
  const cwd = options.cwd ?? process.cwd();
  let file: string | undefined;
  if (options.configPath) {
    file = resolve(cwd, options.configPath);
    if (!existsSync(file)) throw new SAError("E_CONFIG", `config ${options.configPath}: file not found`);
  } else file = findConfigFile(cwd);

  const env = options.env ?? process.env;
  const fileLayer = file ? await fileLayerOf(file, options, env) : undefined;
  if (!fileLayer) file = undefined;
  const { layer: envValues, sources, ignored } = envLayer(env);
  warnShortEnvTimeout(envValues, options.log);
  // The Python tool's config has read its cache variables already (lib/config-python.ts); a bad value is the variable's.
  if (fileLayer?.python && cacheModeSchema.safeParse(envValues.cacheMode).success) delete envValues.cacheMode;
  warnIgnoredEnv(ignored, options.log);
  const flags = options.overrides ?? {};
  const given = { layer: flags, name: "--model" };
  const fromFile = modelGivesWay(fileLayer?.layer ?? {}, given, { earlier: options.configPath ?? file ?? "the config", log: options.log });
  const fromEnv = modelGivesWay(envValues, given, { earlier: "the environment", log: options.log });
  const merged = withCacheDriverSwitch(mergeLayers(fromFile, fromEnv, flags), [fromFile, fromEnv, flags]);
  const parsed = configSchema.safeParse(merged, once);
  if (!parsed.success) {
    const message = formatIssues(parsed.error, (path) => {
      const key = path.map(String).join(".");
      const envName = [...sources.entries()].find(([k]) => key === k || key.startsWith(`${k}.`))?.[1];
      return envName ? `${envName} (${key}): ` : key ? `${key}: ` : "";
    });
    throw new SAError("E_CONFIG", `config: ${message}`);
  }
  return { ...parsed.data, pricing: endpointPricing(parsed.data), configFile: file, dataDirFrom: dataDirFrom({ flags, sources, file, fileLayer }) };
}

/** Who named the data folder (`--data`, an `SA_*` variable, our config file); undefined for a default (ours, or the Python tool's ./data). */
function dataDirFrom(o: { flags: Plain; sources: Map<string, string>; file?: string; fileLayer?: { layer: Plain; python: boolean } }): string | undefined {
  if (o.flags.dataDir !== undefined) return "--data";
  const env = o.sources.get("dataDir");
  if (env) return env;
  return o.fileLayer && !o.fileLayer.python && o.fileLayer.layer.dataDir !== undefined ? `dataDir in ${o.file}` : undefined;
}
