import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { startTestServer, type TestServer } from "../lib/test-server.ts";
import { createBatchApi } from "../lib/batch/api.ts";
import { fixtureData, fixtureServices, runScript, spawnScript, tempDir, testKey } from "./helpers.ts";

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
/** Acceptance 1's batch run, kept for `batch list` (acceptance 5). */
const firstBatch = tempDir();
beforeAll(() => {
  server = startTestServer({ batch: { completionMs: 400 } });
});
afterAll(async () => {
  firstBatch.cleanup();
  await server.stop();
});

const waitFor = async (what: string, ok: () => boolean, ms = 30_000) => {
  const until = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(20);
  }
};

describe("run --batch", () => {
  test("acceptance 1: four services in 3 batches, no chat call, the live run's output at half its cost", async () => {
    const live = tempDir();
    const batch = firstBatch;
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
    }
  }, 60_000);

  test("acceptance 5: batch list shows the last run's batches with their statuses", async () => {
    const listed = await runScript("batch", ["list", "--config", config(firstBatch.dir)], { cwd: firstBatch.dir, baseURL: server.url });
    console.log(`acceptance 5:\n${listed.stdout}`);
    expect(listed.code).toBe(0);
    const rows = listed.stdout.trim().split("\n").slice(1);
    expect(rows).toHaveLength(3);
    const ids = server.batch.batches.slice(-3).map((b) => b.id);
    for (const [i, row] of rows.entries()) expect(row).toMatch(new RegExp(`^${ids[i]}\\s+\\w+\\s+${i + 1}\\s+completed\\s`));
    const json = await runScript("batch", ["list", "--json", "--config", config(firstBatch.dir)], { cwd: firstBatch.dir, baseURL: server.url });
    expect(JSON.parse(json.stdout).batches.map((b: { batchId: string; status: string }) => [b.batchId, b.status])).toEqual(ids.map((id) => [id, "completed"]));
    const status = await runScript("batch", ["status", ids[0]!, "--config", config(firstBatch.dir)], { cwd: firstBatch.dir, baseURL: server.url });
    expect(status.stdout).toContain(`batch ${ids[0]}: completed, 4/4 done, 0 failed`);
  }, 30_000);

  test("usage shows what batch mode saved; preflight --batch estimates at the batch price", async () => {
    const usage = await runScript("usage", ["--json", "--config", config(firstBatch.dir)], { cwd: firstBatch.dir });
    const totals = JSON.parse(usage.stdout).totals;
    expect(totals.batchCalls).toBe(84);
    expect(totals.savedByBatchUsd).toBeCloseTo(totals.costUsd, 8);
    const text = await runScript("usage", ["--config", config(firstBatch.dir)], { cwd: firstBatch.dir });
    expect(text.stdout).toContain("saved by batch $");
    expect(text.stdout).toContain(totals.savedByBatchUsd.toFixed(4));
    const input = fourServices(firstBatch.dir);
    const live = await runScript("preflight", ["--config", config(firstBatch.dir), "--input", input, "--json"], { cwd: firstBatch.dir });
    const batch = await runScript("preflight", ["--config", config(firstBatch.dir), "--input", input, "--json", "--batch"], { cwd: firstBatch.dir });
    const [l, b] = [JSON.parse(live.stdout.trim().split("\n").at(-1)!).estimate, JSON.parse(batch.stdout.trim().split("\n").at(-1)!).estimate];
    expect(b.costUsd).toBeGreaterThan(0);
    expect(b.costUsd).toBeCloseTo(l.costUsd / 2, 8);
    expect(b.priceFactor).toBe(0.5);
  }, 30_000);

  test("map --batch: the mappings of an evolutions file in one wave, none through /chat/completions", async () => {
    const chatBefore = chatCalls(server);
    const created = server.batch.creations;
    const args = ["--config", config(firstBatch.dir), "--input", "out.jsonl", "--output", "mapped.jsonl", "--batch", "--cache-mode", "refresh"];
    const mapped = await runScript("map", args, { cwd: firstBatch.dir, baseURL: server.url });
    expect(mapped.code).toBe(0);
    expect(chatCalls(server) - chatBefore).toBe(0);
    expect(server.batch.batches.slice(created).map((b) => b.customIds.length)).toEqual([60]);
    const features = (path: string) => stable(join(firstBatch.dir, path)).map((l) => JSON.parse(l).plateaus.map((p: { features: unknown }) => p.features));
    expect(features("mapped.jsonl")).toEqual(features("out.jsonl"));
  }, 30_000);

  test("--batch-below: a wave of fewer calls goes live; an expired batch's unanswered requests go into the next wave", async () => {
    const expiring = startTestServer({ batch: { completionMs: 200, batchFate: (n) => (n === 1 ? "expired" : undefined) } });
    const { dir, cleanup } = tempDir();
    try {
      const result = await runScript("run", ["--config", config(dir), "--input", fourServices(dir), "--output", "out.jsonl", "--batch", "--batch-below", "5", "--json"], { cwd: dir, baseURL: expiring.url });
      expect(result.code).toBe(0);
      // Wave 1 (4 descriptions) went live; wave 2 (20 features) expired half-way; its other half
      // went with the 30 mappings ready in wave 3, the rest of the mappings in wave 4.
      expect(expiring.requests.length).toBe(4);
      expect(expiring.batch.batches.map((b) => [b.customIds.length, b.result?.status])).toEqual([[20, "expired"], [40, "completed"], [30, "completed"]]);
      const run = lastRun(dir).totals;
      expect(run.liveCalls).toBe(84);
      expect(run.batchCalls).toBe(80);
      expect(stable(join(dir, "out.jsonl"))).toHaveLength(4);
    } finally {
      cleanup();
      await expiring.stop();
    }
  }, 60_000);

  test("a wave past maxRequestsPerBatch is split; a batch that failed validation is sent again in the next wave", async () => {
    const failing = startTestServer({ batch: { completionMs: 200, batchFate: (n) => (n === 1 ? "failed" : undefined) } });
    const { dir, cleanup } = tempDir();
    try {
      const result = await runScript("run", ["--config", config(dir, { batch: { pollInterval: "0.05s", quietMs: 100, maxRequestsPerBatch: 25 } }), "--input", fourServices(dir), "--output", "out.jsonl", "--batch"], { cwd: dir, baseURL: failing.url });
      expect(result.code).toBe(0);
      expect(result.stderr).toContain("batch failed (injected validation failure)");
      expect(failing.batch.batches.map((b) => [b.customIds.length, b.result?.status])).toEqual([[4, "failed"], [4, "completed"], [20, "completed"], [25, "completed"], [25, "completed"], [10, "completed"]]);
      expect(stable(join(dir, "out.jsonl"))).toHaveLength(4);
    } finally {
      cleanup();
      await failing.stop();
    }
  }, 60_000);

  test("batch status and batch cancel ask the API about one batch", async () => {
    const slow = startTestServer({ batch: { completionMs: 20_000 } });
    const { dir, cleanup } = tempDir();
    try {
      const api = createBatchApi({ env: { OPENAI_API_KEY: testKey, OPENAI_BASE_URL: slow.url }, retry: { attempts: 1, baseMs: 10, capMs: 10 }, requestTimeout: 5000 });
      const line = JSON.stringify({ custom_id: "one", method: "POST", url: "/v1/chat/completions", body: { model: "gpt-4o-mini", messages: [{ role: "user", content: "hi" }] } });
      const batch = await api.create(await api.upload(`${line}\n`, "one.jsonl"), "24h", {});
      await Bun.sleep(2_100); // past validating (the first 10% of its time)
      const status = await runScript("batch", ["status", batch.id, "--config", config(dir)], { cwd: dir, baseURL: slow.url });
      expect(status.stdout).toContain(`batch ${batch.id}: in_progress, 0/1 done, 0 failed`);
      const cancel = await runScript("batch", ["cancel", batch.id, "--config", config(dir)], { cwd: dir, baseURL: slow.url });
      expect(cancel.code).toBe(0);
      expect(cancel.stdout).toMatch(new RegExp(`^batch ${batch.id}: cancell(ing|ed)`));
      expect((await api.retrieve(batch.id)).status).toBe("cancelled");
      const missing = await runScript("batch", ["status", "batch_nope", "--config", config(dir)], { cwd: dir, baseURL: slow.url });
      expect(missing.code).not.toBe(0);
      expect(missing.stderr).toContain("batch batch_nope failed");
    } finally {
      cleanup();
      await slow.stop();
    }
  }, 30_000);

  test("--batch with a model that has no Batch API is refused before any call (exit 2)", async () => {
    const { dir, cleanup } = tempDir();
    try {
      const result = await runScript("run", ["--config", config(dir), "--model", "synthetic:demo", "--input", fourServices(dir), "--output", "out.jsonl", "--batch"], { cwd: dir, baseURL: server.url });
      expect(result.code).toBe(2);
      expect(result.stderr).toContain("batch mode: synthetic:demo has no Batch API");
    } finally {
      cleanup();
    }
  }, 30_000);

  test("acceptance 2: a run killed during the second wave re-attaches to its batch and finishes", async () => {
    const slow = startTestServer({ batch: { completionMs: 3000 } });
    const { dir, cleanup } = tempDir();
    try {
      const args = ["run", "--config", config(dir), "--input", fourServices(dir), "--output", "out.jsonl", "--batch"];
      const first = spawnScript("run", args.slice(1), { cwd: dir, baseURL: slow.url });
      await waitFor("the second wave's batch", () => slow.batch.creations >= 2);
      await Bun.sleep(300); // in progress, its id in the store
      first.kill("SIGKILL");
      await first.exited;
      expect(slow.batch.batches[1]!.result).toBeUndefined();
      const again = await runScript("run", args.slice(1), { cwd: dir, baseURL: slow.url });
      console.log(`acceptance 2: killed in wave 2; after the restart the server saw ${slow.batch.uploads} uploads and ${slow.batch.creations} batch creations, exit ${again.code}`);
      expect(again.stderr).toContain(`re-attaching to ${slow.batch.batches[1]!.id}`);
      expect(again.code).toBe(0);
      expect(slow.batch.uploads).toBe(3);
      expect(slow.batch.creations).toBe(3);
      expect(slow.requests.length).toBe(0);
      expect(stable(join(dir, "out.jsonl"))).toHaveLength(4);
    } finally {
      cleanup();
      await slow.stop();
    }
  }, 60_000);

  test("Ctrl-C while a wave is in flight exits 130 at once; the next run re-attaches to that batch", async () => {
    const slow = startTestServer({ batch: { completionMs: 4000 } });
    const { dir, cleanup } = tempDir();
    try {
      const args = ["--config", config(dir), "--input", fourServices(dir), "--output", "out.jsonl", "--batch"];
      const first = spawnScript("run", args, { cwd: dir, baseURL: slow.url });
      await waitFor("the second wave's batch", () => slow.batch.creations >= 2);
      await Bun.sleep(300);
      const stoppedAt = Date.now();
      first.kill("SIGINT");
      expect(await first.exited).toBe(130);
      expect(Date.now() - stoppedAt).toBeLessThan(3000);
      expect(slow.batch.batches[1]!.result).toBeUndefined();
      const again = await runScript("run", args, { cwd: dir, baseURL: slow.url });
      expect(again.code).toBe(0);
      expect(again.stderr).toContain(`re-attaching to ${slow.batch.batches[1]!.id}`);
      expect([slow.batch.uploads, slow.batch.creations]).toEqual([3, 3]);
    } finally {
      cleanup();
      await slow.stop();
    }
  }, 60_000);

  test("acceptance 3: failed requests go into the next wave; one that always fails fails its service (exit 1)", async () => {
    const flaky = startTestServer({
      batch: {
        completionMs: 200,
        requestError: (id, attempt) =>
          id.includes(":descriptions:CS01.03:") ? { status: 500, message: "injected: always fails" } : id.includes(":features:CS01.01:") && attempt === 1 ? { status: 500, message: "injected: fails once" } : undefined,
      },
    });
    const { dir, cleanup } = tempDir();
    try {
      const result = await runScript("run", ["--config", config(dir), "--input", fourServices(dir), "--output", "out.jsonl", "--batch", "--json"], { cwd: dir, baseURL: flaky.url });
      const summary = JSON.parse(result.stdout.trim().split("\n").at(-1)!);
      // The batch numbers each request was sent in.
      const sentIn = (part: string) => flaky.batch.batches.filter((b) => b.customIds.some((id) => id.includes(part))).map((b) => b.n);
      console.log(`acceptance 3: exit ${result.code}, services ${JSON.stringify(summary.services)}, failures ${JSON.stringify(summary.failures)}, ${flaky.batch.creations} batches`);
      expect(result.code).toBe(1);
      expect(summary.services).toMatchObject({ total: 4, ok: 3, failed: 1 });
      expect(summary.failures).toEqual([expect.objectContaining({ serviceId: "CS01.03" })]);
      expect(summary.failures[0].reason).toContain("injected: always fails after 3 wave(s)");
      expect(result.stderr).toContain("injected: fails once");
      expect(stable(join(dir, "out.jsonl")).map((l) => JSON.parse(l).service.service_id)).toEqual(["CS01", "CS01.01", "CS01.02"]);
      expect(flaky.requests.length).toBe(0);
      expect(sentIn(":descriptions:CS01.03:")).toEqual([1, 2, 3]);
      expect(sentIn(":features:CS01.01:")).toEqual([2, 3]);
      expect(sentIn(":mapping:CS01.01:")).toEqual([4]);
      expect(sentIn(":mapping:CS01:")).toEqual([3]);
    } finally {
      cleanup();
      await flaky.stop();
    }
  }, 60_000);

  test("acceptance 4: a hard budget the third wave would cross stops before submitting it (exit 3)", async () => {
    const probe = tempDir();
    const { dir, cleanup } = tempDir();
    try {
      const small = { estimate: { descriptions: 50, features: 50, mapping: 50 } };
      const first = await runScript("run", ["--config", config(probe.dir, small), "--input", fourServices(probe.dir), "--output", "out.jsonl", "--batch"], { cwd: probe.dir, baseURL: server.url });
      expect(first.code).toBe(0);
      const stages = lastRun(probe.dir).byStage;
      const budget = stages.descriptions.costUsd + stages.features.costUsd + stages.mapping.costUsd / 2;
      const created = server.batch.creations;
      const result = await runScript("run", ["--config", config(dir, small), "--input", fourServices(dir), "--output", "out.jsonl", "--batch", "--budget", budget.toFixed(6)], { cwd: dir, baseURL: server.url });
      console.log(`acceptance 4: budget $${budget.toFixed(6)} (waves 1+2 cost $${(stages.descriptions.costUsd + stages.features.costUsd).toFixed(6)}, wave 3 $${stages.mapping.costUsd.toFixed(6)}); exit ${result.code}, ${server.batch.creations - created} batches created`);
      expect(result.code).toBe(3);
      expect(server.batch.creations - created).toBe(2);
      expect(result.stderr).toContain(`budget $${budget.toFixed(6)} would be crossed`);
      const run = lastRun(dir);
      expect(run.status).toBe("limit");
      expect(run.totals.costUsd).toBeLessThanOrEqual(budget);
    } finally {
      probe.cleanup();
      cleanup();
    }
  }, 60_000);
});
