import { describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { readLedger } from "../lib/ledger.ts";
import { startTestServer } from "../lib/test-server.ts";
import { createConsola } from "consola";
import { Redis } from "ioredis";
import { runServices } from "../lib/pipeline/run.ts";
import { fixtureData, interruptWhilePaced, makeServices, runScript, spawnScript, tempDir, testRuntime, until, writeJsonl } from "./helpers.ts";
import { startRedis } from "./redis-server.ts";

describe("the ledger of an interrupted run", () => {
  test.each([
    ["calls started after Ctrl-C", 64],
    ["calls queued for the next model at Ctrl-C", 2],
  ])("%s never count as skipped: a skip says the next model was asked, and none is after a stop", async (_what, concurrency) => {
    // The primary fails at once and is down from its first failure on; the fallback answers slowly.
    const server = startTestServer({ latencyMs: 400, fault: (_n, body) => (body.model === "broken-model" ? { type: "500" } : undefined) });
    const { dir, cleanup } = tempDir();
    try {
      const config = { dataDir: fixtureData, model: "openai:broken-model", models: { fallback: ["openai:gpt-4o-mini"] }, retry: { attempts: 1, baseMs: 1, capMs: 2 }, circuitBreaker: { failures: 1, coolDownMs: 600_000 }, concurrency };
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
      // Every call that passed over the primary went to the fallback.
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

/**
 * A run whose cache Redis stops after 3 answers, makes 8 more (held in memory), then gets Ctrl-C
 * twice, 2.5 s apart, with Redis back between them (`restart`) or not; what the run said.
 */
async function heldAtSecondCtrlC(restart: boolean) {
  let redis = await startRedis();
  // Answers are quick until `slow`: then the calls on the wire wait, so the run is still stopping at the second Ctrl-C.
  let slow = false;
  let slowSent = 0;
  const server = startTestServer({ latencyMs: 50, fault: () => (slow ? (slowSent++, { type: "slow", ms: 20_000 }) : undefined) });
  const { dir, cleanup } = tempDir();
  writeFileSync(join(dir, "service-ambitions.config.json"), JSON.stringify({ dataDir: fixtureData, model: "openai:gpt-4o-mini", cache: { driver: "redis", url: redis.url, base: "sa" } }));
  const input = writeJsonl(join(dir, "in.jsonl"), makeServices(4, "H"));
  try {
    const proc = spawnScript("run", ["-i", input, "-o", "out.jsonl", "--concurrency", "2", "--json"], { cwd: dir, baseURL: server.url });
    await until(() => server.answered >= 3, "the first answers");
    await redis.stop();
    const before = server.answered;
    await until(() => server.answered >= before + 8, "answers made while the store is away");
    slow = true;
    // Both calls on the wire are slow ones: no answer, and so no cache read or write, comes before the second Ctrl-C.
    await until(() => slowSent >= 2, "two slow calls");
    const whileAway = server.answered - before;
    proc.kill("SIGINT");
    if (restart) redis = await startRedis(redis.port);
    // The client reconnects within its retry delay.
    await Bun.sleep(2500);
    const second = Date.now();
    proc.kill("SIGINT");
    const [code, stdout, stderr] = await Promise.all([proc.exited, new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
    const exitMs = Date.now() - second;
    // The restarted Redis kept nothing from before: what it holds was written after it came back.
    const client = restart ? new Redis(redis.url) : undefined;
    const written = client ? (await client.keys("sa:*")).length : 0;
    client?.disconnect();
    return { code, stdout, stderr, exitMs, written, whileAway };
  } finally {
    await redis.stop();
    await server.stop();
    cleanup();
  }
}

describe("a second Ctrl-C while cache entries are held (the cache store was away)", () => {
  test("the store is back: the held answers are written before exiting, so a rerun does not pay for them", async () => {
    const { code, stdout, written, whileAway } = await heldAtSecondCtrlC(true);
    expect(code).toBe(130);
    // At most the 2 answers written as Redis stopped were lost with it.
    expect(written).toBeGreaterThanOrEqual(whileAway - 2);
    expect(JSON.parse(stdout.trim().split("\n").at(-1)!)).toMatchObject({ status: "interrupted", exitCode: 130 });
  }, 60_000);

  test("the store is still away: exit within seconds, and one line says how many answers a rerun pays for again", async () => {
    const { code, stdout, stderr, exitMs } = await heldAtSecondCtrlC(false);
    expect(code).toBe(130);
    expect(exitMs).toBeLessThan(10_000);
    const lost = stderr.split("\n").filter((l) => l.includes("could not be written"));
    expect(lost).toHaveLength(1);
    expect(lost[0]).toMatch(/cache: \d+ entries made while the store .* was away could not be written; a rerun pays again/);
    expect(stderr).not.toContain("    at ");
    expect(JSON.parse(stdout.trim().split("\n").at(-1)!)).toMatchObject({ status: "interrupted", exitCode: 130 });
  }, 60_000);
});

describe("Ctrl-C while calls wait for their turn under --rpm", () => {
  test("exits 130 at once, not after the minute the queued calls would have waited; no call goes out after the signal", async () => {
    const server = startTestServer();
    const { dir, cleanup } = tempDir();
    try {
      const input = writeJsonl(join(dir, "in.jsonl"), makeServices(4));
      // 4 descriptions calls at 6 a minute: the last would go some 30 s after the first.
      const proc = spawnScript("run", ["--input", input, "--output", "out.jsonl", "--data", fixtureData, "--rpm", "6"], { cwd: dir, baseURL: server.url });
      await interruptWhilePaced(proc, server, dir);
    } finally {
      cleanup();
      await server.stop();
    }
  }, 90_000);
});

describe("Ctrl-C while a call's answer is on its way and turns out invalid", () => {
  test("the call is finished with its re-ask, so a rerun pays for no request the first run made", async () => {
    // The first answer of both descriptions calls fails validation; each is still on the wire at Ctrl-C.
    const server = startTestServer({ latencyMs: 400, answer: (_body, n) => (n <= 2 ? "{}" : undefined) });
    const { dir, cleanup } = tempDir();
    try {
      const input = writeJsonl(join(dir, "in.jsonl"), makeServices(2));
      const args = ["--input", input, "--output", "out.jsonl", "--data", fixtureData];
      const proc = spawnScript("run", args, { cwd: dir, baseURL: server.url });
      await until(() => server.requests.length >= 2, "both descriptions calls");
      proc.kill("SIGINT");
      expect(await proc.exited).toBe(130);
      const first = server.requests.length;
      const asked = new Set(server.requests.map((r) => JSON.stringify([r.body.model, r.body.messages])));
      const rerun = await runScript("run", args, { cwd: dir, baseURL: server.url });
      expect(rerun.code).toBe(0);
      const again = server.requests.slice(first).filter((r) => asked.has(JSON.stringify([r.body.model, r.body.messages])));
      expect(again).toHaveLength(0);
    } finally {
      cleanup();
      await server.stop();
    }
  }, 60_000);
});

describe("the grace period after a stop", () => {
  test("a call still hanging when the run stops is abandoned after the grace period, though the stop came while the run waited for its calls", async () => {
    // One descriptions call never answers (until the request timeout); the other's answer leads to
    // the third request, refused by --max-requests 2: the run stops while it waits for its calls.
    const server = startTestServer({ fault: (n) => (n === 2 ? { type: "hang" } : undefined) });
    const { dir, cleanup } = tempDir();
    const warnings: string[] = [];
    const log = createConsola({ reporters: [{ log: (entry) => void warnings.push(entry.args.join(" ")) }] });
    try {
      const rt = await testRuntime(dir, { baseURL: server.url, log, config: { requestTimeout: 15_000, concurrency: 2, limits: { maxRequests: 2 } } });
      const input = writeJsonl(join(dir, "in.jsonl"), makeServices(2));
      const summary = await runServices(rt, { input, output: join(dir, "out.jsonl"), graceMs: 300 });
      await rt.close();
      expect(summary.status).toBe("limit");
      expect(warnings).toContain("stopping: max-requests 2 reached; letting calls in flight finish (300 ms at most)");
      expect(warnings).toContain("calls still in flight after 300 ms; they are abandoned");
      // The abandoned request is in the ledger, as a failed call.
      expect(summary.totals.requests).toBe(server.requests.length);
    } finally {
      cleanup();
      await server.stop();
    }
  }, 60_000);
});

describe("progress lines while a run stops", () => {
  test("services finishing after Ctrl-C are shown without an ETA, for work the run will not do, but as stopping", async () => {
    const server = startTestServer({ latencyMs: 300 });
    const { dir, cleanup } = tempDir();
    try {
      const input = writeJsonl(join(dir, "in.jsonl"), makeServices(4));
      // Ctrl-C once every call is on the wire: each service then finishes after it, with a progress line.
      const proc = spawnScript("run", ["--input", input, "--output", "out.jsonl", "--data", fixtureData, "--concurrency", "64"], { cwd: dir, baseURL: server.url });
      await until(() => server.requests.length >= 4 + 20 + 60, "every mapping call");
      proc.kill("SIGINT");
      const [code, stderr] = await Promise.all([proc.exited, new Response(proc.stderr).text()]);
      expect(code).toBe(130);
      const afterStop = stderr.slice(stderr.indexOf("stopping:")).split("\n").filter((l) => l.includes("progress:"));
      expect(afterStop.length).toBeGreaterThan(0);
      for (const line of afterStop) expect(line).not.toContain("ETA");
      for (const line of afterStop) expect(line).toContain("stopping");
    } finally {
      cleanup();
      await server.stop();
    }
  }, 60_000);
});
