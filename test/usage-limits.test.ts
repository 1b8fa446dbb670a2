import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { readLedger } from "../lib/ledger.ts";
import { startTestServer, type TestServer } from "../lib/test-server.ts";
import { fixtureData, makeServices, runScript, tempDir, writeJsonl } from "./helpers.ts";

// The provider bills far more prompt tokens than our own count of the prompt (another tokenizer,
// framing): only what the run learns from its answers keeps a limit from being crossed.
const billedPrompt = 20_000;
let server: TestServer;
beforeAll(() => {
  server = startTestServer({ usage: { prompt_tokens: billedPrompt, completion_tokens: 100 } });
});
afterAll(() => server.stop());

const lastJson = (stdout: string) => JSON.parse(stdout.trim().split("\n").at(-1)!);

async function limitedRun(dir: string, args: string[]) {
  const result = await runScript("run", ["--output", "out.jsonl", "--data", fixtureData, "--json", ...args], { cwd: dir, baseURL: server.url });
  const summary = lastJson(result.stdout);
  for (const line of readFileSync(join(dir, "out.jsonl"), "utf8").split("\n").filter(Boolean)) JSON.parse(line);
  return { result, summary };
}

describe("usage limits learn from the answers that came back while a call queued", () => {
  test("--concurrency 1: calls queued before the first answer are weighed when they go, so the limit is never crossed", async () => {
    const { dir, cleanup } = tempDir();
    try {
      writeFileSync(join(dir, "service-ambitions.config.json"), JSON.stringify({ estimate: { descriptions: 100, features: 100, mapping: 100 } }));
      // Four descriptions calls queue at once; with nothing else in flight, each must be weighed as billed.
      const input = writeJsonl(join(dir, "in.jsonl"), makeServices(4));
      const limit = 2.5 * billedPrompt;
      const { result, summary } = await limitedRun(dir, ["--input", input, "--concurrency", "1", "--max-input-tokens", String(limit)]);
      expect(result.code).toBe(3);
      expect(result.stderr).toContain("to go on, run the same command again with a higher limit or budget: the services already written are kept");
      // The reason says what was used, and what the call that was refused would have added.
      expect(summary.stopReason).toMatch(/^max-input-tokens 50000 would be exceeded \(used 40000, next call about 2\d{4}\)$/);
      expect(summary.totals.inputTokens).toBeLessThanOrEqual(limit);
      expect(summary.totals.liveCalls).toBe(2);
    } finally {
      cleanup();
    }
  });

  test("a stage's first call on a model of its own is weighed by what the provider billed the run's other models", async () => {
    const { dir, cleanup } = tempDir();
    try {
      const models = { descriptions: "openai:gpt-4o-mini", features: "openai:gpt-4.1-mini", mapping: "openai:gpt-4.1-nano" };
      writeFileSync(join(dir, "service-ambitions.config.json"), JSON.stringify({ models, estimate: { descriptions: 100, features: 100, mapping: 100 } }));
      const input = writeJsonl(join(dir, "in.jsonl"), makeServices(1));
      const limit = 1.5 * billedPrompt;
      const { result, summary } = await limitedRun(dir, ["--input", input, "--concurrency", "1", "--max-input-tokens", String(limit)]);
      expect(result.code).toBe(3);
      expect(summary.totals.inputTokens).toBeLessThanOrEqual(limit);
      expect(summary.totals.liveCalls).toBe(1);
      expect(readLedger(join(dir, ".sa/usage.json")).runs.at(-1)!.status).toBe("limit");
    } finally {
      cleanup();
    }
  });
});

