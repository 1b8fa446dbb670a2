import { describe, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import Redis from "ioredis";
import { startTestServer } from "../lib/test-server.ts";
import { startRedis } from "./redis-server.ts";
import { fixtureData, makeServices, runScript, tempDir, writeJsonl } from "./helpers.ts";

const until = async (ok: () => boolean, timeoutMs = 60_000) => {
  const deadline = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error("timed out waiting");
    await Bun.sleep(20);
  }
};

/** Commands the server has run, from INFO commandstats. */
async function commandsRun(port: number): Promise<number> {
  const client = new Redis(port, "127.0.0.1");
  const text = await client.info("commandstats");
  client.disconnect();
  return [...text.matchAll(/cmdstat_(?!info|ping|client|command|hello|select)\w+:calls=(\d+)/g)].reduce((n, m) => n + Number(m[1]), 0);
}

describe("shared RPM/TPM buckets in Redis", () => {
  // Before, a refused password was only "is unreachable": the operator looked at the network, not the password.
  test("a Redis that refuses the password, or has no such database: one warning naming why, never the password; the run goes on with its own buckets", async () => {
    const server = startTestServer();
    const redis = await startRedis();
    const password = "rate-SECRET-pw-2718";
    await Bun.$`redis-cli -p ${redis.port} config set requirepass ${password}`.quiet();
    const { dir, cleanup } = tempDir();
    try {
      const input = writeJsonl(join(dir, "in.jsonl"), makeServices(1));
      // And a database Redis does not have: before, ioredis went on in database 0 and the buckets were kept there.
      for (const [url, says] of [[`redis://:wrong-${password}@127.0.0.1:${redis.port}/1`, "WRONGPASS invalid username-password pair or user is disabled."], [`redis://:${password}@127.0.0.1:${redis.port}/99`, "ERR DB index is out of range"]] as const) {
        writeFileSync(join(dir, "sa.config.json"), JSON.stringify({ rpm: 6000, rateLimit: { store: "redis", url, key: "auth" }, cacheMode: "off" }));
        const result = await runScript("run", ["--config", "sa.config.json", "--input", input, "--output", "out.jsonl", "--data", fixtureData, "--fresh"], { cwd: dir, baseURL: server.url });
        expect(result.code).toBe(0);
        const warnings = result.stderr.split("\n").filter((l) => /rate limit/i.test(l) && l.startsWith("⚠"));
        expect(warnings).toEqual([`⚠ rate limit: Redis ${url.replace(/\/\/[^@]*@/, "//")} is unreachable (${says}); this process uses its own RPM/TPM buckets until it is back`]);
        expect(result.stderr).not.toContain(password);
      }
      expect((await Bun.$`redis-cli -p ${redis.port} -a ${password} --no-auth-warning -n 0 dbsize`.text()).trim()).toBe("0");
    } finally {
      cleanup();
      await redis.stop();
      await server.stop();
    }
  }, 60_000);

  test("Redis stops mid-run: the process goes on with its own buckets at once, warns once, and rejoins when Redis is back", async () => {
    const server = startTestServer();
    let redis = await startRedis();
    const { dir, cleanup } = tempDir();
    const rpm = 1200; // 20 calls/s
    try {
      writeFileSync(join(dir, "sa.config.json"), JSON.stringify({ rpm, tpm: 10_000_000, rateLimit: { store: "redis", url: redis.url, key: "edge" }, cacheMode: "off" }));
      const input = writeJsonl(join(dir, "in.jsonl"), makeServices(4)); // 84 calls
      const started = Date.now();
      const running = runScript("run", ["--config", "sa.config.json", "--input", input, "--output", "out.jsonl", "--data", fixtureData, "--concurrency", "8"], { cwd: dir, baseURL: server.url });
      await until(() => server.answered >= 15);
      const sharedCommands = await commandsRun(redis.port);
      await redis.stop();
      await until(() => server.answered >= 40);
      redis = await startRedis(redis.port);
      const result = await running;
      const elapsed = Date.now() - started;

      expect(sharedCommands).toBeGreaterThan(0); // the buckets really were in Redis at first
      expect(result.code).toBe(0);
      expect(readFileSync(join(dir, "out.jsonl"), "utf8").trim().split("\n")).toHaveLength(4);
      expect(server.answered).toBe(84);
      // 84 calls at 20/s take about 4.2 s; a process stuck on a dead Redis took minutes (0.4 calls/s).
      const ideal = (84 / rpm) * 60_000;
      expect(elapsed).toBeLessThan(ideal * 3 + 5_000);
      const warnings = result.stderr.split("\n").filter((l) => /rate limit/i.test(l) && /redis/i.test(l) && l.startsWith("⚠"));
      expect(warnings).toHaveLength(1);
      // After Redis came back, the process used it again.
      expect(await commandsRun(redis.port)).toBeGreaterThan(0);
    } finally {
      cleanup();
      await redis.stop();
      await server.stop();
    }
  }, 120_000);

  test("Redis stops answering mid-run (SIGSTOP, the connection left open): calls go on with the process's own buckets, never wait for ever", async () => {
    const server = startTestServer();
    const redis = await startRedis();
    const pid = Number(/process_id:(\d+)/.exec(await Bun.$`redis-cli -p ${redis.port} info server`.text())![1]);
    const { dir, cleanup } = tempDir();
    try {
      writeFileSync(join(dir, "sa.config.json"), JSON.stringify({ rpm: 1200, rateLimit: { store: "redis", url: redis.url, key: "hung" }, cacheMode: "off" }));
      const input = writeJsonl(join(dir, "in.jsonl"), makeServices(2)); // 42 calls
      const running = runScript("run", ["--config", "sa.config.json", "--input", input, "--output", "out.jsonl", "--data", fixtureData, "--concurrency", "8"], { cwd: dir, baseURL: server.url });
      await until(() => server.answered >= 10);
      process.kill(pid, "SIGSTOP");
      const result = await Promise.race([running, Bun.sleep(60_000).then(() => ({ code: -1, stderr: "timed out" }))]);
      expect(result.code).toBe(0);
      expect(server.answered).toBe(42);
      expect(readFileSync(join(dir, "out.jsonl"), "utf8").trim().split("\n")).toHaveLength(2);
    } finally {
      process.kill(pid, "SIGCONT");
      cleanup();
      await redis.stop();
      await server.stop();
    }
  }, 120_000);
});
