import { afterAll, beforeAll, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { startTestServer } from "../lib/test-server.ts";
import { fixtureData, makeServices, spawnScript, tempDir, until, writeJsonl } from "./helpers.ts";
import { startRedis, type RedisServer } from "./redis-server.ts";

let redis: RedisServer;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(() => redis.stop());

test("run --queue --local-workers stopped by SIGTERM: the calls its workers had in flight are answered and in its ledger record as live calls, not failed ones", async () => {
  const server = startTestServer({ latencyMs: 800 });
  const { dir, cleanup } = tempDir("sa-queue-local-");
  try {
    writeFileSync(join(dir, "service-ambitions.config.json"), JSON.stringify({ dataDir: fixtureData, model: "openai:gpt-4o-mini", cache: { driver: "redis", url: `${redis.url}/1`, base: "local-stop" }, queue: { name: "local-stop", lockDuration: 3000 } }));
    const input = writeJsonl(join(dir, "in.jsonl"), makeServices(6, "LS"));
    const coordinator = spawnScript("run", ["--queue", redis.url, "--local-workers", "1", "-i", input, "-o", "out.jsonl", "-q"], { cwd: dir, baseURL: server.url });
    // Past the descriptions, with a full window of calls on the wire.
    await until(() => server.answered >= 8, "8 answers", 60_000);
    coordinator.kill("SIGTERM");
    expect(await coordinator.exited).toBe(143);
    const run = JSON.parse(readFileSync(join(dir, ".sa/usage.json"), "utf8")).runs.at(-1);
    console.log(`local workers stopped: server answered ${server.answered} of ${server.requests.length}; ledger ${run.totals.liveCalls} live, ${run.totals.failedCalls} failed`);
    expect(run.status).toBe("interrupted");
    expect(server.answered).toBe(server.requests.length);
    expect(run.totals.failedCalls).toBe(0);
    expect(run.totals.liveCalls).toBe(server.answered);
  } finally {
    await server.stop();
    cleanup();
  }
}, 120_000);

test("a worker holding no job whose Redis is gone stops on SIGTERM without waiting out the release of jobs it does not hold", async () => {
  const own = await startRedis();
  const { dir, cleanup } = tempDir("sa-queue-idle-");
  let stopped = false;
  try {
    writeFileSync(join(dir, "service-ambitions.config.json"), JSON.stringify({ dataDir: fixtureData, model: "openai:gpt-4o-mini", queue: { name: "idle-stop" } }));
    const worker = spawnScript("worker", ["--queue", own.url, "--grace", "1", "--json"], { cwd: dir });
    let stderr = "";
    void (async () => {
      for await (const chunk of worker.stderr) stderr += new TextDecoder().decode(chunk);
    })();
    await until(() => stderr.includes("at once, data"), "the worker to start", 30_000);
    await own.stop();
    stopped = true;
    await until(() => stderr.includes("is unreachable"), "the worker to see Redis gone", 30_000);
    const startedAt = Date.now();
    worker.kill("SIGTERM");
    const code = await worker.exited;
    const summary = JSON.parse((await new Response(worker.stdout).text()).trim());
    console.log(`idle worker, Redis gone: exit ${code} after ${Date.now() - startedAt} ms, outcome ${summary.outcome}`);
    expect(code).toBe(0);
    expect(summary.outcome).toBe("finished");
    expect(stderr).not.toContain("held jobs put back");
  } finally {
    if (!stopped) await own.stop();
    cleanup();
  }
}, 120_000);
