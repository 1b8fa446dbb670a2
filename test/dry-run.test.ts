import { describe, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { startTestServer } from "../lib/test-server.ts";
import { fixtureData, makeServices, runScript, tempDir, writeJsonl } from "./helpers.ts";

const last = (stdout: string) => JSON.parse(stdout.trim().split("\n").at(-1)!);

describe("run --dry-run counts every call that would be made", () => {
  test("services with a warm cache are written; the others count 1 + plateaus + plateaus × catalogues misses, per stage", async () => {
    const server = startTestServer();
    const { dir, cleanup } = tempDir();
    try {
      // Two mapping sets: 1 + 5 + 5 × 2 = 16 calls per service.
      writeFileSync(join(dir, "service-ambitions.config.json"), JSON.stringify({ dataDir: fixtureData, mappingSets: [{ file: "applications.json", field: "applications" }, { file: "technologies.json", field: "technologies" }] }));
      const services = makeServices(3);
      const warm = await runScript("run", ["--input", writeJsonl(join(dir, "one.jsonl"), services.slice(0, 1)), "--output", "one-out.jsonl"], { cwd: dir, baseURL: server.url });
      expect(warm.code).toBe(0);
      expect(server.requests).toHaveLength(16);

      const dry = await runScript("run", ["--input", writeJsonl(join(dir, "all.jsonl"), services), "--output", "dry.jsonl", "--dry-run", "--json"], { cwd: dir, baseURL: server.url });
      expect(dry.code).toBe(1);
      expect(server.requests).toHaveLength(16); // no network
      const summary = last(dry.stdout);
      expect(summary.missesByStage).toEqual({ descriptions: 2, features: 10, mapping: 20 });
      expect(summary.misses).toHaveLength(32);
      expect(new Set(summary.misses.map((m: { serviceId: string }) => m.serviceId))).toEqual(new Set(["SVC002", "SVC003"]));
      expect(summary.services).toMatchObject({ ok: 1, failed: 2 });
      expect(summary.totals.liveCalls).toBe(0);
      // Only the service answered from the cache is written: stand-in answers never reach the output.
      expect(readFileSync(join(dir, "dry.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l).service.service_id)).toEqual(["SVC001"]);
      expect(dry.stderr).toContain("dry run: 32 call(s) not in the cache (descriptions 2, features 10, mapping 20)");
      // Each miss names its call: the plateau of a features call, and the catalogue of a mapping call too.
      const ofService = summary.misses.filter((m: { serviceId: string }) => m.serviceId === "SVC002");
      const names = ofService.map((m: { stage: string; plateau?: string; field?: string }) => [m.stage, m.plateau, m.field].filter(Boolean).join(" "));
      expect(new Set(names).size).toBe(16);
      expect(names).toContain("features Foundational");
      expect(names).toContain("mapping Foundational technologies");
      expect(dry.stderr).toContain("  miss: mapping SVC002 Foundational applications openai:gpt-4o-mini\n");
      expect(dry.stderr).not.toContain("repeated");
    } finally {
      cleanup();
      await server.stop();
    }
  });
});

describe("run --dry-run says what the calls it would make would use and cost", () => {
  test("a cold cache: tokens and cost of every miss, the limits a run would stop on, and a run then uses about that", async () => {
    const server = startTestServer();
    const { dir, cleanup } = tempDir();
    try {
      writeFileSync(join(dir, "service-ambitions.config.json"), JSON.stringify({ dataDir: fixtureData }));
      const input = writeJsonl(join(dir, "in.jsonl"), makeServices(2));
      const dry = await runScript("run", ["--input", input, "--output", "out.jsonl", "--dry-run", "--json", "--budget", "0.0001", "--max-requests", "30"], { cwd: dir, baseURL: server.url });
      expect(server.requests).toHaveLength(0);
      const estimate = last(dry.stdout).missesEstimate;
      expect(estimate).toMatchObject({ calls: 42, outputTokens: 2 * (900 + 5 * 1500 + 15 * 1200) });
      expect(estimate.costUsd).toBeGreaterThan(0.0001);
      expect(estimate.over).toEqual([expect.stringContaining("over the budget $0.0001"), expect.stringContaining("the estimate of 42 calls is over max-requests 30")]);
      expect(dry.stderr).toContain(`dry run: 42 call(s) not in the cache (descriptions 2, features 10, mapping 30), about ${estimate.inputTokens} input and ${estimate.outputTokens} output tokens, about $`);

      // Our count of the prompts (o200k) against the test server's four characters a token: within 15%.
      const run = await runScript("run", ["--input", input, "--output", "out.jsonl", "--json"], { cwd: dir, baseURL: server.url });
      expect(run.code).toBe(0);
      const totals = last(run.stdout).totals;
      expect(totals.liveCalls).toBe(estimate.calls);
      expect(Math.abs(totals.inputTokens - estimate.inputTokens) / totals.inputTokens).toBeLessThan(0.15);
    } finally {
      cleanup();
      await server.stop();
    }
  });
});
