import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readFileSync, utimesSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { readLedger, saveRun } from "../lib/ledger.ts";
import { createPricing } from "../lib/pricing.ts";
import { createRecorder } from "../lib/recorder.ts";
import { startTestServer, type TestServer } from "../lib/test-server.ts";
import { warningLog } from "./cache/contract.ts";
import { deadPid, fixtureData, makeServices, runScript, tempDir, writeJsonl } from "./helpers.ts";

const usage = { prompt_tokens: 1000, completion_tokens: 200, cached_tokens: 300, reasoning_tokens: 50 };
// gpt-4o-mini: $0.15 input, $0.075 cached input, $0.60 output per million tokens.
const costPerCall = (700 * 0.15 + 300 * 0.075 + 200 * 0.6) / 1e6;

let server: TestServer;
beforeAll(() => {
  server = startTestServer({ usage });
});
afterAll(() => server.stop());

const lastJson = (stdout: string) => JSON.parse(stdout.trim().split("\n").at(-1)!);

describe("pricing", () => {
  test("a priced model costs what a hand computation says", () => {
    const pricing = createPricing({});
    expect(pricing.cost("openai:gpt-4o-mini", { inputTokens: 1000, cachedInputTokens: 300, outputTokens: 200 })).toBeCloseTo(costPerCall, 12);
    expect(pricing.cost("openai:gpt-4o-mini", { inputTokens: 1_000_000, cachedInputTokens: 0, outputTokens: 1_000_000 })).toBeCloseTo(0.75, 12);
  });
  test("config overrides win, per million tokens", () => {
    const pricing = createPricing({ "openai:my-model": { input: 1, cachedInput: 0.5, output: 2 } });
    expect(pricing.cost("openai:my-model", { inputTokens: 1000, cachedInputTokens: 400, outputTokens: 100 })).toBeCloseTo((600 * 1 + 400 * 0.5 + 100 * 2) / 1e6, 12);
  });
  test("an unknown model costs null, with one warning", () => {
    const { log, warnings } = warningLog();
    const pricing = createPricing({}, log);
    expect(pricing.cost("openai:no-such-model-xyz", { inputTokens: 10, cachedInputTokens: 0, outputTokens: 10 })).toBeNull();
    expect(pricing.cost("openai:no-such-model-xyz", { inputTokens: 10, cachedInputTokens: 0, outputTokens: 10 })).toBeNull();
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain("openai:no-such-model-xyz");
  });
  test("the synthetic provider is free", () => {
    expect(createPricing({}).cost("synthetic:demo", { inputTokens: 10, cachedInputTokens: 0, outputTokens: 10 })).toBe(0);
  });
});

