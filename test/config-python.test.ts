import { afterEach, describe, expect, test } from "bun:test";
import { cpSync, mkdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { acceptsPath, envLayer, loadConfig } from "../lib/config.ts";
import { expandPath, fromPythonConfig, pythonCacheDir, pythonConfigSchema } from "../lib/config-python.ts";
import { isPythonConfig } from "../lib/config-python-shape.ts";
import { isSAError } from "../lib/errors.ts";
import { configSchema } from "../lib/schema/config.ts";
import { root, tempDir } from "./helpers.ts";

let cleanup = () => {};
afterEach(() => cleanup());

/** A temp folder holding the fixture `config/app.yaml` (and its prompts), as a Python tool user keeps it. */
function pythonProject(): string {
  const t = tempDir("sa-pyconf-");
  cleanup = t.cleanup;
  cpSync(join(root, "fixtures", "python-config"), t.dir, { recursive: true });
  return t.dir;
}

function collectingLog() {
  const lines: Array<{ level: "info" | "warn"; message: string }> = [];
  return { lines, log: { info: (message: string) => lines.push({ level: "info", message }), warn: (message: string) => lines.push({ level: "warn", message }) } };
}

const everyKey = (env: Record<string, string | undefined> = {}) =>
  fromPythonConfig(pythonConfigSchema.parse({
    model: "openai:gpt-5-mini",
    models: { descriptions: "openai:gpt-5", features: "gpt-5-mini", mapping: "openai:gpt-5-nano", search: "openai:gpt-4o-search-preview" },
    reasoning: { effort: "medium", summary: "concise" },
    web_search: false,
    log_level: "INFO",
    prompt_dir: "$HOME/prompts",
    context_id: "university",
    inspiration: "general",
    concurrency: 5,
    request_timeout: 60,
    use_local_cache: true,
    cache_mode: "refresh",
    cache_dir: "${XDG_CACHE_HOME}/service-ambitions",
    mapping_sets: [{ name: "Applications", file: "applications.json", field: "applications" }],
  }), { env: { HOME: "/home/u", ...env }, accepts: () => true });

describe("the Python tool's config/app.yaml", () => {
  test("each key maps to ours", () => {
    const { layer } = everyKey({ XDG_CACHE_HOME: "/var/cache" });
    expect(layer).toEqual({
      dataDir: "data",
      model: "openai:gpt-5-mini",
      // A bare model name is an OpenAI model, as the Python tool treats it.
      models: { descriptions: "openai:gpt-5", features: "openai:gpt-5-mini", mapping: "openai:gpt-5-nano" },
      reasoning: { effort: "medium" },
      promptDir: "/home/u/prompts",
      contextId: "university",
      inspiration: "general",
      concurrency: 5,
      requestTimeout: 60_000,
      cacheMode: "refresh",
      cache: { driver: "fs", base: "/var/cache/service-ambitions" },
      mappingSets: [{ file: "applications.json", field: "applications", label: "Applications" }],
    });
  });

  test("request_timeout in seconds becomes milliseconds", () => {
    const map = (s: number) => fromPythonConfig({ request_timeout: s }, { env: {}, accepts: () => true }).layer.requestTimeout;
    expect(map(60)).toBe(60_000);
    expect(map(1)).toBe(1000);
    expect(map(2.5)).toBe(2500);
  });

  test("use_local_cache: false turns the cache off whatever cache_mode says", () => {
    expect(fromPythonConfig({ use_local_cache: false, cache_mode: "refresh" }, { env: {}, accepts: () => true }).layer.cacheMode).toBe("off");
    expect(fromPythonConfig({ use_local_cache: true }, { env: {}, accepts: () => true }).layer.cacheMode).toBeUndefined();
  });

  test("keys with no meaning here are listed, and keys this version lacks join them", () => {
    expect(everyKey().ignored).toEqual(["models.search", "reasoning.summary", "web_search", "log_level"]);
    const { layer, ignored } = fromPythonConfig({ prompt_dir: "prompts", context_id: "university", concurrency: 2 }, { env: {}, accepts: (key) => key === "concurrency" });
    expect(ignored).toEqual(["prompt_dir", "context_id"]);
    expect(layer).toEqual({ dataDir: "data", concurrency: 2 });
  });

  test("cache_dir expands variables and ~, and falls back as the Python tool does when a variable is unset", () => {
    expect(pythonCacheDir("${XDG_CACHE_HOME}/service-ambitions", { XDG_CACHE_HOME: "/c" })).toBe("/c/service-ambitions");
    expect(pythonCacheDir("${XDG_CACHE_HOME}/service-ambitions", {})).toBe(join(tmpdir(), "service-ambitions"));
    expect(pythonCacheDir(undefined, { XDG_CACHE_HOME: "/c" })).toBe("/c/service-ambitions");
    expect(expandPath("~/x/$A/${B}/$C", { A: "a", B: "b" })).toMatch(/\/x\/a\/b\/\$C$/);
  });

  test("is told apart from our own config by its keys", () => {
    expect(isPythonConfig({ model: "openai:gpt-5", request_timeout: 60 })).toBe(true);
    expect(isPythonConfig({ models: { search: "openai:x" } })).toBe(true);
    expect(isPythonConfig({ model: "openai:gpt-5", models: { mapping: "openai:gpt-5-nano" }, concurrency: 4 })).toBe(false);
  });

  test("--config config/app.yaml loads it, with one warning listing every ignored key", async () => {
    const dir = pythonProject();
    const { lines, log } = collectingLog();
    const config = await loadConfig({ cwd: dir, configPath: "config/app.yaml", env: { XDG_CACHE_HOME: join(dir, "xdg") }, log });
    expect(config.model).toBe("openai:gpt-5-mini");
    expect(config.models).toEqual({ descriptions: "openai:gpt-5", features: "openai:gpt-5-mini", mapping: "openai:gpt-5-nano", fallback: [] });
    expect(config.reasoning).toEqual({ effort: "medium" });
    expect(config.requestTimeout).toBe(45_000);
    expect(config.concurrency).toBe(4);
    expect(config.cacheMode).toBe("read");
    expect(config.cache).toEqual({ driver: "fs", base: join(dir, "xdg", "service-ambitions") });
    expect(config.dataDir).toBe("data");
    expect(config.mappingSets.map((s) => s.field)).toEqual(["applications", "technologies", "data"]);
    const warnings = lines.filter((l) => l.level === "warn");
    expect(warnings).toHaveLength(1);
    expect(warnings[0]!.message).toEndWith("ignoring keys with no meaning here: models.search, web_search, log_level");
    expect({ promptDir: config.promptDir, contextId: config.contextId, inspiration: config.inspiration }).toEqual({ promptDir: "prompts", contextId: "council", inspiration: "general" });
  });

  test("the Python tool's prompt templates in prompt_dir are named once as not read", async () => {
    const dir = pythonProject();
    writeFileSync(join(dir, "prompts", "plateau_prompt.md"), "Custom features prompt {service_name}\n");
    writeFileSync(join(dir, "prompts", "mapping_prompt.md"), "Custom mapping prompt\n");
    const { lines, log } = collectingLog();
    await loadConfig({ cwd: dir, env: {}, log });
    const warnings = lines.filter((l) => l.level === "warn").map((l) => l.message);
    expect(warnings).toHaveLength(2);
    expect(warnings[1]).toContain("mapping_prompt.md, plateau_prompt.md");
    expect(warnings[1]).toContain("not read");
  });

  test("config/app.yaml is found when there is no config of ours; ours wins when both exist", async () => {
    const dir = pythonProject();
    expect((await loadConfig({ cwd: dir, env: {} })).models.descriptions).toBe("openai:gpt-5");
    writeFileSync(join(dir, "service-ambitions.config.json"), JSON.stringify({ model: "synthetic:ours" }));
    const ours = await loadConfig({ cwd: dir, env: {} });
    expect(ours.model).toBe("synthetic:ours");
    expect(ours.models.descriptions).toBeUndefined();
  });

  test("SA_CACHE__DRIVER=redis over the Python config (or ours) drops the fs folder, which is no key prefix; ttl and a base given with it stay", async () => {
    const dir = pythonProject();
    const env = { XDG_CACHE_HOME: join(dir, "xdg"), SA_CACHE__DRIVER: "redis", SA_CACHE__URL: "redis://127.0.0.1:6390" };
    expect((await loadConfig({ cwd: dir, env })).cache).toEqual({ driver: "redis", url: "redis://127.0.0.1:6390" });
    expect((await loadConfig({ cwd: dir, env: { ...env, SA_CACHE__BASE: "sa" } })).cache).toEqual({ driver: "redis", url: "redis://127.0.0.1:6390", base: "sa" });
    writeFileSync(join(dir, "service-ambitions.config.json"), JSON.stringify({ model: "synthetic:ours", cache: { driver: "fs", base: ".sa/cache", ttl: 60 } }));
    expect((await loadConfig({ cwd: dir, env })).cache).toEqual({ driver: "redis", url: "redis://127.0.0.1:6390", ttl: 60 });
    // Naming the same driver again changes nothing.
    expect((await loadConfig({ cwd: dir, env: { SA_CACHE__DRIVER: "fs" } })).cache).toEqual({ driver: "fs", base: ".sa/cache", ttl: 60 });
  });

  test("a key it leaves out takes the Python tool's default: model openai:gpt-5, the cache in its folder", async () => {
    const t = tempDir();
    cleanup = t.cleanup;
    mkdirSync(join(t.dir, "config"));
    writeFileSync(join(t.dir, "config", "app.yaml"), "request_timeout: 30\ncontext_id: university\n");
    const config = await loadConfig({ cwd: t.dir, env: { XDG_CACHE_HOME: join(t.dir, "xdg") } });
    expect(config.configFile).toEndWith(join("config", "app.yaml"));
    expect(config.model).toBe("openai:gpt-5");
    expect(config.cache).toEqual({ driver: "fs", base: join(t.dir, "xdg", "service-ambitions") });
    // A flag or variable still wins over the default.
    expect((await loadConfig({ cwd: t.dir, env: { SA_MODEL: "openai:gpt-5-nano" } })).model).toBe("openai:gpt-5-nano");
  });

  test("a config/app.yaml with only keys the Python tool's config also has (model, models, concurrency) is still read as its config", async () => {
    const t = tempDir();
    cleanup = t.cleanup;
    mkdirSync(join(t.dir, "config"));
    writeFileSync(join(t.dir, "config", "app.yaml"), "model: openai:gpt-5-mini\nmodels:\n  mapping: gpt-5-nano\nconcurrency: 3\n");
    const env = { XDG_CACHE_HOME: join(t.dir, "xdg") };
    for (const configPath of [undefined, "config/app.yaml"]) {
      const config = await loadConfig({ cwd: t.dir, configPath, env });
      expect(config.configFile).toEndWith(join("config", "app.yaml"));
      expect(config.model).toBe("openai:gpt-5-mini");
      expect(config.models.mapping).toBe("openai:gpt-5-nano");
      expect(config.dataDir).toBe("data");
      expect(config.cache).toEqual({ driver: "fs", base: join(t.dir, "xdg", "service-ambitions") });
    }
  });

  test("mapping_sets left out or empty is said in one line: the Python tool mapped to no catalogue, the default sets are mapped here", async () => {
    const t = tempDir();
    cleanup = t.cleanup;
    mkdirSync(join(t.dir, "config"));
    for (const yaml of ["context_id: university\n", "context_id: university\nmapping_sets: []\n"]) {
      writeFileSync(join(t.dir, "config", "app.yaml"), yaml);
      const { lines, log } = collectingLog();
      const config = await loadConfig({ cwd: t.dir, env: { XDG_CACHE_HOME: join(t.dir, "xdg") }, log });
      expect(config.mappingSets.map((s) => s.field)).toEqual(["applications", "technologies", "data"]);
      const said = lines.filter((l) => l.level === "warn" && l.message.includes("mapping_sets"));
      expect(said).toHaveLength(1);
      expect(said[0]!.message).toContain("applications.json, technologies.json, information.json");
    }
  });

  test("a config/app.yaml of some other program is not read by default", async () => {
    const t = tempDir();
    cleanup = t.cleanup;
    mkdirSync(join(t.dir, "config"));
    writeFileSync(join(t.dir, "config", "app.yaml"), "server:\n  port: 8080\n");
    const config = await loadConfig({ cwd: t.dir, env: {} });
    expect(config.configFile).toBeUndefined();
    expect(config.model).toBe("openai:gpt-4o-mini");
  });

  test("a bad key in it is one line naming the file, the line and the field", async () => {
    const dir = pythonProject();
    mkdirSync(join(dir, "other"));
    writeFileSync(join(dir, "other", "app.yaml"), "model: openai:gpt-5\nrequest_timeout: 60\nreasoning:\n  effort: extreme\n");
    let message = "";
    try {
      await loadConfig({ cwd: dir, configPath: "other/app.yaml", env: {} });
    } catch (error) {
      expect(isSAError(error, "E_CONFIG")).toBe(true);
      message = (error as Error).message;
    }
    expect(message).toContain(`${join(dir, "other", "app.yaml")}:4: reasoning.effort:`);
  });
});

describe("SA_* variables", () => {
  test("a variable that names no config key is left out and listed; a secret is neither", () => {
    const { layer, ignored } = envLayer({ SA_PASSWORD: "x", SA_CONCURRENCY: "3", SA_OPENAI_API_KEY: "secret-value", SA_CACHE__BASE: "/c", SA_MODELS__MAPPING: "synthetic:m", SA_MODELS__SEARCH: "openai:x" });
    expect(layer).toEqual({ concurrency: 3, cache: { base: "/c" }, models: { mapping: "synthetic:m" } });
    expect(ignored).toEqual(["SA_MODELS__SEARCH", "SA_PASSWORD"]);
    expect(JSON.stringify(layer)).not.toContain("secret-value");
  });

  test("the Python tool's SA_CACHE_DIR and SA_USE_LOCAL_CACHE keep their meaning", () => {
    expect(envLayer({ SA_CACHE_DIR: "/c", SA_CACHE_MODE: "refresh", SA_USE_LOCAL_CACHE: "false" }).layer).toEqual({ cache: { base: "/c" }, cacheMode: "off" });
    expect(envLayer({ SA_CACHE_MODE: "refresh", SA_USE_LOCAL_CACHE: "yes" }).layer).toEqual({ cacheMode: "refresh" });
  });

  test("with the Python tool's config, SA_USE_LOCAL_CACHE and SA_CACHE_MODE combine with its cache keys as there", async () => {
    const dir = pythonProject();
    const yaml = (useLocal: boolean) => writeFileSync(join(dir, "config", "app.yaml"), `model: openai:gpt-5\nuse_local_cache: ${useLocal}\ncache_mode: read\n`);
    const mode = async (env: Record<string, string>) => (await loadConfig({ cwd: dir, env })).cacheMode;
    yaml(false);
    // No local cache means no cache, whatever SA_CACHE_MODE says; SA_USE_LOCAL_CACHE=true turns it back on.
    expect(await mode({ SA_CACHE_MODE: "read" })).toBe("off");
    expect(await mode({ SA_USE_LOCAL_CACHE: "true" })).toBe("read");
    expect(await mode({ SA_USE_LOCAL_CACHE: "yes", SA_CACHE_MODE: "refresh" })).toBe("refresh");
    yaml(true);
    expect(await mode({ SA_CACHE_MODE: "write" })).toBe("write");
    expect(await mode({ SA_USE_LOCAL_CACHE: "0", SA_CACHE_MODE: "write" })).toBe("off");
  });

  test("SA_REQUEST_TIMEOUT=60 from the Python tool's README (seconds there) is warned about in one line naming the value to write; a short timeout in ms still works", async () => {
    const dir = pythonProject();
    const load = async (value: string) => {
      const { lines, log } = collectingLog();
      const config = await loadConfig({ cwd: dir, env: { SA_REQUEST_TIMEOUT: value, XDG_CACHE_HOME: join(dir, "xdg") }, log });
      return { config, warnings: lines.filter((l) => l.level === "warn" && l.message.includes("SA_REQUEST_TIMEOUT")).map((l) => l.message) };
    };
    const short = await load("60");
    expect(short.config.requestTimeout).toBe(60);
    expect(short.warnings).toHaveLength(1);
    expect(short.warnings[0]).toContain("SA_REQUEST_TIMEOUT=60 is 60 ms");
    expect(short.warnings[0]).toContain("SA_REQUEST_TIMEOUT=60000");
    expect(short.warnings[0]).not.toContain("\n");
    const long = await load("60000");
    expect(long.config.requestTimeout).toBe(60_000);
    expect(long.warnings).toEqual([]);
  });

  test("loadConfig warns once, naming each ignored variable, and goes on", async () => {
    const t = tempDir();
    cleanup = t.cleanup;
    const { lines, log } = collectingLog();
    const config = await loadConfig({ cwd: t.dir, env: { SA_PASSWORD: "x", SA_OPENAI_API_KEY: "k-123456789" }, log });
    expect(config.concurrency).toBe(8);
    expect(lines).toEqual([{ level: "warn", message: expect.stringContaining("SA_PASSWORD") }]);
    expect(JSON.stringify(config)).not.toContain("k-123456789");
  });

  test("the Python tool's variables with no counterpart are each named with why none is needed, not as unknown keys", async () => {
    const t = tempDir();
    cleanup = t.cleanup;
    const { lines, log } = collectingLog();
    await loadConfig({ cwd: t.dir, env: { SA_LLM_PROVIDER: "openai", SA_TRACE_IDS: "1", SA_PASSWORD: "x" }, log });
    expect(lines.map((l) => l.message)).toEqual([
      "environment: ignoring the Python tool's SA_LLM_PROVIDER: not needed here (the provider is the part of --model before the colon; see MIGRATING.md)",
      "environment: ignoring the Python tool's SA_TRACE_IDS: not needed here (every final error names the provider's request id; see MIGRATING.md)",
      "environment: ignoring SA_PASSWORD: not a config key (see README, Config)",
    ]);
  });

  test("acceptsPath follows strict objects, loose objects, records and unions", () => {
    const accepts = (path: string[]) => acceptsPath(configSchema as never, path);
    expect(accepts(["cacheMode"])).toBe(true);
    expect(accepts(["cache", "anyDriverOption"])).toBe(true);
    expect(accepts(["pricing", "openai:x"])).toBe(true);
    expect(accepts(["rateLimit", "url"])).toBe(true);
    expect(accepts(["password"])).toBe(false);
    expect(accepts(["retry", "nope"])).toBe(false);
    expect(accepts(["concurrency", "deeper"])).toBe(false);
  });
});
