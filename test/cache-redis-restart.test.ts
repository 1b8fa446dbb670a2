import { expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Redis } from "ioredis";
import { startTestServer } from "../lib/test-server.ts";
import { fixtureData, makeServices, runScript, spawnScript, tempDir, writeJsonl } from "./helpers.ts";
import { startRedis } from "./redis-server.ts";

/** A run of 10 services whose cache Redis (no persistence) stops after 10 answers and is back `downMs` later; what the run said. */
async function runThroughRestart(downMs: number, check: (result: { stderr: string; before: number; held: number; rerunCached: number; rerunPaid: number }) => void) {
  let redis = await startRedis();
  const server = startTestServer({ latencyMs: 100 });
  const { dir, cleanup } = tempDir("sa-cache-restart-");
  writeFileSync(join(dir, "service-ambitions.config.json"), JSON.stringify({ dataDir: fixtureData, model: "openai:gpt-4o-mini", cache: { driver: "redis", url: redis.url, base: "sa" } }));
  writeJsonl(join(dir, "in.jsonl"), makeServices(10, "K"));
  try {
    const run = spawnScript("run", ["-i", "in.jsonl", "-o", "out.jsonl", "--concurrency", "2"], { cwd: dir, baseURL: server.url });
    while (server.answered < 10) await Bun.sleep(20);
    // What the cache held when Redis stopped (it restarts without it).
    const counter = new Redis(redis.url);
    const before = (await counter.keys("sa:*")).length;
    counter.disconnect();
    await redis.stop();
    await Bun.sleep(downMs);
    redis = await startRedis(redis.port);
    const timeout = setTimeout(() => run.kill(9), 90_000);
    const [code, stderr] = await Promise.all([run.exited, new Response(run.stderr).text()]);
    clearTimeout(timeout);
    expect(code).toBe(0);
    expect(readFileSync(join(dir, "out.jsonl"), "utf8").trim().split("\n")).toHaveLength(10);
    // The restarted Redis kept nothing from before: what it holds was written after it came back.
    const client = new Redis(redis.url);
    const held = (await client.keys("sa:*")).length;
    client.disconnect();
    const answered = server.answered;
    const rerun = await runScript("run", ["-i", "in.jsonl", "-o", "out2.jsonl", "--json"], { cwd: dir, baseURL: server.url });
    expect(rerun.code).toBe(0);
    check({ stderr, before, held, rerunCached: JSON.parse(rerun.stdout.trim().split("\n").at(-1)!).totals.cachedCalls, rerunPaid: server.answered - answered });
  } finally {
    await redis.stop();
    await server.stop();
    cleanup();
  }
}

test("run: a cache Redis down for seconds is left alone (one warning), used again once it answers (one line); the answers made meanwhile are written then", async () => {
  await runThroughRestart(4000, ({ stderr, before, held, rerunCached, rerunPaid }) => {
    expect(stderr.match(/keeps failing \(connect ECONNREFUSED [\d.:]+\); this run goes on without the cache/g)).toHaveLength(1);
    expect(stderr.match(/cache: the store \(redis .*\) answers again; caching again/g)).toHaveLength(1);
    // The answers made while it was away were held and written once it was back: Redis lost only
    // what it held before it stopped (and at most the 2 calls' entries written as it stopped).
    expect(held).toBeGreaterThanOrEqual(210 - before - 2);
    expect(stderr).not.toContain("could not be written");
    // A rerun pays only for what was answered while the cache was away.
    expect(rerunCached).toBe(held);
    expect(rerunPaid).toBe(210 - held);
  });
}, 150_000);

test("run: a cache Redis away for a moment is said once each way, never blamed on the entries; what it missed is all a rerun pays for", async () => {
  await runThroughRestart(300, ({ stderr, held, rerunCached, rerunPaid }) => {
    expect(stderr).not.toContain("only such entries go uncached");
    expect(stderr.match(/keeps failing \(connect ECONNREFUSED [\d.:]+\); this run goes on without the cache/g)).toHaveLength(1);
    expect(stderr.match(/answers again; caching again/g)).toHaveLength(1);
    expect(rerunCached).toBe(held);
    expect(rerunPaid).toBe(210 - held);
  });
}, 150_000);

test("run: a cache Redis that is still down at the end: every service is written, and one line says how many answers went uncached", async () => {
  const redis = await startRedis();
  const server = startTestServer({ latencyMs: 50 });
  const { dir, cleanup } = tempDir("sa-cache-gone-");
  writeFileSync(join(dir, "service-ambitions.config.json"), JSON.stringify({ dataDir: fixtureData, model: "openai:gpt-4o-mini", cache: { driver: "redis", url: redis.url, base: "sa" } }));
  writeJsonl(join(dir, "in.jsonl"), makeServices(3, "G"));
  try {
    const run = spawnScript("run", ["-i", "in.jsonl", "-o", "out.jsonl", "--concurrency", "2"], { cwd: dir, baseURL: server.url });
    while (server.answered < 5) await Bun.sleep(10);
    await redis.stop();
    const [code, stderr] = await Promise.all([run.exited, new Response(run.stderr).text()]);
    expect(code).toBe(0);
    expect(readFileSync(join(dir, "out.jsonl"), "utf8").trim().split("\n")).toHaveLength(3);
    const lost = Number(/cache: (\d+) entries made while the store \(redis .*\) was away could not be written; a rerun pays again for the answers among them/.exec(stderr)?.[1]);
    // The calls answered after Redis stopped: 63 in all, less the few answered and written before.
    expect(lost).toBeGreaterThanOrEqual(45);
    expect(lost).toBeLessThanOrEqual(63);
    // Said before the run's summary, which stays its last line.
    expect(stderr.trim().split("\n").at(-1)).toMatch(/^✔ ok: 3 written/);
  } finally {
    await redis.stop();
    await server.stop();
    cleanup();
  }
}, 120_000);
