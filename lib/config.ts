import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { resolve, extname } from "node:path";
import { SAError } from "./errors.ts";
import { configSchema, type Config } from "./schema/config.ts";
import { firstIssue, formatIssues } from "./zod-error.ts";
import { lineOf } from "./json-position.ts";

export const configFileNames = ["service-ambitions.config.ts", "service-ambitions.config.json", "service-ambitions.config.yaml", "service-ambitions.config.yml"];

type Plain = Record<string, unknown>;
const isPlain = (v: unknown): v is Plain => !!v && typeof v === "object" && !Array.isArray(v);

/** Deep merge where later layers win; arrays are replaced, `undefined` never overrides. */
export function mergeLayers(...layers: Plain[]): Plain {
  const out: Plain = {};
  for (const layer of layers) {
    for (const [key, value] of Object.entries(layer)) {
      if (value === undefined) continue;
      out[key] = isPlain(value) && isPlain(out[key]) ? mergeLayers(out[key] as Plain, value) : value;
    }
  }
  return out;
}

const camel = (s: string) => s.toLowerCase().replace(/_([a-z0-9])/g, (_m, c: string) => c.toUpperCase());

/** `SA_CACHE_MODE=off` → `{cacheMode: "off"}`; `SA_CACHE__DRIVER=redis` → `{cache: {driver: "redis"}}`. */
export function envLayer(env: Record<string, string | undefined>): { layer: Plain; sources: Map<string, string> } {
  const layer: Plain = {};
  const sources = new Map<string, string>();
  for (const [name, raw] of Object.entries(env)) {
    if (!name.startsWith("SA_") || raw === undefined) continue;
    const path = name.slice(3).split("__").map(camel);
    let value: unknown = raw;
    try {
      value = JSON.parse(raw);
    } catch {
      // A plain string such as a path or a model id.
    }
    let node = layer;
    for (const key of path.slice(0, -1)) node = (node[key] = isPlain(node[key]) ? node[key] : {}) as Plain;
    node[path.at(-1)!] = value;
    sources.set(path.join("."), name);
  }
  return { layer, sources };
}

async function readConfigFile(file: string): Promise<Plain> {
  const ext = extname(file);
  try {
    if (ext === ".ts" || ext === ".js" || ext === ".mjs") {
      const mod = (await import(resolve(file))) as { default?: unknown };
      if (!isPlain(mod.default)) throw new Error("the file must `export default` an object");
      return mod.default;
    }
    const text = await readFile(file, "utf8");
    // yaml loads only for a YAML file: most configs are JSON.
    const data: unknown = ext === ".json" ? JSON.parse(text) : (await import("yaml")).parse(text);
    if (data == null) return {};
    if (!isPlain(data)) throw new Error("expected an object at the top level");
    return data;
  } catch (cause) {
    throw new SAError("E_CONFIG", `config ${file}: ${(cause as Error).message.split("\n")[0]}`, { cause });
  }
}

export function findConfigFile(cwd: string): string | undefined {
  return configFileNames.map((n) => resolve(cwd, n)).find((f) => existsSync(f));
}

export interface LoadConfigOptions {
  /** Path given with --config; it must exist. */
  configPath?: string;
  cwd?: string;
  env?: Record<string, string | undefined>;
  /** Values from flags, already in config shape. */
  overrides?: Plain;
}

/** Loads file → `SA_*` env → flags, and validates the result. A bad key is one line naming it. */
export async function loadConfig(options: LoadConfigOptions = {}): Promise<Config & { configFile?: string }> {
  const cwd = options.cwd ?? process.cwd();
  let file: string | undefined;
  if (options.configPath) {
    file = resolve(cwd, options.configPath);
    if (!existsSync(file)) throw new SAError("E_CONFIG", `config ${options.configPath}: file not found`);
  } else file = findConfigFile(cwd);

  const fileLayer = file ? await readConfigFile(file) : {};
  if (file) {
    const checked = configSchema.safeParse(fileLayer);
    if (!checked.success) {
      const line = extname(file) === ".json" ? await lineOf(await readFile(file, "utf8"), firstIssue(checked.error)?.path ?? []) : undefined;
      throw new SAError("E_CONFIG", `config ${file}${line ? `:${line}` : ""}: ${formatIssues(checked.error)}`);
    }
  }
  const { layer: envValues, sources } = envLayer(options.env ?? process.env);
  const merged = mergeLayers(fileLayer, envValues, options.overrides ?? {});
  const parsed = configSchema.safeParse(merged);
  if (!parsed.success) {
    const message = formatIssues(parsed.error, (path) => {
      const key = path.map(String).join(".");
      const envName = [...sources.entries()].find(([k]) => key === k || key.startsWith(`${k}.`))?.[1];
      return envName ? `${envName} (${key}): ` : key ? `${key}: ` : "";
    });
    throw new SAError("E_CONFIG", `config: ${message}`);
  }
  return { ...parsed.data, configFile: file };
}