describe("ledger", () => {
  test("ledger and --json totals equal what the server reported; a cached rerun records savings", async () => {
    const { dir, cleanup } = tempDir();
    try {
      const input = writeJsonl(join(dir, "in.jsonl"), makeServices(2));
      const args = ["--input", input, "--output", "out.jsonl", "--data", fixtureData, "--json", "--ledger-calls"];
      const before = server.answered;
      const first = await runScript("run", args, { cwd: dir, baseURL: server.url });
      expect(first.code).toBe(0);
      const answered = server.answered - before;
      expect(answered).toBe(42);
      const expected = { liveCalls: answered, inputTokens: answered * 1000, cachedInputTokens: answered * 300, outputTokens: answered * 200, reasoningTokens: answered * 50, cachedCalls: 0, requests: answered, retries: 0 };
      const ledger = readLedger(join(dir, ".sa/usage.json"));
      expect(ledger.runs).toHaveLength(1);
      expect(ledger.priceDataVersion).toMatch(/^@pydantic\/genai-prices@\d/);
      expect(ledger.runs[0]!.totals).toMatchObject(expected);
      expect(lastJson(first.stdout).totals).toMatchObject(expected);
      expect(ledger.runs[0]!.totals.costUsd).toBeCloseTo(answered * costPerCall, 9);
      expect(ledger.runs[0]!.byStage.mapping!.liveCalls).toBe(30);
      expect(ledger.runs[0]!.byModel["openai:gpt-4o-mini"]!.liveCalls).toBe(42);
      const calls = readFileSync(join(dir, ".sa/calls", `${ledger.runs[0]!.runId}.jsonl`), "utf8").trim().split("\n");
      expect(calls).toHaveLength(42);

      const second = await runScript("run", [...args.slice(0, 3), "again.jsonl", ...args.slice(4)], { cwd: dir, baseURL: server.url });
      expect(second.code).toBe(0);
      const rerun = readLedger(join(dir, ".sa/usage.json")).runs[1]!;
      expect(rerun.totals.liveCalls).toBe(0);
      expect(rerun.totals.cachedCalls).toBe(42);
      expect(rerun.totals.costUsd).toBe(0);
      expect(rerun.totals.savedCostUsd).toBeCloseTo(answered * costPerCall, 9);
    } finally {
      cleanup();
    }
  });

  test("--budget below the cost of a full run stops with exit 3 before crossing it", async () => {
    const { dir, cleanup } = tempDir();
    try {
      writeFileSync(join(dir, "service-ambitions.config.json"), JSON.stringify({ estimate: { descriptions: 200, features: 200, mapping: 200 } }));
      const input = writeJsonl(join(dir, "in.jsonl"), makeServices(3));
      const budget = 20 * costPerCall; // a full run is 63 calls
      const result = await runScript("run", ["--input", input, "--output", "out.jsonl", "--data", fixtureData, "--json", "--budget", String(budget)], { cwd: dir, baseURL: server.url });
      expect(result.code).toBe(3);
      const summary = lastJson(result.stdout);
      expect(summary.status).toBe("limit");
      expect(summary.totals.costUsd).toBeLessThanOrEqual(budget);
      expect(summary.totals.liveCalls).toBeGreaterThan(0);
      expect(summary.totals.liveCalls).toBeLessThan(63);
      const run = readLedger(join(dir, ".sa/usage.json")).runs.at(-1)!;
      expect(run.status).toBe("limit");
      expect(run.stopReason).toContain("budget");
      for (const line of readFileSync(join(dir, "out.jsonl"), "utf8").split("\n").filter(Boolean)) JSON.parse(line);
    } finally {
      cleanup();
    }
  });

  test("each run records the price data it was priced with, and the config's prices for its models", async () => {
    const { dir, cleanup } = tempDir();
    try {
      const own = { input: 0.3, cachedInput: 0.15, output: 1.2 };
      writeFileSync(join(dir, "service-ambitions.config.json"), JSON.stringify({ models: { mapping: "openai:my-finetune" }, pricing: { "openai:my-finetune": own, "openai:unused": { input: 9, output: 9 } } }));
      const input = writeJsonl(join(dir, "in.jsonl"), makeServices(1));
      const result = await runScript("run", ["--input", input, "--output", "out.jsonl", "--data", fixtureData, "--quiet"], { cwd: dir, baseURL: server.url });
      expect(result.code).toBe(0);
      const run = readLedger(join(dir, ".sa/usage.json")).runs[0]!;
      expect(run.priceDataVersion).toMatch(/^@pydantic\/genai-prices@\d/);
      expect(run.priceOverrides).toEqual({ "openai:my-finetune": own });
      expect(run.byModel["openai:my-finetune"]!.costUsd).toBeCloseTo(15 * (700 * 0.3 + 300 * 0.15 + 200 * 1.2) / 1e6, 9);
      const shown = await runScript("usage", [], { cwd: dir });
      expect(shown.stdout).toMatch(/^prices: @pydantic\/genai-prices@\S+ \(config prices for openai:my-finetune\)$/m);
    } finally {
      cleanup();
    }
  });

  test("a corrupt ledger: one line naming the file, the line and what is wrong, and where the run's usage waits; nothing is lost", async () => {
    const { dir, cleanup } = tempDir();
    try {
      const input = writeJsonl(join(dir, "in.jsonl"), makeServices(1));
      const ledgerPath = join(dir, ".sa/usage.json");
      const args = ["--input", input, "--output", "out.jsonl", "--data", fixtureData, "--cache-mode", "off"];
      expect((await runScript("run", args, { cwd: dir, baseURL: server.url })).code).toBe(0);
      const good = readFileSync(ledgerPath, "utf8");
      const torn = good.slice(0, good.indexOf('"totals"') + 20); // cut off mid-write
      writeFileSync(ledgerPath, torn);
      const tornLine = torn.split("\n").length;

      const run = await runScript("run", [...args, "--fresh"], { cwd: dir, baseURL: server.url });
      expect(run.code).toBe(0);
      const complaints = run.stderr.split("\n").filter((l) => l.includes("usage.json"));
      expect(complaints).toHaveLength(1);
      expect(complaints[0]).toContain(`.sa/usage.json:${tornLine}: invalid JSON`);
      const journal = complaints[0]!.match(/kept in (\S+\.jsonl)/)?.[1];
      expect(journal).toBeDefined();
      expect(readFileSync(ledgerPath, "utf8")).toBe(torn); // left as it was, for whoever repairs it
      expect(existsSync(join(dir, journal!))).toBe(true);

      const usage = await runScript("usage", [], { cwd: dir });
      expect(usage.code).toBe(2);
      expect(usage.stderr.trim().split("\n").filter((l) => l.includes("usage.json"))).toEqual([expect.stringContaining(`.sa/usage.json:${tornLine}: invalid JSON`)]);

      // Repaired (here: the good copy back), the next reader folds the waiting run in: both runs are there.
      writeFileSync(ledgerPath, good);
      expect((await runScript("usage", ["--all", "--json"], { cwd: dir })).code).toBe(0);
      const runs = readLedger(ledgerPath).runs;
      expect(runs).toHaveLength(2);
      expect(runs[1]!.status).toBe("ok");
      expect(runs[1]!.totals.liveCalls).toBe(21);

      // A ledger of the wrong shape names the line of the field.
      writeFileSync(ledgerPath, good.replace('"task": "run"', '"task": 7'));
      const shape = await runScript("usage", [], { cwd: dir });
      expect(shape.code).toBe(2);
      expect(shape.stderr).toMatch(/\.sa\/usage\.json:\d+: runs\.0\.task: /);

      // A ledger path that is a folder is named too (the system's own message names no file).
      mkdirSync(join(dir, "folder"));
      const folder = await runScript("run", [...args, "--fresh"], { cwd: dir, baseURL: server.url, env: { SA_LEDGER__PATH: "folder" } });
      expect(folder.code).toBe(0);
      expect(folder.stderr).toContain("⚠ ledger folder: cannot be read (it is a folder);");
    } finally {
      cleanup();
    }
  });

  test("two runs writing the same ledger at once both land in it", async () => {
    const { dir, cleanup } = tempDir();
    try {
      const input = writeJsonl(join(dir, "in.jsonl"), makeServices(2));
      const results = await Promise.all(["a", "b"].map((o) => runScript("run", ["--input", input, "--output", `${o}.jsonl`, "--data", fixtureData, "--cache-mode", "off", "--quiet"], { cwd: dir, baseURL: server.url })));
      expect(results.map((r) => r.code)).toEqual([0, 0]);
      const runs = readLedger(join(dir, ".sa/usage.json")).runs;
      expect(runs).toHaveLength(2);
      expect(runs.every((r) => r.status === "ok" && r.totals.liveCalls === 42)).toBe(true);
    } finally {
      cleanup();
    }
  });

  test("many concurrent saves lose nothing", async () => {
    const { dir, cleanup } = tempDir();
    try {
      const path = join(dir, "usage.json");
      await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          saveRun(path, createRecorder().snapshot({ runId: `r${i}`, task: "run", startedAt: new Date().toISOString(), finishedAt: null, status: "ok", stopReason: null })),
        ),
      );
      expect(readLedger(path).runs.map((r) => r.runId).sort()).toEqual(Array.from({ length: 20 }, (_, i) => `r${i}`).sort());
    } finally {
      cleanup();
    }
  });

  test("a ledger read back: an older one gets its defaults, a wrong field is named, ours is taken as written", () => {
    const { dir, cleanup } = tempDir();
    try {
      const path = join(dir, "usage.json");
      const current = createRecorder().snapshot({ runId: "new", task: "run", startedAt: "2026-01-01T00:00:00.000Z", finishedAt: null, status: "ok", stopReason: null });
      // Written before failedCalls, unpricedCalls, skippedCalls and the batch totals existed.
      const { unpricedCalls, failedCalls, skippedCalls, batchCalls, savedByBatchUsd, ...olderTotals } = current.totals;
      const older = { ...current, runId: "old", totals: olderTotals, byStage: { features: olderTotals }, byModel: {} };
      writeFileSync(path, JSON.stringify({ version: 1, priceDataVersion: "x", runs: [older, current] }));
      const [old, same] = readLedger(path).runs;
      expect(old!.totals).toEqual(current.totals);
      expect(old!.byStage.features).toEqual(current.totals);
      expect(same).toEqual(current);
      writeFileSync(path, JSON.stringify({ version: 1, priceDataVersion: "x", runs: [{ ...current, totals: { ...current.totals, requests: "7" } }] }));
      expect(() => readLedger(path)).toThrow(/ledger .*usage\.json:1: runs\.0\.totals\.requests: /);
    } finally {
      cleanup();
    }
  });

  test("a ledger path that is a folder says so in words, not with the system's EISDIR", () => {
    const { dir, cleanup } = tempDir();
    try {
      mkdirSync(join(dir, "usage.json"));
      expect(() => readLedger(join(dir, "usage.json"))).toThrow(`ledger ${join(dir, "usage.json")}: cannot be read (it is a folder)`);
    } finally {
      cleanup();
    }
  });

  test("a ledger lock left by a killed process (its pid gone) is broken at once, not after 30 s", async () => {
    const { dir, cleanup } = tempDir();
    try {
      const path = join(dir, "usage.json");
      writeFileSync(`${path}.lock`, JSON.stringify({ pid: await deadPid(), host: hostname(), startedAt: new Date().toISOString() }));
      const started = Date.now();
      await saveRun(path, createRecorder().snapshot({ runId: "after-the-kill", task: "run", startedAt: new Date().toISOString(), finishedAt: null, status: "ok", stopReason: null }));
      expect(Date.now() - started).toBeLessThan(2000);
      expect(readLedger(path).runs.map((r) => r.runId)).toEqual(["after-the-kill"]);
      expect(existsSync(`${path}.lock`)).toBe(false);
    } finally {
      cleanup();
    }
  });

  test("a ledger lock holding no owner (garbage, or a crash between create and write) for over 5 s is broken then, not after 30 s", async () => {
    const { dir, cleanup } = tempDir();
    try {
      const path = join(dir, "usage.json");
      for (const garbage of ["not json at all", '{"owner":"someone"}', ""]) {
        writeFileSync(`${path}.lock`, garbage);
        const sixSecondsAgo = new Date(Date.now() - 6000);
        utimesSync(`${path}.lock`, sixSecondsAgo, sixSecondsAgo);
        const started = Date.now();
        await saveRun(path, createRecorder().snapshot({ runId: `after-${garbage.length}`, task: "run", startedAt: new Date().toISOString(), finishedAt: null, status: "ok", stopReason: null }));
        expect(Date.now() - started).toBeLessThan(2000);
        expect(existsSync(`${path}.lock`)).toBe(false);
      }
      expect(readLedger(path).runs).toHaveLength(3);
    } finally {
      cleanup();
    }
  });

  test("usage prints a table, and --json parses", async () => {
    const { dir, cleanup } = tempDir();
    try {
      const input = writeJsonl(join(dir, "in.jsonl"), makeServices(1));
      await runScript("run", ["--input", input, "--output", "out.jsonl", "--data", fixtureData, "--quiet"], { cwd: dir, baseURL: server.url });
      const text = await runScript("usage", [], { cwd: dir });
      expect(text.code).toBe(0);
      expect(text.stdout).toMatch(/^stage\s+live\s+cached/m);
      expect(text.stdout).toMatch(/^mapping\s+15\s+0/m);
      expect(text.stdout).toMatch(/^openai:gpt-4o-mini\s+21/m);
      const json = JSON.parse((await runScript("usage", ["--json", "--all"], { cwd: dir })).stdout);
      expect(json.totals.liveCalls).toBe(21);
      expect(json.byStage.features.liveCalls).toBe(5);
      expect((await runScript("usage", ["--since", "1d", "--json"], { cwd: dir })).code).toBe(0);
      expect((await runScript("usage", ["--since", "yesterday"], { cwd: dir })).code).toBe(2);
    } finally {
      cleanup();
    }
  });
});

describe("usage --ledger", () => {
  test("a ledger the flag names that does not exist is exit 2 naming it (a typo is not 'no runs'); the config's default ledger not yet written is no runs, exit 0", async () => {
    const { dir, cleanup } = tempDir();
    try {
      const typo = await runScript("usage", ["--ledger", "usgae.json", "--json"], { cwd: dir });
      expect(typo.code).toBe(2);
      expect(typo.stderr).toContain("--ledger usgae.json: file not found");
      expect(JSON.parse(typo.stdout.trim())).toMatchObject({ status: "error", exitCode: 2, code: "E_INPUT_UNREADABLE" });
      const fresh = await runScript("usage", ["--json"], { cwd: dir });
      expect(fresh.code).toBe(0);
      expect(JSON.parse(fresh.stdout.trim()).runs).toEqual([]);
    } finally {
      cleanup();
    }
  });
});
