import { describe, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { readLedger } from "../lib/ledger.ts";
import { startTestServer, type TestServer } from "../lib/test-server.ts";
import { fixtureData, makeServices, runScript, spawnScript, tempDir, until, writeJsonl } from "./helpers.ts";

/** Four services: 4 × (1 + 5 + 15) = 84 calls in three waves. */
const input = (dir: string) => writeJsonl(join(dir, "in.jsonl"), makeServices(4));
const config = (dir: string) => {
  const path = join(dir, "sa.json");
  writeFileSync(path, JSON.stringify({ dataDir: fixtureData, batch: { pollInterval: "0.05s", quietMs: 100 }, retry: { attempts: 3, baseMs: 10, capMs: 100 } }));
  return path;
};
const ids = (path: string) => readFileSync(path, "utf8").trim().split("\n").map((l) => JSON.parse(l).service.service_id as string);
/** Batch answers over every run in `dir`: 84 when none was paid twice. */
const batchCalls = (dir: string) => readLedger(join(dir, ".sa/usage.json")).runs.reduce((sum, r) => sum + r.totals.batchCalls, 0);
/** Requests and failed calls over every run in `dir`: a line left waiting in a batch at a stop is neither (the rerun counts it once). */
const requestsAndFailures = (dir: string) =>
  readLedger(join(dir, ".sa/usage.json")).runs.reduce((sum, r) => ({ requests: sum.requests + r.totals.requests, failed: sum.failed + r.totals.failedCalls }), { requests: 0, failed: 0 });
/** Stops a run in its second wave with `signal`, that wave's batch still in flight at the provider. */
async function stopInWave2(server: TestServer, args: string[], dir: string, signal: "SIGINT" | "SIGTERM") {
  const first = spawnScript("run", args, { cwd: dir, baseURL: server.url });
  await until(() => server.batch.creations >= 2, "the second wave's batch");
  await Bun.sleep(300);
  first.kill(signal);
  expect(await first.exited).toBe(signal === "SIGINT" ? 130 : 143);
  expect(server.batch.batches[1]!.result).toBeUndefined();
}

describe("run --batch stopped and resumed", () => {
  test("SIGTERM in wave 2, and the batch expires at the provider before the rerun: the rerun reads its answers, sends only the rest, pays nothing twice", async () => {
    const server = startTestServer({ batch: { completionMs: 1500, batchFate: (n) => (n === 2 ? "expired" : undefined) } });
    const { dir, cleanup } = tempDir("sa-batch-term-");
    try {
      const args = ["--config", config(dir), "--input", input(dir), "--output", "out.jsonl", "--batch"];
      await stopInWave2(server, args, dir, "SIGTERM");
      await until(() => Date.now() - server.batch.batches[1]!.createdAt > 1600, "the batch's window to pass");
      const again = await runScript("run", args, { cwd: dir, baseURL: server.url });
      expect(again.code).toBe(0);
      expect(again.stderr).toContain(`re-attaching to ${server.batch.batches[1]!.id}`);
      expect(ids(join(dir, "out.jsonl"))).toEqual(["SVC001", "SVC002", "SVC003", "SVC004"]);
      // Wave 2's expired half went again with the next wave; nothing went twice to chat.
      expect(server.batch.batches[1]!.result!.status).toBe("expired");
      expect(server.requests).toHaveLength(0);
      expect(batchCalls(dir)).toBe(84);
      expect(requestsAndFailures(dir)).toEqual({ requests: 84, failed: 0 });
    } finally {
      cleanup();
      await server.stop();
    }
  }, 60_000);

  test("Ctrl-C in wave 2, the user cancels that batch (batch cancel), the rerun sends its unanswered half again and finishes", async () => {
    const server = startTestServer({ batch: { completionMs: 2500 } });
    const { dir, cleanup } = tempDir("sa-batch-cancel-");
    try {
      const args = ["--config", config(dir), "--input", input(dir), "--output", "out.jsonl", "--batch"];
      await stopInWave2(server, args, dir, "SIGINT");
      const id = server.batch.batches[1]!.id;
      expect((await runScript("batch", ["cancel", id, "--config", config(dir)], { cwd: dir, baseURL: server.url })).code).toBe(0);
      const again = await runScript("run", [...args, "--json"], { cwd: dir, baseURL: server.url });
      expect(again.code).toBe(0);
      expect(ids(join(dir, "out.jsonl"))).toEqual(["SVC001", "SVC002", "SVC003", "SVC004"]);
      expect(server.batch.batches[1]!.result!.status).toBe("cancelled");
      expect(server.requests).toHaveLength(0);
      expect(batchCalls(dir)).toBe(84);
      expect(requestsAndFailures(dir)).toEqual({ requests: 84, failed: 0 });
    } finally {
      cleanup();
      await server.stop();
    }
  }, 60_000);

  test("--max-requests stops --batch before a wave that would cross it (exit 3); a rerun without it finishes, paying nothing twice", async () => {
    const server = startTestServer({ batch: { completionMs: 200 } });
    const { dir, cleanup } = tempDir("sa-batch-limit-");
    try {
      const args = ["--config", config(dir), "--input", input(dir), "--output", "out.jsonl", "--batch"];
      const stopped = await runScript("run", [...args, "--max-requests", "30"], { cwd: dir, baseURL: server.url });
      expect(stopped.code).toBe(3);
      // Waves 1 and 2 (4 + 20 calls) fit in 30; wave 3 (60) does not, and is not submitted.
      expect(server.batch.creations).toBe(2);
      expect(batchCalls(dir)).toBe(24);
      const again = await runScript("run", args, { cwd: dir, baseURL: server.url });
      expect(again.code).toBe(0);
      expect(ids(join(dir, "out.jsonl"))).toEqual(["SVC001", "SVC002", "SVC003", "SVC004"]);
      expect(server.batch.creations).toBe(3);
      expect(batchCalls(dir)).toBe(84);
      expect(requestsAndFailures(dir)).toEqual({ requests: 84, failed: 0 });
    } finally {
      cleanup();
      await server.stop();
    }
  }, 60_000);

  test("map --batch: Ctrl-C with its wave in flight, the rerun re-attaches to it (one upload, one batch)", async () => {
    const server = startTestServer({ batch: { completionMs: 3000 } });
    const { dir, cleanup } = tempDir("sa-batch-map-");
    try {
      const made = await runScript("run", ["--model", "synthetic:demo", "--input", input(dir), "--output", "evolutions.jsonl", "--data", fixtureData, "--quiet", "--cache-mode", "off"], { cwd: dir });
      expect(made.code).toBe(0);
      const args = ["--config", config(dir), "--input", "evolutions.jsonl", "--output", "map.jsonl", "--model", "openai:gpt-4o-mini", "--batch"];
      const first = spawnScript("map", args, { cwd: dir, baseURL: server.url });
      await until(() => server.batch.creations >= 1, "the map's batch");
      await Bun.sleep(300);
      first.kill("SIGINT");
      expect(await first.exited).toBe(130);
      const again = await runScript("map", args, { cwd: dir, baseURL: server.url });
      expect(again.code).toBe(0);
      expect(again.stderr).toContain(`re-attaching to ${server.batch.batches[0]!.id}`);
      expect([server.batch.uploads, server.batch.creations]).toEqual([1, 1]);
      expect(ids(join(dir, "map.jsonl"))).toEqual(["SVC001", "SVC002", "SVC003", "SVC004"]);
      expect(server.requests).toHaveLength(0);
      expect(batchCalls(dir)).toBe(60);
    } finally {
      cleanup();
      await server.stop();
    }
  }, 60_000);
});
