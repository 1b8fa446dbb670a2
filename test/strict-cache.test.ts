import { describe, expect, test } from "bun:test";
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { fakeFromSchema } from "../lib/fake-answer.ts";
import { startTestServer, type ChatBody } from "../lib/test-server.ts";
import { fixtureData, makeServices, runScript, tempDir, writeJsonl } from "./helpers.ts";

/** Mapping answers that name an item no catalogue has (the rest of the answer is usable). */
function withUnknownItem(body: ChatBody, n: number): string | undefined {
  const format = body.response_format?.json_schema;
  if (!format?.name?.endsWith("_mapping")) return undefined;
  const answer = fakeFromSchema(format.schema as never, `seed-${n}`) as { mappings: Array<{ feature_id: string; items: unknown[] }> };
  answer.mappings[0]!.items.push({ item: "NOT-IN-ANY-CATALOGUE", facets: null });
  return JSON.stringify(answer);
}

const quarantined = (dir: string, runId: string) =>
  readFileSync(join(dir, ".sa/quarantine", `${runId}.jsonl`), "utf8").trim().split("\n").map((l) => JSON.parse(l)).filter((q) => q.kind === "mapping");

describe("--strict and the cache", () => {
  test("a cached rerun quarantines what the live run dropped and exits 1 too, with 0 requests", async () => {
    const server = startTestServer({ answer: withUnknownItem });
    const { dir, cleanup } = tempDir();
    try {
      const input = writeJsonl(join(dir, "in.jsonl"), makeServices(1));
      const live = await runScript("run", ["--input", input, "--output", "live.jsonl", "--data", fixtureData, "--strict", "--json"], { cwd: dir, baseURL: server.url });
      expect(live.code).toBe(1);
      const liveSummary = JSON.parse(live.stdout.trim().split("\n").at(-1)!);
      const liveDropped = quarantined(dir, liveSummary.runId);
      expect(liveDropped.length).toBe(15); // every mapping call, after its re-ask
      expect(liveDropped[0].reason).toContain("NOT-IN-ANY-CATALOGUE");
      const requests = server.requests.length;

      const cached = await runScript("run", ["--input", input, "--output", "cached.jsonl", "--data", fixtureData, "--strict", "--json"], { cwd: dir, baseURL: server.url });
      expect(cached.code).toBe(1);
      expect(server.requests.length).toBe(requests);
      const cachedSummary = JSON.parse(cached.stdout.trim().split("\n").at(-1)!);
      expect(cachedSummary.totals.liveCalls).toBe(0);
      expect(cachedSummary.quarantined).toBe(liveSummary.quarantined);
      expect(quarantined(dir, cachedSummary.runId).map((q) => q.reason).sort()).toEqual(liveDropped.map((q) => q.reason).sort());
      // The evolutions are the same bytes either way (only what could be used, from the same answers).
      expect(readFileSync(join(dir, "cached.jsonl"), "utf8")).toBe(readFileSync(join(dir, "live.jsonl"), "utf8"));

      // Without --strict the same cached answers pass.
      const lenient = await runScript("run", ["--input", input, "--output", "lenient.jsonl", "--data", fixtureData], { cwd: dir, baseURL: server.url });
      expect(lenient.code).toBe(0);
      expect(readdirSync(join(dir, ".sa/quarantine")).length).toBe(3);
    } finally {
      cleanup();
      await server.stop();
    }
  });
});
