import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { cpSync, readFileSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { loadDataset } from "../lib/data.ts";
import { estimateRun, observedOutput, readServices } from "../lib/estimate.ts";
import { emptyTotals, type Ledger } from "../lib/ledger.ts";
import { assertBudgetPriced, createPricing } from "../lib/pricing.ts";
import { configSchema } from "../lib/schema/config.ts";
import { startTestServer, type ChatBody, type TestServer } from "../lib/test-server.ts";
import { fixtureData, fixtureServices, makeServices, root, runScript, tempDir, writeJsonl } from "./helpers.ts";

const stageOf = (b: ChatBody) => {
  const name = b.response_format?.json_schema?.name ?? "";
  return name === "plateau_descriptions" ? "descriptions" : name === "plateau_features" ? "features" : "mapping";
};

let server: TestServer;
beforeAll(() => {
  server = startTestServer();
});
afterAll(() => server.stop());

/** A folder laid out as a Python tool user keeps it: config/app.yaml, prompts/, data/. */
function pythonProject() {
  const t = tempDir("sa-stage-models-");
  cpSync(join(root, "fixtures", "python-config"), t.dir, { recursive: true });
  cpSync(fixtureData, join(t.dir, "data"), { recursive: true });
  writeJsonl(join(t.dir, "services.jsonl"), makeServices(1));
  return t;
}

const linesOf = (path: string) => readFileSync(path, "utf8").trim().split("\n").map((line) => JSON.parse(line));

/** `meta.models` by stage; it also carries the resume fingerprint. Every value is a string, as the Python tool's schema requires. */
function stagesOf(models: Record<string, unknown>): Record<string, unknown> {
  for (const value of Object.values(models)) expect(typeof value).toBe("string");
  const { fingerprint: _fingerprint, ...stages } = models;
  return stages;
}

/** Every file below `dir`, with its text. */
function filesUnder(dir: string): Array<{ path: string; text: string }> {
  return readdirSync(dir, { recursive: true, encoding: "utf8" })
    .map((name) => join(dir, name))
    .filter((path) => statSync(path).isFile())
    .map((path) => ({ path, text: readFileSync(path, "utf8") }));
}

describe("per-stage models and settings (issue 10, acceptance 3)", () => {
  test("the Python tool's app.yaml sends each stage to its model with reasoning_effort and no temperature", async () => {
    const { dir, cleanup } = pythonProject();
    try {
      const env = { XDG_CACHE_HOME: join(dir, "xdg"), SA_TEMPERATURE: "0.4" };
      const before = server.requests.length;
      const result = await runScript("run", ["--config", "config/app.yaml", "--input", "services.jsonl", "--output", "out.jsonl", "--json"], { cwd: dir, baseURL: server.url, env });
      expect(result.code).toBe(0);
      const bodies = server.requests.slice(before).map((r) => r.body);
      const modelsOf = (stage: string) => [...new Set(bodies.filter((b) => stageOf(b) === stage).map((b) => b.model))];
      expect(modelsOf("descriptions")).toEqual(["gpt-5"]);
      expect(modelsOf("features")).toEqual(["gpt-5-mini"]);
      expect(modelsOf("mapping")).toEqual(["gpt-5-nano"]);
      expect(bodies.map(stageOf).sort()).toEqual([...Array(1).fill("descriptions"), ...Array(5).fill("features"), ...Array(15).fill("mapping")]);
      for (const body of bodies) {
        expect(body.reasoning_effort).toBe("medium");
        expect("temperature" in body).toBe(false);
        expect("top_p" in body).toBe(false);
      }
      // context_id and inspiration name files under prompt_dir; their texts lead every system prompt.
      const context = readFileSync(join(dir, "prompts", "situational_context", "council.md"), "utf8").trim();
      const inspirations = readFileSync(join(dir, "prompts", "inspirations", "general.md"), "utf8").trim();
      for (const body of bodies) {
        const system = body.messages.find((m) => m.role === "system")!.content;
        expect(system).toContain(context.split("\n")[0]!);
        expect(system).toContain(inspirations.split("\n")[0]!);
      }
      // The configured temperature is left out, and said so once per model.
      expect(result.stderr).toContain("not sending temperature (openai:gpt-5 is a reasoning model and rejects it)");
      expect(result.stderr.match(/not sending temperature \(openai:gpt-5-nano/g)).toHaveLength(1);
      expect(result.stderr).toContain("ignoring keys with no meaning here: models.search, web_search, log_level");

      const line = JSON.parse(readFileSync(join(dir, "out.jsonl"), "utf8").trim());
      expect(stagesOf(line.meta.models)).toEqual({ descriptions: "openai:gpt-5", features: "openai:gpt-5-mini", mapping: "openai:gpt-5-nano" });
      const ledger = JSON.parse(readFileSync(join(dir, ".sa", "usage.json"), "utf8"));
      const run = ledger.runs.at(-1);
      expect(Object.keys(run.byModel).sort()).toEqual(["openai:gpt-5", "openai:gpt-5-mini", "openai:gpt-5-nano"]);
      expect(run.byModel["openai:gpt-5"].liveCalls).toBe(1);
      expect(run.byModel["openai:gpt-5-mini"].liveCalls).toBe(5);
      expect(run.byModel["openai:gpt-5-nano"].liveCalls).toBe(15);
      expect(run.models).toEqual(stagesOf(line.meta.models));
      // cache_dir is the cache's home, as in the Python tool.
      expect(filesUnder(join(dir, "xdg", "service-ambitions")).length).toBeGreaterThanOrEqual(21);

      // The same settings hit the cache; another effort is another key.
      const again = await runScript("run", ["--config", "config/app.yaml", "--input", "services.jsonl", "--output", "again.jsonl"], { cwd: dir, baseURL: server.url, env });
      expect(again.code).toBe(0);
      const afterAgain = server.requests.length;
      expect(afterAgain - before).toBe(21);
      const high = await runScript("run", ["--config", "config/app.yaml", "--input", "services.jsonl", "--output", "high.jsonl"], { cwd: dir, baseURL: server.url, env: { ...env, SA_REASONING__EFFORT: "high" } });
      expect(high.code).toBe(0);
      const highBodies = server.requests.slice(afterAgain).map((r) => r.body);
      expect(highBodies).toHaveLength(21);
      expect(new Set(highBodies.map((b) => b.reasoning_effort))).toEqual(new Set(["high"]));
    } finally {
      cleanup();
    }
  });

  test("--model on the command line is every stage's model over app.yaml's models.* (one info line); SA_MODEL is not; a stage flag still sets its stage", async () => {
    const { dir, cleanup } = pythonProject();
    try {
      const env = { XDG_CACHE_HOME: join(dir, "xdg") };
      const common = ["--config", "config/app.yaml", "--input", "services.jsonl"];
      const flag = await runScript("run", [...common, "--output", "flag.jsonl", "--model", "synthetic:demo"], { cwd: dir, baseURL: server.url, env });
      expect(flag.code).toBe(0);
      expect(flag.stderr.split("\n").filter((l) => l.includes("--model synthetic:demo replaces models.descriptions, models.features, models.mapping of config/app.yaml"))).toHaveLength(1);
      expect(linesOf(join(dir, "flag.jsonl"))[0].meta.models).toMatchObject({ descriptions: "synthetic:demo", features: "synthetic:demo", mapping: "synthetic:demo" });
      const staged = await runScript("run", [...common, "--output", "staged.jsonl", "--model", "synthetic:demo", "--features-model", "synthetic:other"], { cwd: dir, baseURL: server.url, env });
      expect(staged.code).toBe(0);
      expect(linesOf(join(dir, "staged.jsonl"))[0].meta.models).toMatchObject({ descriptions: "synthetic:demo", features: "synthetic:other", mapping: "synthetic:demo" });
      const unused = await runScript("preflight", [...common, "--model", "synthetic:demo", "--descriptions-model", "synthetic:a", "--features-model", "synthetic:a", "--mapping-model", "synthetic:a"], { cwd: dir, baseURL: server.url, env });
      expect(unused.stderr.split("\n").filter((l) => l.includes("--model synthetic:demo is used by no stage"))).toHaveLength(1);
      const before = server.requests.length;
      const fromEnv = await runScript("run", [...common, "--output", "env.jsonl"], { cwd: dir, baseURL: server.url, env: { ...env, SA_MODEL: "synthetic:demo" } });
      expect(fromEnv.code).toBe(0);
      expect(fromEnv.stderr).not.toContain("replaces models.");
      expect(linesOf(join(dir, "env.jsonl"))[0].meta.models).toMatchObject({ descriptions: "openai:gpt-5", features: "openai:gpt-5-mini", mapping: "openai:gpt-5-nano" });
      expect(server.requests.length - before).toBe(21);
    } finally {
      cleanup();
    }
  });

  test("flags choose a stage's model and maxOutputTokens is sent as max_completion_tokens", async () => {
    const { dir, cleanup } = tempDir("sa-stage-flags-");
    try {
      writeJsonl(join(dir, "services.jsonl"), makeServices(1));
      const before = server.requests.length;
      const args = ["--input", "services.jsonl", "--output", "out.jsonl", "--cache-mode", "off", "--data", fixtureData, "--model", "openai:gpt-4o-mini", "--mapping-model", "openai:gpt-4.1-mini", "--features-model", "synthetic:demo"];
      const result = await runScript("run", args, { cwd: dir, baseURL: server.url, env: { SA_TEMPERATURE: "0.2", SA_MAX_OUTPUT_TOKENS: "3000" } });
      expect(result.code).toBe(0);
      const bodies = server.requests.slice(before).map((r) => r.body);
      // synthetic answers the features stage offline: 1 description and 15 mapping calls reach the server.
      expect(bodies.map((b) => `${stageOf(b)} ${b.model}`).sort()).toEqual(["descriptions gpt-4o-mini", ...Array(15).fill("mapping gpt-4.1-mini")]);
      for (const body of bodies) {
        expect(body.temperature).toBe(0.2);
        expect(body.max_completion_tokens).toBe(3000);
        expect("reasoning_effort" in body).toBe(false);
      }
      const line = JSON.parse(readFileSync(join(dir, "out.jsonl"), "utf8").trim());
      expect(stagesOf(line.meta.models)).toEqual({ descriptions: "openai:gpt-4o-mini", features: "synthetic:demo", mapping: "openai:gpt-4.1-mini" });
    } finally {
      cleanup();
    }
  });

  test("a dry run answers each stage from its own model's cache and names each miss with its model", async () => {
    const { dir, cleanup } = pythonProject();
    try {
      const env = { XDG_CACHE_HOME: join(dir, "xdg") };
      const args = ["--config", "config/app.yaml", "--input", "services.jsonl"];
      expect((await runScript("run", [...args, "--output", "live.jsonl"], { cwd: dir, baseURL: server.url, env })).code).toBe(0);
      const dry = await runScript("run", [...args, "--output", "dry.jsonl", "--dry-run"], { cwd: dir, baseURL: server.url, env: { ...env, SA_MODELS__MAPPING: "openai:gpt-4.1-mini" } });
      const misses = dry.stderr.split("\n").filter((l) => l.includes("miss: ")).map((l) => l.slice(l.indexOf("miss: ")));
      // Descriptions and features come from the cache of gpt-5 and gpt-5-mini; only mapping, now another model, misses:
      // each line names its plateau and catalogue, so no two are the same.
      expect(misses.length).toBeGreaterThan(0);
      expect(new Set(misses).size).toBe(misses.length);
      expect(misses.filter((l) => !/^miss: mapping SVC001 \S+ \S+ openai:gpt-4\.1-mini$/.test(l))).toEqual([]);
    } finally {
      cleanup();
    }
  });
});

describe("the estimate prices each stage with its own model", () => {
  test("byStage names the model, and the total is the sum of the stages", async () => {
    const config = configSchema.parse({ dataDir: fixtureData, model: "openai:gpt-5-mini", models: { descriptions: "openai:gpt-5", mapping: "openai:gpt-5-nano" } });
    const pricing = createPricing({});
    const estimate = await estimateRun({ services: (await readServices(fixtureServices)).services, data: await loadDataset(config), config, pricing });
    expect(Object.fromEntries(Object.entries(estimate.byStage).map(([k, s]) => [k, s.model]))).toEqual({ descriptions: "openai:gpt-5", features: "openai:gpt-5-mini", mapping: "openai:gpt-5-nano" });
    for (const s of Object.values(estimate.byStage)) {
      expect(s.costUsd).toBe(pricing.cost(s.model, { inputTokens: s.inputTokens, cachedInputTokens: 0, outputTokens: s.outputTokens }));
    }
    const sum = Object.values(estimate.byStage).reduce((n, s) => n + s.costUsd!, 0);
    expect(estimate.costUsd).toBeCloseTo(sum, 9);
    // gpt-5 costs more per token than gpt-5-nano: pricing every stage as the primary would differ.
    const flat = pricing.cost("openai:gpt-5-mini", { inputTokens: estimate.inputTokens, cachedInputTokens: 0, outputTokens: estimate.outputTokens });
    expect(estimate.costUsd).not.toBeCloseTo(flat!, 6);
  });
});

describe("a hard budget needs a price for every stage's model", () => {
  test("an unpriced mapping model is named before any call", () => {
    const config = configSchema.parse({ model: "openai:gpt-4o-mini", models: { mapping: "openai:no-such-model-x" }, budget: { hardUsd: 1 } });
    expect(() => assertBudgetPriced(config)).toThrow(/no price is known for openai:no-such-model-x/);
    expect(() => assertBudgetPriced({ ...config, pricing: { "openai:no-such-model-x": { input: 1, output: 1 } } })).not.toThrow();
  });
});

describe("past runs refine each stage's expected output from runs of that stage's model", () => {
  test("a run counts for a stage only when it used the same model there", () => {
    const stage = (liveCalls: number, outputTokens: number) => ({ ...emptyTotals(), liveCalls, outputTokens });
    const run = (models: Record<string, string>, features: ReturnType<typeof stage>, mapping: ReturnType<typeof stage>) => ({
      runId: "r", task: "run", startedAt: "", finishedAt: null, status: "ok" as const, stopReason: null, totals: emptyTotals(), byModel: {}, byStage: { features, mapping }, models,
    });
    const ledger: Ledger = {
      version: 1,
      priceDataVersion: "x",
      runs: [
        run({ features: "openai:gpt-5-mini", mapping: "openai:gpt-5-nano" }, stage(10, 4000), stage(10, 1000)),
        run({ features: "openai:gpt-4o", mapping: "openai:gpt-5-nano" }, stage(10, 9000), stage(10, 3000)),
      ],
    };
    expect(observedOutput(ledger, { features: "openai:gpt-5-mini", mapping: "openai:gpt-5-nano" })).toEqual({ features: 400, mapping: 200 });
    expect(observedOutput(ledger)).toEqual({ features: 650, mapping: 200 });
  });
});

describe("SA_OPENAI_API_KEY and stray SA_* variables (issue 10, acceptance 5)", () => {
  test("the Python tool's key variable works, is never written, and SA_PASSWORD is one warning", async () => {
    const { dir, cleanup } = tempDir("sa-env-key-");
    const key = "py-key-0123456789-abcdefXYZ";
    try {
      writeJsonl(join(dir, "services.jsonl"), makeServices(1));
      const before = server.requests.length;
      const args = ["--input", "services.jsonl", "--output", "out.jsonl", "--data", fixtureData, "--model", "openai:gpt-4o-mini", "--transcripts", "--ledger-calls", "--json", "--verbose"];
      const result = await runScript("run", args, { cwd: dir, baseURL: server.url, env: { OPENAI_API_KEY: undefined, SA_OPENAI_API_KEY: key, SA_PASSWORD: "x" } });
      expect(result.code).toBe(0);
      const requests = server.requests.slice(before);
      expect(requests).toHaveLength(21);
      for (const r of requests) expect(r.authorization).toBe(`Bearer ${key}`);
      const mentions = result.stderr.split("\n").filter((l) => l.includes("SA_PASSWORD"));
      expect(mentions).toHaveLength(1);
      expect(mentions[0]).toStartWith("⚠");
      expect(JSON.parse(result.stdout.trim().split("\n").at(-1)!).status).toBe("ok");
      for (const file of filesUnder(dir)) expect({ path: file.path, leaked: file.text.includes(key) }).toEqual({ path: file.path, leaked: false });
      expect(filesUnder(dir).some((f) => f.path.includes("transcripts"))).toBe(true);
      expect(result.stdout + result.stderr).not.toContain(key);

      const preflight = await runScript("preflight", ["--input", "services.jsonl", "--data", fixtureData, "--model", "openai:gpt-4o-mini"], { cwd: dir, env: { OPENAI_API_KEY: undefined, SA_OPENAI_API_KEY: key } });
      expect(preflight.code).toBe(0);
      expect(preflight.stdout).toContain("SA_OPENAI_API_KEY is set");
      expect(preflight.stdout + preflight.stderr).not.toContain(key);
    } finally {
      cleanup();
    }
  });
});
