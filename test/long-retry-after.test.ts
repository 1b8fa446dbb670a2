import { describe, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { readLedger } from "../lib/ledger.ts";
import { startTestServer } from "../lib/test-server.ts";
import { fixtureData, makeServices, spawnScript, tempDir, writeJsonl } from "./helpers.ts";

describe("a provider that asks to wait longer than retry.maxWaitMs", () => {
  // Azure answers a spent daily quota with `retry-after: 86400`: waited out, the run would hang a day.
  test.each([
    ["retry-after: 86400", { type: "429" as const, retryAfter: "86400" }],
    ["x-ratelimit-reset-requests: 6h0m0s", { type: "429" as const, headers: { "x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "6h0m0s" } }],
  ])("%s on the stage's model: no wait, the fallback answers at once, and dispatch is not paused for it", async (_name, fault) => {
    const server = startTestServer({ fault: (_n, body) => (body.model === "gpt-5" ? fault : undefined) });
    const { dir, cleanup } = tempDir("sa-long-wait-");
    try {
      writeJsonl(join(dir, "services.jsonl"), makeServices(2));
      writeFileSync(join(dir, "service-ambitions.config.json"), JSON.stringify({ dataDir: fixtureData, model: "openai:gpt-5", models: { fallback: ["openai:gpt-5-mini"] } }));
      const proc = spawnScript("run", ["--input", "services.jsonl", "--output", "out.jsonl", "--verbose"], { cwd: dir, baseURL: server.url, env: { XDG_CACHE_HOME: join(dir, "xdg") } });
      const killer = setTimeout(() => proc.kill("SIGKILL"), 20_000);
      const [stderr, code] = await Promise.all([new Response(proc.stderr).text(), proc.exited]);
      clearTimeout(killer);
      expect(code).toBe(0);
      expect(stderr).toContain("more than retry.maxWaitMs");
      // No call retried gpt-5: each that asked it asked once, then the fallback. After 3 such calls in
      // a row gpt-5 is skipped (circuitBreaker): only those and the calls already in flight (8) asked it.
      const models = server.requests.map((r) => r.body.model);
      const asked = models.filter((m) => m === "gpt-5").length;
      expect(asked).toBeGreaterThanOrEqual(3);
      expect(asked).toBeLessThanOrEqual(3 + 8);
      const primary = readLedger(join(dir, ".sa/usage.json")).runs.at(-1)!.byModel["openai:gpt-5"]!;
      expect({ retries: primary.retries, failed: primary.failedCalls, calls: primary.failedCalls + primary.skippedCalls }).toEqual({ retries: 0, failed: asked, calls: 42 });
      expect(models.filter((m) => m === "gpt-5-mini")).toHaveLength(42);
      const line = JSON.parse(readFileSync(join(dir, "out.jsonl"), "utf8").split("\n")[0]!) as { meta: { models: Record<string, string> } };
      expect(line.meta.models.descriptions).toBe("openai:gpt-5-mini");
    } finally {
      cleanup();
      await server.stop();
    }
  }, 30_000);
});

describe("a 429 from one endpoint", () => {
  test("pauses that endpoint's calls only: the fallback on another endpoint is asked at once", async () => {
    const limited = startTestServer({ fault: () => ({ type: "429" as const, retryAfter: "4" }) });
    const other = startTestServer();
    const { dir, cleanup } = tempDir("sa-pause-");
    try {
      writeJsonl(join(dir, "services.jsonl"), makeServices(1));
      const providers = { limited: { type: "openai", baseURL: limited.url }, other: { type: "openai", baseURL: other.url } };
      // One attempt: the 429 fails the call at once, and the fallback is asked.
      writeFileSync(join(dir, "service-ambitions.config.json"), JSON.stringify({ dataDir: fixtureData, model: "limited:gpt-4o-mini", models: { fallback: ["other:gpt-4o-mini"] }, retry: { attempts: 1 }, providers }));
      const proc = spawnScript("run", ["--input", "services.jsonl", "--output", "out.jsonl"], { cwd: dir, env: { XDG_CACHE_HOME: join(dir, "xdg") } });
      const killer = setTimeout(() => proc.kill("SIGKILL"), 40_000);
      expect(await proc.exited).toBe(0);
      clearTimeout(killer);
      // The descriptions call: its 429 from `limited`, then its answer from `other`, without the 4 s wait.
      expect(other.requests[0]!.at - limited.requests[0]!.at).toBeLessThan(2000);
      expect(other.requests).toHaveLength(21);
    } finally {
      cleanup();
      await limited.stop();
      await other.stop();
    }
  }, 60_000);
});
