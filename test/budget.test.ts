import { describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { startTestServer } from "../lib/test-server.ts";
import { fixtureData, fixtureServices, makeServices, runScript, tempDir, writeJsonl } from "./helpers.ts";

describe("a budget needs a price for every model it may pay", () => {
  test("--budget with an unpriced model: exit 2 before any call, naming the model and `pricing`; preflight fails too", async () => {
    const server = startTestServer();
    const { dir, cleanup } = tempDir();
    try {
      const input = writeJsonl(join(dir, "in.jsonl"), makeServices(2));
      const run = await runScript("run", ["--input", input, "--output", "out.jsonl", "--data", fixtureData, "--model", "openai:my-finetune", "--budget", "1"], { cwd: dir, baseURL: server.url });
      expect(run.code).toBe(2);
      expect(run.stderr).toContain("openai:my-finetune");
      expect(run.stderr).toContain('"pricing"');
      expect(server.requests).toHaveLength(0);

      // A fallback without a price is just as unbounded.
      writeFileSync(join(dir, "service-ambitions.config.json"), JSON.stringify({ budget: { hardUsd: 1 }, models: { fallback: ["openai:my-finetune"] } }));
      const fallback = await runScript("run", ["--input", input, "--output", "out.jsonl", "--data", fixtureData], { cwd: dir, baseURL: server.url });
      expect(fallback.code).toBe(2);
      expect(fallback.stderr).toContain("openai:my-finetune");
      expect(server.requests).toHaveLength(0);

      const preflight = await runScript("preflight", ["--input", fixtureServices, "--data", fixtureData, "--model", "openai:my-finetune", "--budget", "1"], { cwd: dir, baseURL: server.url });
      expect(preflight.code).not.toBe(0);
      expect(preflight.stdout).toContain("no price is known for openai:my-finetune");
    } finally {
      cleanup();
      await server.stop();
    }
  });

  test("with a pricing entry the same budget is kept: the run goes ahead and is priced", async () => {
    const server = startTestServer();
    const { dir, cleanup } = tempDir();
    try {
      writeFileSync(join(dir, "service-ambitions.config.json"), JSON.stringify({ pricing: { "openai:my-finetune": { input: 0.3, output: 1.2 } } }));
      const input = writeJsonl(join(dir, "in.jsonl"), makeServices(1));
      const run = await runScript("run", ["--input", input, "--output", "out.jsonl", "--data", fixtureData, "--model", "openai:my-finetune", "--budget", "1", "--json"], { cwd: dir, baseURL: server.url });
      expect(run.code).toBe(0);
      expect(server.answered).toBe(21);
      expect(JSON.parse(run.stdout.trim().split("\n").at(-1)!).totals.costUsd).toBeGreaterThan(0);
      const preflight = await runScript("preflight", ["--input", fixtureServices, "--data", fixtureData, "--model", "openai:my-finetune", "--budget", "1"], { cwd: dir, baseURL: server.url });
      expect(preflight.code).toBe(0);
    } finally {
      cleanup();
      await server.stop();
    }
  });
});
