import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Redis } from "ioredis";
import { createJournalReader } from "../lib/queue/journal.ts";
import { startTestServer, type TestServer } from "../lib/test-server.ts";
import { fixtureData, makeServices, runScript, spawnScript, tempDir, writeJsonl } from "./helpers.ts";
import { startRedis, type RedisServer } from "./redis-server.ts";

let redis: RedisServer;
let server: TestServer;
beforeAll(async () => {
  redis = await startRedis();
  server = startTestServer({ latencyMs: 20, jitterMs: 20 });
});
afterAll(async () => {
  await redis.stop();
  await server.stop();
});

/** A project folder whose cache and queue are in the test's Redis. */
function project(name: string) {
  const { dir, cleanup } = tempDir("sa-queue-ledger-");
  const config = { dataDir: fixtureData, model: "openai:gpt-4o-mini", cache: { driver: "redis", url: `${redis.url}/1`, base: `cache-${name}` }, queue: { name, attempts: 2, lockDuration: 2000 } };
  writeFileSync(join(dir, "service-ambitions.config.json"), JSON.stringify(config));
  return { dir, cleanup };
}

const startWorker = (dir: string) => spawnScript("worker", ["--queue", redis.url, "--concurrency", "4", "--grace", "5"], { cwd: dir, baseURL: server.url });
const runs = (dir: string) => JSON.parse(readFileSync(join(dir, ".sa/usage.json"), "utf8")).runs as Array<{ totals: { liveCalls: number } }>;

describe("run --queue: the ledger over coordinators and workers", () => {
  test("two coordinators on one queue at once each count their own run's calls: their live calls add up to the server's answers", async () => {
    const { dir, cleanup } = project("two");
    writeJsonl(join(dir, "a.jsonl"), makeServices(3, "A"));
    writeJsonl(join(dir, "b.jsonl"), makeServices(3, "B"));
    const workers = [startWorker(dir), startWorker(dir)];
    const answered = server.answered;
    try {
      const [a, b] = await Promise.all([
        runScript("run", ["--queue", redis.url, "-i", "a.jsonl", "-o", "a.out.jsonl"], { cwd: dir, baseURL: server.url }),
        runScript("run", ["--queue", redis.url, "-i", "b.jsonl", "-o", "b.out.jsonl"], { cwd: dir, baseURL: server.url }),
      ]);
      expect([a.code, b.code]).toEqual([0, 0]);
      const live = runs(dir).map((run) => run.totals.liveCalls);
      expect(live).toEqual([63, 63]);
      expect(live[0]! + live[1]!).toBe(server.answered - answered);
    } finally {
      for (const w of workers) w.kill("SIGTERM");
      await Promise.all(workers.map((w) => w.exited));
      cleanup();
    }
  }, 120_000);

  test("a coordinator waiting on more than ten jobs prints no MaxListenersExceededWarning", async () => {
    const { dir, cleanup } = project("many");
    writeJsonl(join(dir, "in.jsonl"), makeServices(12, "M"));
    const worker = startWorker(dir);
    try {
      const result = await runScript("run", ["--queue", redis.url, "-i", "in.jsonl", "-o", "out.jsonl"], { cwd: dir, baseURL: server.url });
      expect(result.code).toBe(0);
      expect(result.stderr).not.toContain("MaxListenersExceededWarning");
    } finally {
      worker.kill("SIGTERM");
      await worker.exited;
      cleanup();
    }
  }, 120_000);
});

describe("worker --json", () => {
  test("the worker prints one summary object when it stops: its jobs completed and failed, and the totals of its calls", async () => {
    const { dir, cleanup } = project("json");
    writeJsonl(join(dir, "in.jsonl"), makeServices(2, "W"));
    const worker = spawnScript("worker", ["--queue", redis.url, "--concurrency", "4", "--json"], { cwd: dir, baseURL: server.url });
    try {
      const run = await runScript("run", ["--queue", redis.url, "-i", "in.jsonl", "-o", "out.jsonl", "--json"], { cwd: dir, baseURL: server.url });
      expect(run.code).toBe(0);
      worker.kill("SIGTERM");
      const [code, stdout] = await Promise.all([worker.exited, new Response(worker.stdout).text()]);
      expect(code).toBe(0);
      const lines = stdout.trim().split("\n");
      expect(lines).toHaveLength(1);
      const summary = JSON.parse(lines[0]!);
      expect(summary).toMatchObject({ status: "stopped", exitCode: 0, queue: "json", signal: "SIGTERM", jobs: { completed: 2, failed: 0 } });
      expect(summary.totals.liveCalls).toBe(JSON.parse(run.stdout.trim().split("\n").at(-1)!).totals.liveCalls);
    } finally {
      if (worker.exitCode === null) worker.kill("SIGKILL");
      cleanup();
    }
  }, 60_000);
});

