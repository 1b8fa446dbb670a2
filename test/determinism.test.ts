import { describe, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { startTestServer } from "../lib/test-server.ts";
import { fixtureData, makeServices, runScript, tempDir, writeJsonl } from "./helpers.ts";

/** What two runs of the same answers may differ in: which run asked (meta.run_id) and when (meta.created). */
const withoutRun = (text: string) => text.replace(/"created":"[^"]*"/g, "").replace(/"run_id":"[^"]*"/g, "");

describe("the same answers give the same bytes", () => {
  test("whatever the concurrency, the order answers come back in (random latency), and 429s and 500s retried on the way", async () => {
    const calm = startTestServer();
    const stormy = startTestServer({ jitterMs: 40, faultEvery: 4 });
    const { dir, cleanup } = tempDir();
    try {
      writeJsonl(join(dir, "in.jsonl"), makeServices(4));
      // Four in ten requests fail (every 4th a 500, every 5th a 429): with 12 attempts, a call that
      // fails them all comes about once in 700 runs of these 84 calls (with 8, once in 15 to 20).
      writeFileSync(join(dir, "service-ambitions.config.json"), JSON.stringify({ retry: { attempts: 12, baseMs: 5, capMs: 50 } }));
      const run = (output: string, url: string, concurrency: string) =>
        runScript("run", ["--input", "in.jsonl", "--output", output, "--data", fixtureData, "--cache-mode", "off", "--concurrency", concurrency, "--json"], { cwd: dir, baseURL: url });
      const one = await run("one.jsonl", calm.url, "1");
      const many = await run("many.jsonl", stormy.url, "32");
      expect([one.code, many.code]).toEqual([0, 0]);
      expect(JSON.parse(many.stdout.trim().split("\n").at(-1)!).totals.retries).toBeGreaterThan(0);
      const [a, b] = ["one.jsonl", "many.jsonl"].map((f) => readFileSync(join(dir, f), "utf8"));
      expect(a!.split("\n").filter(Boolean).map((l) => JSON.parse(l).service.service_id)).toEqual(["SVC001", "SVC002", "SVC003", "SVC004"]);
      expect(withoutRun(b!)).toBe(withoutRun(a!));
    } finally {
      cleanup();
      await calm.stop();
      await stormy.stop();
    }
  });

  test("--output - writes each line as its service completes; a file output ends in input order, byte for byte the same lines", async () => {
    // SVC001's first call is answered 800 ms late: SVC002 completes first. (A slow answer, not a
    // 429: a 429's retry-after pauses the whole endpoint, and the two services then race.)
    let held = false;
    const server = startTestServer({
      fault: (_n, body) => {
        if (held || !body.messages.some((m) => m.content.includes("Service 1\n") || m.content.includes("SVC001"))) return undefined;
        held = true;
        return { type: "slow", ms: 800 };
      },
    });
    const { dir, cleanup } = tempDir();
    try {
      writeJsonl(join(dir, "in.jsonl"), makeServices(2));
      const streamed = await runScript("run", ["--input", "in.jsonl", "--output", "-", "--data", fixtureData], { cwd: dir, baseURL: server.url });
      expect(streamed.code).toBe(0);
      const lines = streamed.stdout.trim().split("\n");
      expect(lines.map((l) => JSON.parse(l).service.service_id)).toEqual(["SVC002", "SVC001"]);
      const file = await runScript("run", ["--input", "in.jsonl", "--output", "out.jsonl", "--data", fixtureData], { cwd: dir, baseURL: server.url });
      expect(file.code).toBe(0);
      expect(readFileSync(join(dir, "out.jsonl"), "utf8")).toBe(`${lines[1]}\n${lines[0]}\n`);
    } finally {
      cleanup();
      await server.stop();
    }
  });
});
