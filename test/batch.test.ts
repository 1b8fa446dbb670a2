import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { startTestServer, type TestServer } from "../lib/test-server.ts";
import { fixtureData, fixtureServices, runScript, spawnScript, tempDir } from "./helpers.ts";

/** The first four fixture services: 4 × (1 + 5 + 15) = 84 calls in three waves. */
function fourServices(dir: string): string {
  const path = join(dir, "in.jsonl");
  writeFileSync(path, `${readFileSync(fixtureServices, "utf8").trim().split("\n").slice(0, 4).join("\n")}\n`);
  return path;
}

/** Output lines without what differs between any two runs (run id, creation time). */
const stable = (path: string) =>
  readFileSync(path, "utf8").trim().split("\n").map((line) => {
    const evolution = JSON.parse(line);
    delete evolution.meta.run_id;
    delete evolution.meta.created;
    return JSON.stringify(evolution);
  });

const lastRun = (dir: string) => JSON.parse(readFileSync(join(dir, ".sa/usage.json"), "utf8")).runs.at(-1);
const chatCalls = (server: TestServer) => server.requests.length;
const config = (dir: string, extra: Record<string, unknown> = {}) => {
  const path = join(dir, "sa.json");
  writeFileSync(path, JSON.stringify({ dataDir: fixtureData, batch: { pollInterval: "0.05s", quietMs: 100 }, retry: { attempts: 3, baseMs: 10, capMs: 100 }, ...extra }));
  return path;
};

let server: TestServer;
beforeAll(() => {
  server = startTestServer({ batch: { completionMs: 400 } });
});
afterAll(() => server.stop());

describe("run --batch", () => {
  test("acceptance 1: four services in 3 batches, no chat call, the live run's output at half its cost", async () => {
    const live = tempDir();
    const batch = tempDir();
    try {
      const liveRun = await runScript("run", ["--config", config(live.dir), "--input", fourServices(live.dir), "--output", "out.jsonl", "--json"], { cwd: live.dir, baseURL: server.url });
      expect(liveRun.code).toBe(0);
      const chatBefore = chatCalls(server);
      const created = server.batch.creations;
      const uploads = server.batch.uploads;
      const batchRun = await runScript("run", ["--config", config(batch.dir), "--input", fourServices(batch.dir), "--output", "out.jsonl", "--batch", "--json"], { cwd: batch.dir, baseURL: server.url });
      expect(batchRun.code).toBe(0);
      expect(chatCalls(server) - chatBefore).toBe(0);
      expect(server.batch.creations - created).toBe(3);
      expect(server.batch.uploads - uploads).toBe(3);
      expect(stable(join(batch.dir, "out.jsonl"))).toEqual(stable(join(live.dir, "out.jsonl")));
      const [l, b] = [lastRun(live.dir).totals, lastRun(batch.dir).totals];
      console.log(`acceptance 1: live ${l.liveCalls} calls $${l.costUsd}; batch ${b.liveCalls} calls (${b.batchCalls} batch) $${b.costUsd}, saved by batch $${b.savedByBatchUsd}; ${server.batch.creations - created} batches, ${chatCalls(server) - chatBefore} chat calls`);
      expect(b.batchCalls).toBe(84);
      expect(l.liveCalls).toBe(84);
      expect(b.costUsd).toBeGreaterThan(0);
      expect(b.costUsd).toBeCloseTo(l.costUsd / 2, 8);
      expect(b.savedByBatchUsd).toBeCloseTo(l.costUsd / 2, 8);
    } finally {
      live.cleanup();
      batch.cleanup();
    }
  }, 60_000);
});
