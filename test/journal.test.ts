import { describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { observedOutput } from "../lib/estimate.ts";
import { createJournal, readJournal } from "../lib/journal.ts";
import { readLedger } from "../lib/ledger.ts";
import { recoverLedger } from "../lib/ledger-recover.ts";
import { startTestServer } from "../lib/test-server.ts";
import { deadPid, fixtureData, makeServices, runScript, spawnScript, tempDir, writeJsonl } from "./helpers.ts";

const lastJson = (stdout: string) => JSON.parse(stdout.trim().split("\n").at(-1)!);
const journals = (dir: string) => (existsSync(join(dir, ".sa/journal")) ? readdirSync(join(dir, ".sa/journal")) : []);

/** Starts a run against a slow server and stops it with `stop` once `answered` calls were answered. */
async function stoppedRun(stop: (proc: ReturnType<typeof spawnScript>) => Promise<void>, answered = 30) {
  const concurrency = 4;
  const server = startTestServer({ latencyMs: 80 });
  const { dir, cleanup } = tempDir();
  const input = writeJsonl(join(dir, "in.jsonl"), makeServices(10));
  const proc = spawnScript("run", ["--input", input, "--output", "out.jsonl", "--data", fixtureData, "--concurrency", String(concurrency)], { cwd: dir, baseURL: server.url });
  while (server.answered < answered) await Bun.sleep(5);
  await stop(proc);
  const code = await proc.exited;
  await Bun.sleep(300); // answers still in flight at the kill reach the server's count, never the client
  return { server, dir, cleanup, code, concurrency, pid: proc.pid };
}

describe("the ledger survives a crash", () => {
  test("kill -9 mid-run: the next read marks the run crashed, with the totals of the calls the server answered", async () => {
    const { server, dir, cleanup, code, concurrency, pid } = await stoppedRun(async (proc) => proc.kill("SIGKILL"));
    try {
      expect(code).not.toBe(0);
      const answered = server.answered;
      const before = readLedger(join(dir, ".sa/usage.json")).runs[0]!;
      expect(before.status).toBe("running"); // what the ledger file says until it is next read
      const usage = await runScript("usage", ["--json"], { cwd: dir });
      expect(usage.code).toBe(0);
      const report = JSON.parse(usage.stdout);
      console.log(`kill -9: server answered ${answered}; ledger liveCalls ${report.totals.liveCalls}, requests ${report.totals.requests}`);
      expect(report.runs[0]).toMatchObject({ status: "crashed", stopReason: expect.stringContaining(`process ${pid}`) });
      expect(report.totals.liveCalls).toBeLessThanOrEqual(answered);
      expect(report.totals.liveCalls).toBeGreaterThanOrEqual(answered - concurrency);
      expect(report.totals.inputTokens).toBeGreaterThan(0);
      // Folded for good: the ledger file holds it, the journal is gone, a second read agrees.
      const after = readLedger(join(dir, ".sa/usage.json")).runs[0]!;
      expect(after.status).toBe("crashed");
      expect(after.totals.liveCalls).toBe(report.totals.liveCalls);
      expect(Object.values(after.byStage).reduce((n, t) => n + t.liveCalls, 0)).toBe(after.totals.liveCalls);
      expect(journals(dir)).toEqual([]);
      expect(JSON.parse((await runScript("usage", ["--json"], { cwd: dir })).stdout).totals.liveCalls).toBe(report.totals.liveCalls);
    } finally {
      cleanup();
      await server.stop();
    }
  });

  test("two quick Ctrl-Cs: the second exits at once, and the ledger still gets the run's totals, as interrupted", async () => {
    const { server, dir, cleanup, code, concurrency } = await stoppedRun(async (proc) => {
      proc.kill("SIGINT");
      await Bun.sleep(30);
      proc.kill("SIGINT");
    });
    try {
      expect(code).toBe(130);
      const answered = server.answered;
      const report = JSON.parse((await runScript("usage", ["--json"], { cwd: dir })).stdout);
      expect(report.runs[0].status).toBe("interrupted");
      expect(report.totals.liveCalls).toBeLessThanOrEqual(answered);
      expect(report.totals.liveCalls).toBeGreaterThanOrEqual(answered - concurrency);
      expect(journals(dir)).toEqual([]);
      expect(existsSync(join(dir, "out.jsonl.lock"))).toBe(false);
    } finally {
      cleanup();
      await server.stop();
    }
  });

  test("a run that ended normally leaves no journal; a run left running by a dead pid with no journal is marked crashed", async () => {
    const server = startTestServer();
    const { dir, cleanup } = tempDir();
    try {
      const input = writeJsonl(join(dir, "in.jsonl"), makeServices(1));
      expect((await runScript("run", ["--input", input, "--output", "out.jsonl", "--data", fixtureData, "--quiet"], { cwd: dir, baseURL: server.url })).code).toBe(0);
      expect(journals(dir)).toEqual([]);
      const ledger = readLedger(join(dir, ".sa/usage.json"));
      const gone = await deadPid();
      const ghost = { ...ledger.runs[0]!, runId: "ghost", status: "running", finishedAt: null, pid: gone, host: hostname() };
      const elsewhere = { ...ghost, runId: "elsewhere", host: "another-machine" };
      writeFileSync(join(dir, ".sa/usage.json"), JSON.stringify({ ...ledger, runs: [...ledger.runs, ghost, elsewhere] }));
      const report = JSON.parse((await runScript("usage", ["--json", "--all"], { cwd: dir })).stdout);
      expect(report.runs.map((r: { status: string }) => r.status)).toEqual(["ok", "crashed", "running"]);
    } finally {
      cleanup();
      await server.stop();
    }
  });
});

describe("calls that failed before any answer", () => {
  test("no API key: recorded as skipped calls with no request (nothing was sent), and preflight still estimates output tokens from the config", async () => {
    const { dir, cleanup } = tempDir();
    try {
      const input = writeJsonl(join(dir, "in.jsonl"), makeServices(2));
      const result = await runScript("run", ["--input", input, "--output", "out.jsonl", "--data", fixtureData], { cwd: dir, env: { OPENAI_API_KEY: undefined } });
      expect(result.code).toBe(2);
      expect(result.stderr).toContain("OPENAI_API_KEY is not set");
      expect(existsSync(join(dir, "out.jsonl.lock"))).toBe(false); // released on the error path too
      const run = readLedger(join(dir, ".sa/usage.json")).runs.at(-1)!;
      expect(run.status).toBe("failed");
      expect(run.totals.skippedCalls).toBeGreaterThan(0);
      expect(run.totals).toMatchObject({ requests: 0, failedCalls: 0, liveCalls: 0 });
      expect(run.byStage.descriptions).toMatchObject({ liveCalls: 0, outputTokens: 0 });
      const preflight = await runScript("preflight", ["--input", input, "--data", fixtureData, "--json"], { cwd: dir, env: { OPENAI_API_KEY: undefined } });
      const { estimate } = lastJson(preflight.stdout);
      expect(estimate.byStage.descriptions).toMatchObject({ outputPerCall: 900, outputSource: "config" });
      expect(estimate.outputTokens).toBeGreaterThan(0);
    } finally {
      cleanup();
    }
  });

  test("connection refused: failed calls, no live calls, and the next estimate is not 0", async () => {
    const closed = startTestServer();
    const baseURL = closed.url;
    await closed.stop(); // nothing listens on this port now
    const { dir, cleanup } = tempDir();
    try {
      const input = writeJsonl(join(dir, "in.jsonl"), makeServices(2));
      const result = await runScript("run", ["--input", input, "--output", "out.jsonl", "--data", fixtureData, "--json"], { cwd: dir, baseURL, env: { SA_RETRY: '{"attempts":2,"baseMs":1,"capMs":5}' } });
      expect(result.code).toBe(1);
      const summary = lastJson(result.stdout);
      expect(summary.totals).toMatchObject({ liveCalls: 0, failedCalls: 2, outputTokens: 0, retries: 2 });
      const preflight = lastJson((await runScript("preflight", ["--input", input, "--data", fixtureData, "--json"], { cwd: dir, baseURL })).stdout);
      expect(preflight.estimate.byStage.descriptions.outputTokens).toBe(2 * 900);
    } finally {
      cleanup();
    }
  });

  test("estimates ignore stages whose calls never answered, as older ledgers recorded them", () => {
    const zero = { requests: 3, liveCalls: 3, cachedCalls: 0, inputTokens: 0, cachedInputTokens: 0, outputTokens: 0, reasoningTokens: 0, retries: 0, costUsd: 0, savedCostUsd: 0, unpricedCalls: 0, failedCalls: 0, skippedCalls: 0, batchCalls: 0, savedByBatchUsd: 0 };
    const real = { ...zero, outputTokens: 3000 };
    const ledger = { version: 1 as const, priceDataVersion: "x", runs: [{ runId: "r", task: "run", startedAt: "", finishedAt: null, status: "failed" as const, stopReason: null, totals: zero, byStage: { descriptions: zero, features: real }, byModel: {} }] };
    expect(observedOutput(ledger)).toEqual({ features: 1000 });
  });
});


describe("bringing the ledger up to date", () => {
  test("a run's own journal is left unread; another live run's journal is folded in", async () => {
    const { dir, cleanup } = tempDir();
    try {
      const ledgerPath = join(dir, ".sa/usage.json");
      const line = (runId: string, serviceId: string) => [
        JSON.stringify({ type: "run", runId, task: "run", startedAt: new Date(0).toISOString(), pid: process.pid, host: hostname() }),
        JSON.stringify({ type: "call", task: "run", stage: "mapping", serviceId, provider: "openai", model: "openai:m", answeredBy: "m", cache: "hit", inputTokens: 0, cachedInputTokens: 0, outputTokens: 0, reasoningTokens: 0, latencyMs: 0, retries: 0, costUsd: 0, savedCostUsd: 0.5 }),
      ].join("\n") + "\n";
      mkdirSync(join(dir, ".sa/journal"), { recursive: true });
      writeFileSync(join(dir, ".sa/journal/self.jsonl"), line("self", "A"));
      writeFileSync(join(dir, ".sa/journal/other.jsonl"), line("other", "B"));
      await recoverLedger(ledgerPath, undefined, "self");
      const runs = readLedger(ledgerPath).runs;
      expect(runs.map((r) => [r.runId, r.status, r.totals.cachedCalls])).toEqual([["other", "running", 1]]);
      // Both runs still live: both journals stay.
      expect(readdirSync(join(dir, ".sa/journal")).sort()).toEqual(["other.jsonl", "self.jsonl"]);
    } finally {
      cleanup();
    }
  });
});

describe("a journal with a line that cannot be read", () => {
  test("its other calls are folded in, and one warning names the journal, the first bad line and how many calls are missing from the ledger", async () => {
    const { dir, cleanup } = tempDir();
    try {
      const ledgerPath = join(dir, ".sa/usage.json");
      const call = (serviceId: string) => JSON.stringify({ type: "call", task: "run", stage: "mapping", serviceId, provider: "openai", model: "openai:m", answeredBy: "m", cache: "live", inputTokens: 10, cachedInputTokens: 0, outputTokens: 1, reasoningTokens: 0, latencyMs: 1, retries: 0, costUsd: 0.001, savedCostUsd: null });
      const lines = [
        JSON.stringify({ type: "run", runId: "r1", task: "run", startedAt: new Date(0).toISOString(), pid: deadPid(), host: hostname() }),
        call("A"),
        '{"type":"call","task":"run","stage":"mapp', // a disk error cut this one short
        call("B"),
        JSON.stringify({ type: "call", task: "run" }), // not a call record
        call("C"),
        JSON.stringify({ type: "end", status: "ok", reason: null, at: new Date(1).toISOString() }),
      ];
      mkdirSync(join(dir, ".sa/journal"), { recursive: true });
      const journal = join(dir, ".sa/journal/r1.jsonl");
      writeFileSync(journal, `${lines.join("\n")}\n`);
      const warnings: string[] = [];
      const log = { warn: (message: string) => warnings.push(message) } as unknown as Parameters<typeof recoverLedger>[1];
      await recoverLedger(ledgerPath, log);
      expect(readLedger(ledgerPath).runs.map((r) => [r.runId, r.status, r.totals.liveCalls])).toEqual([["r1", "ok", 3]]);
      expect(warnings).toEqual([`ledger: journal ${journal}:3: not JSON; 2 line(s) could not be read (lines 3, 5), so the ledger may miss the calls they held`]);
    } finally {
      cleanup();
    }
  });
});

describe("journal lines", () => {
  const call = (cache: "hit" | "live", serviceId: string) => ({
    task: "run", stage: "mapping", serviceId, provider: "openai", model: "openai:m", answeredBy: "m", cache,
    inputTokens: cache === "live" ? 100 : 0, cachedInputTokens: 0, outputTokens: cache === "live" ? 10 : 0, reasoningTokens: 0,
    latencyMs: 1, retries: 0, costUsd: cache === "live" ? 0.001 : 0, savedCostUsd: cache === "hit" ? 0.001 : null,
  });

  test("hits are written in batches; a live call first writes the hits before it, in order", async () => {
    const { dir, cleanup } = tempDir();
    try {
      const path = join(dir, "journal", "r1.jsonl");
      const journal = createJournal(path, { runId: "r1", task: "run", startedAt: new Date(0).toISOString() });
      journal.append(call("hit", "A"));
      journal.append(call("hit", "B"));
      expect(existsSync(path)).toBe(false); // nothing yet: two hits wait
      journal.append(call("live", "C"));
      expect(readJournal(path).calls.map((c) => c.serviceId)).toEqual(["A", "B", "C"]);
      journal.append(call("hit", "D"));
      expect(readJournal(path).calls).toHaveLength(3);
      await Bun.sleep(300); // a waiting hit is written within 200 ms
      expect(readJournal(path).calls.map((c) => c.serviceId)).toEqual(["A", "B", "C", "D"]);
      journal.append(call("hit", "E"));
      journal.end("ok", null);
      const read = readJournal(path);
      expect(read.calls.map((c) => c.serviceId)).toEqual(["A", "B", "C", "D", "E"]);
      expect(read.end?.status).toBe("ok");
    } finally {
      cleanup();
    }
  });
});