describe("run --queue: the rate limits over workers", () => {
  test("workers given --rpm (no rateLimit store of their own) share one bucket in the queue's Redis: three stay within it together", async () => {
    const limited = startTestServer({ latencyMs: 20, rpm: 330, windowMs: 10_000 });
    const { dir, cleanup } = project("rpm");
    writeJsonl(join(dir, "in.jsonl"), makeServices(3, "P"));
    const workers = [1, 2, 3].map(() => spawnScript("worker", ["--queue", redis.url, "--concurrency", "1", "--rpm", "300"], { cwd: dir, baseURL: limited.url }));
    try {
      const result = await runScript("run", ["--queue", redis.url, "-i", "in.jsonl", "-o", "out.jsonl"], { cwd: dir, baseURL: limited.url });
      expect(result.code).toBe(0);
      const at = limited.requests.map((r) => r.at);
      const perMinute = (limited.requests.length - 1) / ((Math.max(...at) - Math.min(...at)) / 60_000);
      expect(limited.rejected429).toBeLessThanOrEqual(2);
      expect(perMinute).toBeLessThan(330);
    } finally {
      for (const w of workers) w.kill("SIGTERM");
      await Promise.all(workers.map((w) => w.exited));
      await limited.stop();
      cleanup();
    }
  }, 120_000);
});

describe("the coordinator's journal reader", () => {
  test("after Redis restarts without its data, the entries workers journal again are read from the start, not skipped up to the old offset", async () => {
    const client = new Redis(`${redis.url}/5`);
    const key = "sa:queue:restart:journal";
    const entry = (n: number) => JSON.stringify({ type: "call", stage: "features", model: "openai:m", cache: "live", inputTokens: n, cachedInputTokens: 0, outputTokens: 1, reasoningTokens: 0, retries: 0, costUsd: 0, savedCostUsd: 0, serviceId: "S", runId: "R", jobId: "J", worker: "w" });
    try {
      await client.flushdb();
      const recorded: number[] = [];
      const reader = await createJournalReader(client, key, { owns: (e) => e.runId === "R", record: (call) => void recorded.push(call.inputTokens) });
      await client.rpush(key, entry(1), entry(2), entry(3));
      await reader.pull();
      await client.flushdb(); // what a Redis restarted without persistence holds
      await client.rpush(key, entry(4), entry(5));
      await reader.pull();
      expect(recorded).toEqual([1, 2, 3, 4, 5]);
    } finally {
      client.disconnect();
    }
  });
});

describe("a worker stopped past its grace period", () => {
  test("its jobs go back to the queue once its calls in flight are answered and cached: the worker that takes them over pays for none of them again", async () => {
    const slow = startTestServer({ latencyMs: 400 });
    const { dir, cleanup } = project("grace");
    writeJsonl(join(dir, "in.jsonl"), makeServices(2, "G"));
    const first = spawnScript("worker", ["--queue", redis.url, "--concurrency", "4", "--grace", "1"], { cwd: dir, baseURL: slow.url });
    let second: ReturnType<typeof spawnScript> | undefined;
    try {
      const run = runScript("run", ["--queue", redis.url, "-i", "in.jsonl", "-o", "out.jsonl"], { cwd: dir, baseURL: slow.url });
      while (slow.answered < 4) await Bun.sleep(20);
      first.kill("SIGTERM");
      second = spawnScript("worker", ["--queue", redis.url, "--concurrency", "4"], { cwd: dir, baseURL: slow.url });
      const [code, stderr] = await Promise.all([first.exited, new Response(first.stderr).text()]);
      expect(code).toBe(0);
      expect(stderr).toContain("held jobs put back on the queue");
      expect(stderr).not.toMatch(/failed \(attempt/);
      expect((await run).code).toBe(0);
      expect(readFileSync(join(dir, "out.jsonl"), "utf8").trim().split("\n")).toHaveLength(2);
      expect(slow.answered).toBe(42);
    } finally {
      second?.kill("SIGTERM");
      await second?.exited;
      await slow.stop();
      cleanup();
    }
  }, 120_000);
});

describe("the coordinator's reads of the journal", () => {
  test("a coordinator reads the journal every second, not only as jobs end: what a killed worker pushed is counted before a Redis restart could lose it", async () => {
    const { dir, cleanup } = project("ticks");
    writeJsonl(join(dir, "in.jsonl"), makeServices(1, "T"));
    const key = "sa:queue:ticks:journal";
    const client = new Redis(redis.url);
    // No worker: the one job waits, and no job's end reads the journal.
    const coordinator = spawnScript("run", ["--queue", redis.url, "-i", "in.jsonl", "-o", "out.jsonl"], { cwd: dir, baseURL: server.url });
    try {
      const readAt = async () => Number((await client.get(`${key}:read`)) ?? -1);
      const waitForRead = async (atLeast: number, ms: number) => {
        const start = Date.now();
        while (Date.now() - start < ms) {
          if ((await readAt()) >= atLeast) return Date.now() - start;
          await Bun.sleep(50);
        }
        return undefined;
      };
      expect(await waitForRead(0, 10_000)).toBeDefined();
      for (const n of [1, 2, 3]) {
        // What a worker pushes (another run's, so this run counts nothing of it): read within about a second.
        await client.rpush(key, JSON.stringify({ type: "call", runId: "another-run", jobId: null, worker: "test", id: `test:${n}` }));
        const length = await client.llen(key);
        expect(await waitForRead(length, 3000)).toBeDefined();
      }
    } finally {
      coordinator.kill("SIGINT");
      await coordinator.exited;
      client.disconnect();
      cleanup();
    }
  }, 60_000);
});
