import { afterAll, beforeAll, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { startTestServer, type TestServer } from "../lib/test-server.ts";
import { fixtureData, makeServices, spawnScript, tempDir, until, writeJsonl } from "./helpers.ts";
import { startRedis, type RedisServer } from "./redis-server.ts";

let redis: RedisServer;
let server: TestServer;
beforeAll(async () => {
  redis = await startRedis();
  // Slow answers: the requests are still on the wire when the worker is stopped.
  server = startTestServer({ latencyMs: 1500 });
});
afterAll(async () => {
  await redis.stop();
  await server.stop();
});

test("a worker stopped by a second Ctrl-C exits 130 at once, prints its --json summary, and the requests it had on the wire reach the run's ledger as failed calls", async () => {
  const { dir, cleanup } = tempDir("sa-worker-signals-");
  const config = { dataDir: fixtureData, model: "openai:gpt-4o-mini", cache: { driver: "redis", url: `${redis.url}/1`, base: "cache-twice" }, queue: { name: "twice", attempts: 3, lockDuration: 2000 } };
  writeFileSync(join(dir, "service-ambitions.config.json"), JSON.stringify(config));
  writeJsonl(join(dir, "in.jsonl"), makeServices(1, "T"));
  const worker = (...extra: string[]) => spawnScript("worker", ["--queue", redis.url, "--concurrency", "2", ...extra], { cwd: dir, baseURL: server.url });
  const coordinator = spawnScript("run", ["--queue", redis.url, "-i", "in.jsonl", "-o", "out.jsonl", "--json"], { cwd: dir, baseURL: server.url });
  const first = worker("--json");
  let second: ReturnType<typeof worker> | undefined;
  try {
    await until(() => server.requests.length >= 1, "the first worker's first request", 60_000);
    first.kill("SIGINT");
    await Bun.sleep(100);
    first.kill("SIGINT");
    const [code, stdout] = await Promise.all([first.exited, new Response(first.stdout).text()]);
    expect(code).toBe(130);
    expect(JSON.parse(stdout.trim().split("\n").at(-1)!)).toMatchObject({ status: "interrupted", exitCode: 130, signal: "SIGINT", queue: "twice" });
    // Another worker takes the job over once its lock runs out, and the run completes.
    second = worker();
    const [runCode, runOut] = await Promise.all([coordinator.exited, new Response(coordinator.stdout).text()]);
    expect(runCode).toBe(0);
    const summary = JSON.parse(runOut.trim().split("\n").at(-1)!);
    const record = JSON.parse(readFileSync(join(dir, ".sa/usage.json"), "utf8")).runs.find((r: { runId: string }) => r.runId === summary.runId);
    // Every request the server saw is in the run's record: the abandoned ones as failed calls.
    expect(record.totals.requests).toBe(server.requests.length);
    expect(record.totals.failedCalls).toBeGreaterThanOrEqual(1);
  } finally {
    for (const p of [first, second, coordinator]) if (p && p.exitCode === null) p.kill("SIGKILL");
    cleanup();
  }
}, 120_000);