describe("preflight weighs the estimate against the usage limits, as against the budget", () => {
  test("an estimate over --max-requests or a token limit fails preflight, naming the limit; one within them passes", async () => {
    const { dir, cleanup } = tempDir();
    try {
      const input = writeJsonl(join(dir, "in.jsonl"), makeServices(2)); // 42 calls
      const preflight = (args: string[]) => runScript("preflight", ["--input", input, "--data", fixtureData, ...args], { cwd: dir, baseURL: server.url });
      const over = await preflight(["--max-requests", "10"]);
      expect(over.code).toBe(1);
      expect(over.stdout).toContain("the estimate of 42 calls is over max-requests 10");
      writeFileSync(join(dir, "service-ambitions.config.json"), JSON.stringify({ limits: { maxTokens: 1000 } }));
      const tokens = await preflight(["--json"]);
      expect(tokens.code).toBe(1);
      expect(JSON.parse(tokens.stdout.trim().split("\n").at(-1)!).checks.find((c: { name: string }) => c.name === "estimate").problems).toEqual([expect.stringMatching(/^the estimate of \d+ tokens is over max-tokens 1000/)]);
      const within = await preflight(["--max-requests", "42", "--max-tokens", "10000000"]);
      expect(within.code).toBe(0);
    } finally {
      cleanup();
    }
  });
});

describe("preflight's estimate against what a run then does (the tolerance the README states)", () => {
  test("calls exact; input tokens within 10%; once the ledger has a run of the same models, output tokens and cost within 10%", async () => {
    const plain = startTestServer(); // usage as the text lengths give it: four characters a token
    const { dir, cleanup } = tempDir();
    try {
      const input = writeJsonl(join(dir, "in.jsonl"), makeServices(3));
      const preflight = async () => {
        const result = await runScript("preflight", ["--input", input, "--data", fixtureData, "--json"], { cwd: dir, baseURL: plain.url });
        expect(result.code).toBe(0);
        return lastJson(result.stdout).estimate;
      };
      const near = (estimated: number, actual: number) => expect(Math.abs(estimated - actual) / actual).toBeLessThan(0.1);
      const before = await preflight();
      const run = await runScript("run", ["--input", input, "--output", "out.jsonl", "--data", fixtureData, "--json"], { cwd: dir, baseURL: plain.url });
      expect(run.code).toBe(0);
      const totals = lastJson(run.stdout).totals;
      expect(totals.liveCalls).toBe(before.calls);
      near(before.inputTokens, totals.inputTokens);
      const after = await preflight();
      expect(after.byStage.features.outputSource).toBe("ledger");
      expect(after.calls).toBe(totals.liveCalls);
      near(after.inputTokens, totals.inputTokens);
      near(after.outputTokens, totals.outputTokens);
      near(after.costUsd, totals.costUsd);
    } finally {
      cleanup();
      await plain.stop();
    }
  });
});

describe("a limit stops the run only when the call would cross it, not while calls in flight hold estimates", () => {
  test("pessimistic estimates at --concurrency 8: the run waits for the answers in flight instead of stopping at a fraction of the budget", async () => {
    const cheap = startTestServer({ usage: { prompt_tokens: 1000, completion_tokens: 100 } });
    const { dir, cleanup } = tempDir();
    try {
      // Each call is expected to answer 20,000 tokens ($0.0122 with gpt-4o-mini) and answers 100 ($0.00021).
      writeFileSync(join(dir, "service-ambitions.config.json"), JSON.stringify({ estimate: { descriptions: 20000, features: 20000, mapping: 20000 } }));
      const input = writeJsonl(join(dir, "in.jsonl"), makeServices(3));
      const budget = 0.03;
      const result = await runScript("run", ["--input", input, "--output", "out.jsonl", "--data", fixtureData, "--json", "--concurrency", "8", "--budget", String(budget)], { cwd: dir, baseURL: cheap.url });
      const summary = lastJson(result.stdout);
      expect(summary.stopReason).toBeNull();
      expect(result.code).toBe(0);
      expect(summary.totals.liveCalls).toBe(63);
      expect(summary.totals.costUsd).toBeLessThanOrEqual(budget);
    } finally {
      cleanup();
      await cheap.stop();
    }
  });
});
