import { afterEach, describe, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { envLayer, loadConfig, mergeLayers } from "../lib/config.ts";
import { isSAError } from "../lib/errors.ts";
import { configOverrides } from "../scripts/_args.ts";
import { tempDir } from "./helpers.ts";

let cleanup = () => {};
afterEach(() => cleanup());

function dirWith(name: string, text: string): string {
  const t = tempDir();
  cleanup = t.cleanup;
  writeFileSync(join(t.dir, name), text);
  return t.dir;
}

async function configError(fn: () => Promise<unknown>): Promise<string> {
  try {
    await fn();
  } catch (error) {
    expect(isSAError(error, "E_CONFIG")).toBe(true);
    return (error as Error).message;
  }
  throw new Error("expected a config error");
}

describe("config layering", () => {
  test("defaults apply with no file", async () => {
    const t = tempDir();
    cleanup = t.cleanup;
    const config = await loadConfig({ cwd: t.dir, env: {} });
    expect(config.concurrency).toBe(8);
    expect(config.cache).toEqual({ driver: "fs", base: ".sa/cache" });
    expect(config.cacheMode).toBe("read");
  });

  test.each([
    ["service-ambitions.config.json", JSON.stringify({ concurrency: 3, model: "synthetic:a" })],
    ["service-ambitions.config.yaml", "concurrency: 3\nmodel: synthetic:a\n"],
    ["service-ambitions.config.ts", "export default { concurrency: 3, model: 'synthetic:a' };\n"],
  ])("reads %s", async (name, text) => {
    const dir = dirWith(name, text);
    const config = await loadConfig({ cwd: dir, env: {} });
    expect(config.concurrency).toBe(3);
    expect(config.model).toBe("synthetic:a");
    expect(config.configFile).toBe(join(dir, name));
  });

  test("file < SA_* env < flags", async () => {
    const dir = dirWith("service-ambitions.config.json", JSON.stringify({ concurrency: 3, rpm: 100, cacheMode: "off", cache: { driver: "memory" } }));
    const config = await loadConfig({
      cwd: dir,
      env: { SA_CONCURRENCY: "5", SA_RPM: "200", SA_CACHE__DRIVER: "fs", SA_CACHE__BASE: "/tmp/x" },
      overrides: { concurrency: 7 },
    });
    expect(config.concurrency).toBe(7); // flag wins
    expect(config.rpm).toBe(200); // env beats the file
    expect(config.cacheMode).toBe("off"); // file beats defaults
    expect(config.cache).toEqual({ driver: "fs", base: "/tmp/x" });
  });

  test("an unknown key is one line naming the key", async () => {
    const dir = dirWith("service-ambitions.config.json", JSON.stringify({ concurency: 3 }));
    const message = await configError(() => loadConfig({ cwd: dir, env: {} }));
    expect(message).toContain("concurency");
    expect(message).not.toContain("\n");
  });

  test.each([
    ["service-ambitions.config.json", '{\n  "model": "synthetic:a",\n  "concurrency": 2,\n  "concurency": 3\n}\n', 4],
    ["service-ambitions.config.yaml", "model: synthetic:a\nconcurrency: 2\nlimits:\n  maxRequests: 4\n  maxRequest: 5\n", 5],
  ])("an unknown key in %s is named once, at its own line", async (name, text, line) => {
    const dir = dirWith(name, text);
    const message = await configError(() => loadConfig({ cwd: dir, env: {} }));
    expect(message).toContain(`${name}:${line}: `);
    expect(message.match(/concurency"|maxRequest"/g)).toHaveLength(1);
  });

  test("an unknown key names the line it is on (YAML and JSON, top level and nested), once", async () => {
    const yaml = dirWith("service-ambitions.config.yaml", "# settings\nmodel: synthetic:a\nconcurrency: 3\nconcurency: 4\n");
    const yamlMessage = await configError(() => loadConfig({ cwd: yaml, env: {} }));
    expect(yamlMessage).toContain("service-ambitions.config.yaml:4: ");
    expect(yamlMessage.split("concurency").length - 1).toBe(1);
    const json = dirWith("service-ambitions.config.json", JSON.stringify({ model: "synthetic:a", limits: { maxRequests: 3, maxRequets: 4 } }, null, 2));
    expect(await configError(() => loadConfig({ cwd: json, env: {} }))).toContain("service-ambitions.config.json:5: limits: ");
  });

  test("a model naming a provider neither built in nor under providers names the file, the line and the field (YAML and JSON)", async () => {
    const json = dirWith("service-ambitions.config.json", JSON.stringify({ model: "synthetic:demo", providers: { azure: { type: "openai", baseURL: "http://127.0.0.1:1/v1" } }, models: { mapping: "azure:gpt-4o", fallback: ["synthetic:b", "nosuch:gpt"] } }, null, 2));
    const message = await configError(() => loadConfig({ cwd: json, env: {} }));
    expect(message).toMatch(/service-ambitions\.config\.json:\d+: models\.fallback\.1: model "nosuch:gpt": unknown provider "nosuch" \(known: openai, synthetic, azure;/);
    expect(message.match(/json:(\d+)/)![1]).toBe(String(readFileSync(join(json, "service-ambitions.config.json"), "utf8").split("\n").findIndex((l) => l.includes("nosuch")) + 1));
    const yaml = dirWith("service-ambitions.config.yaml", "model: nosuch:demo\nconcurrency: 2\n");
    expect(await configError(() => loadConfig({ cwd: yaml, env: {} }))).toContain('service-ambitions.config.yaml:1: model: model "nosuch:demo": unknown provider "nosuch"');
  });

  test("a bad value names the key, and the line in a JSON file", async () => {
    const dir = dirWith("service-ambitions.config.json", JSON.stringify({ concurrency: 2, limits: { maxRequests: -1 } }, null, 2));
    const message = await configError(() => loadConfig({ cwd: dir, env: {} }));
    expect(message).toContain("service-ambitions.config.json:4: limits.maxRequests");
  });

  test.each([
    ["service-ambitions.config.ts", 'export default {\n  model: "synthetic:a",\n  rpm: "fast",\n};\n', 3, "rpm: "],
    ["service-ambitions.config.ts", 'export default {\n  model: "synthetic:a",\n  cache: {\n    driver: "fs",\n    ttl: -1,\n  },\n};\n', 5, "cache.ttl: "],
    ["service-ambitions.config.ts", 'export default {\n  model: "synthetic:a",\n  concurency: 3,\n};\n', 3, 'Unrecognized key: "concurency"'],
    ["service-ambitions.config.ts", 'export default {\n  "model": "synthetic:a",\n  limits: { maxRequests: 2 },\n  "budget": {\n    "hardUsd": "ten",\n  },\n};\n', 5, "budget.hardUsd: "],
  ])("a bad key or value in a TS config (%s) names its line as in JSON and YAML", async (name, text, line, says) => {
    const dir = dirWith(name, text);
    const message = await configError(() => loadConfig({ cwd: dir, env: {} }));
    expect(message).toContain(`${name}:${line}: ${says}`);
    expect(message).not.toContain("\n");
  });

  test("a TS config with a syntax error names its line and what is wrong; a config of an unknown kind (.toml) is named as such", async () => {
    const ts = dirWith("service-ambitions.config.ts", 'export default {\n  model: "synthetic:a",\n  rpm: 5,,\n};\n');
    const message = await configError(() => loadConfig({ cwd: ts, env: {} }));
    expect(message).toContain("service-ambitions.config.ts:3: ");
    expect(message).not.toContain("errors building");
    const toml = dirWith("settings.toml", 'model = "synthetic:a"\n');
    expect(await configError(() => loadConfig({ cwd: toml, configPath: "settings.toml", env: {} }))).toContain('settings.toml: unknown kind of file ".toml"');
    // No extension (`--config <(...)`) is still read, as YAML (which takes JSON).
    const bare = dirWith("settings", '{"model": "synthetic:a"}\n');
    expect((await loadConfig({ cwd: bare, configPath: "settings", env: {} })).model).toBe("synthetic:a");
  });

  test("an SA_ variable for a top-level text key keeps its text when it looks like a number or a JSON word; other keys still parse JSON", async () => {
    const t = tempDir();
    cleanup = t.cleanup;
    const env = { SA_CONTEXT_ID: "2024", SA_CONTEXT: "2024", SA_INSPIRATION: "true", SA_INPUT: "1", SA_CONCURRENCY: "3", SA_STRICT: "true", SA_MODELS__FALLBACK: '["synthetic:b"]' };
    const config = await loadConfig({ cwd: t.dir, env });
    expect([config.contextId, config.context, config.inspiration, config.input]).toEqual(["2024", "2024", "true", "1"]);
    expect([config.concurrency, config.strict, config.models.fallback]).toEqual([3, true, ["synthetic:b"]]);
  });

  test("a bad SA_ variable names the variable", async () => {
    const t = tempDir();
    cleanup = t.cleanup;
    expect(await configError(() => loadConfig({ cwd: t.dir, env: { SA_CACHE_MODE: "sometimes" } }))).toContain("SA_CACHE_MODE");
  });

  test.each([
    ["SA_MODELS", '{"fallback": ["synthetic:b"]', "models"],
    ["SA_LIMITS", "100", "limits"],
    ["SA_BUDGET", "5", "budget"],
  ])("%s that is not an object is refused, naming the variable, though the flags leave those keys unset", async (name, value, key) => {
    const t = tempDir();
    cleanup = t.cleanup;
    // The flags' layer as a task builds it, with every flag left out: `models`, `limits`, `budget` hold only undefined.
    const overrides = configOverrides({});
    expect(await configError(() => loadConfig({ cwd: t.dir, env: { [name]: value }, overrides }))).toBe(`config: ${name} (${key}): Invalid input: expected object, received ${value.startsWith("{") ? "string" : "number"}`);
  });

  test("two mapping sets with the same field are refused at the second, naming the file and its line (their mappings would land in one field of the output)", async () => {
    const dir = dirWith("service-ambitions.config.yaml", "mappingSets:\n  - file: applications.json\n    field: apps\n  - file: technologies.json\n    field: apps\n");
    expect(await configError(() => loadConfig({ cwd: dir, env: {} }))).toBe(`config ${join(dir, "service-ambitions.config.yaml")}:5: mappingSets.1.field: duplicate "apps" (each mapping set needs a field of its own)`);
  });

  test("a price keyed by a bare model name is refused: prices are looked up by provider:model, so it would never apply", async () => {
    const dir = dirWith("service-ambitions.config.json", '{\n  "pricing": {\n    "gpt-4o": { "input": 1, "output": 2 }\n  }\n}\n');
    const message = await configError(() => loadConfig({ cwd: dir, env: {} }));
    expect(message).toStartWith(`config ${join(dir, "service-ambitions.config.json")}:3: pricing.gpt-4o: `);
    expect(message).toContain("expected provider:model");
  });

  test("--config must exist", async () => {
    const t = tempDir();
    cleanup = t.cleanup;
    expect(await configError(() => loadConfig({ cwd: t.dir, env: {}, configPath: "nope.json" }))).toContain("nope.json");
  });

  test("invalid JSON in the file is a config error", async () => {
    const dir = dirWith("service-ambitions.config.json", "{ nope");
    expect(await configError(() => loadConfig({ cwd: dir, env: {} }))).toContain("service-ambitions.config.json");
  });

  test.each([
    ["service-ambitions.config.json", '{\n  "model": "synthetic:a",\n  "concurrency": 2,\n}\n', 4],
    ["service-ambitions.config.yaml", "model: synthetic:a\nconcurrency: [2\n", 3],
  ])("a syntax error in %s names its line", async (name, text, line) => {
    const dir = dirWith(name, text);
    const message = await configError(() => loadConfig({ cwd: dir, env: {} }));
    expect(message).toContain(`${name}:${line}: `);
    // One line that ends with its reason, not with the colon before a code frame that was cut off.
    expect(message).not.toContain("\n");
    expect(message).not.toMatch(/(:|column \d+)$/);
  });

  test("merge replaces arrays and ignores undefined", () => {
    expect(mergeLayers({ a: [1, 2], b: { c: 1 } }, { a: [3], b: { d: undefined } })).toEqual({ a: [3], b: { c: 1 } });
    expect(envLayer({ SA_LIMITS__MAX_REQUESTS: "10", OTHER: "x" }).layer).toEqual({ limits: { maxRequests: 10 } });
  });
});
