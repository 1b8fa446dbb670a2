import { describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { readLedger } from "../lib/ledger.ts";
import { startTestServer } from "../lib/test-server.ts";
import { fixtureData, makeServices, spawnScript, tempDir, until, writeJsonl } from "./helpers.ts";

describe("the ledger of an interrupted run", () => {
  test("calls started after Ctrl-C never count as skipped: a skip says the next model was asked, and none is after a stop", async () => {
    // The primary fails at once and is down from its first failure on; the fallback answers slowly.
    const server = startTestServer({ latencyMs: 400, fault: (_n, body) => (body.model === "broken-model" ? { type: "500" } : undefined) });
    const { dir, cleanup } = tempDir();
    try {
      const config = { dataDir: fixtureData, model: "openai:broken-model", models: { fallback: ["openai:gpt-4o-mini"] }, retry: { attempts: 1, baseMs: 1, capMs: 2 }, circuitBreaker: { failures: 1, coolDownMs: 600_000 }, concurrency: 64 };
      writeFileSync(join(dir, "service-ambitions.config.json"), JSON.stringify(config));
      const input = writeJsonl(join(dir, "in.jsonl"), makeServices(2));
      const proc = spawnScript("run", ["--input", input, "--output", "out.jsonl"], { cwd: dir, baseURL: server.url });
      // Ctrl-C once the features calls are out (2 descriptions first): their mapping calls start only after it.
      const fallbackRequests = () => server.requests.filter((r) => r.body.model === "gpt-4o-mini").length;
      await until(() => fallbackRequests() > 2, "the features calls");
      proc.kill("SIGINT");
      expect(await proc.exited).toBe(130);
      const run = readLedger(join(dir, ".sa/usage.json")).runs.at(-1)!;
      expect(run.status).toBe("interrupted");
      // Every call that passed over the primary went to the fallback (nothing queued: concurrency 64).
      expect(run.totals.skippedCalls).toBeGreaterThan(0);
      expect(run.totals.skippedCalls).toBeLessThanOrEqual(fallbackRequests());
      expect(run.byStage.mapping?.skippedCalls ?? 0).toBe(0);
      expect(run.totals.requests).toBe(server.requests.length);
    } finally {
      cleanup();
      await server.stop();
    }
  }, 30_000);
});
