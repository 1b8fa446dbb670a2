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
    } finally {
      cleanup();
      await server.stop();
    }
  });
});
