import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Redis } from "ioredis";
import { startTestServer, type TestServer } from "../lib/test-server.ts";
import { fixtureData, makeServices, runScript, spawnScript, tempDir, writeJsonl } from "./helpers.ts";
import { startRedis, type RedisServer } from "./redis-server.ts";

const password = "cache-SECRET-pw-0815";
let redis: RedisServer;
let client: Redis;
let closedPort: number;
let server: TestServer;
beforeAll(async () => {
  const gone = await startRedis();
  closedPort = gone.port;
  await gone.stop();
  redis = await startRedis();
  client = new Redis(redis.url);
  await client.config("SET", "requirepass", password);
  await client.auth(password);
  server = startTestServer();
});
afterAll(async () => {
  client.disconnect();
  await redis.stop();
  await server.stop();
});

/** A project whose cache is the redis driver with these options, and an input of `services` services. */
function project(cache: Record<string, unknown>, services = 2) {
  const { dir, cleanup } = tempDir("sa-cache-redis-");
  writeFileSync(join(dir, "service-ambitions.config.json"), JSON.stringify({ dataDir: fixtureData, model: "openai:gpt-4o-mini", cache: { driver: "redis", ...cache } }));
  writeJsonl(join(dir, "in.jsonl"), makeServices(services, "C"));
  return { dir, cleanup };
}

const authed = () => `redis://:${password}@127.0.0.1:${redis.port}`;

describe("a redis cache that cannot be used", () => {
  test("run: one warning naming the store (without its password) and the connection's error; every service is still written", async () => {
    const { dir, cleanup } = project({ url: `redis://:${password}@127.0.0.1:${closedPort}`, base: "sa" }, 3);
    try {
      const result = await runScript("run", ["-i", "in.jsonl", "-o", "out.jsonl", "--concurrency", "16"], { cwd: dir, baseURL: server.url });
      expect(result.code).toBe(0);
      const warnings = result.stderr.split("\n").filter((l) => l.includes("keeps failing"));
      expect(warnings).toEqual([`⚠ cache: the store (redis redis://127.0.0.1:${closedPort} (prefix sa)) keeps failing (connect ECONNREFUSED 127.0.0.1:${closedPort}); this run goes on without the cache`]);
      expect(result.stderr).not.toContain(password);
    } finally {
      cleanup();
    }
  }, 60_000);

  for (const [name, url, says] of [
    ["nothing listens", () => `redis://127.0.0.1:${closedPort}`, /\(connect ECONNREFUSED 127\.0\.0\.1:\d+\)$/],
    ["the password is wrong", () => `redis://:wrong-${password}@127.0.0.1:${redis.port}`, /\(WRONGPASS /],
  ] as const) {
    test(`preflight, ${name}: the cache check fails with one line naming the store and why, exit 1, at once`, async () => {
      const { dir, cleanup } = project({ url: url() });
      try {
        const started = Date.now();
        const result = await runScript("preflight", ["-i", "in.jsonl"], { cwd: dir });
        expect(result.code).toBe(1);
        expect(Date.now() - started).toBeLessThan(15_000);
        const line = result.stdout.split("\n").find((l) => l.startsWith("✖ cache:"));
        expect(line).toStartWith(`✖ cache: redis redis://127.0.0.1:${url().split(":").at(-1)} cannot be written to (`);
        expect(line).toMatch(says);
        expect(result.stdout + result.stderr).not.toContain(password);
        // --json names the failure as a cache error, not as a bug of the tool.
        const json = await runScript("preflight", ["-i", "in.jsonl", "--json"], { cwd: dir });
        const checks = (JSON.parse(json.stdout.trim().split("\n").at(-1)!) as { checks: Array<{ name: string; code?: string }> }).checks;
        expect(checks.find((c) => c.name === "cache")?.code).toBe("E_CACHE");
      } finally {
        cleanup();
      }
    }, 30_000);
  }
});

test("cache stats, prune and clear on a Redis that is down: exit 1 with one line naming the store and the connection's error", async () => {
  const { dir, cleanup } = project({ url: `redis://:${password}@127.0.0.1:${closedPort}` });
  try {
    for (const args of [["stats"], ["prune", "--older-than", "1d"], ["clear", "--yes"]]) {
      const result = await runScript("cache", args, { cwd: dir });
      expect(result.code).toBe(1);
      expect(result.stderr.trim()).toBe(`✖ cache ${args[0]}: redis redis://127.0.0.1:${closedPort} failed (connect ECONNREFUSED 127.0.0.1:${closedPort})`);
    }
  } finally {
    cleanup();
  }
}, 30_000);

// Before, both said "NOAUTH Authentication required." (what each command got back), as if no password had been given.
test("run and cache stats with a wrong password name the refused password (WRONGPASS), not a missing one", async () => {
  const { dir, cleanup } = project({ url: `redis://:wrong-${password}@127.0.0.1:${redis.port}/3` });
  try {
    const run = await runScript("run", ["-i", "in.jsonl", "-o", "out.jsonl"], { cwd: dir, baseURL: server.url });
    expect(run.code).toBe(0);
    expect(run.stderr.split("\n").filter((l) => l.includes("keeps failing"))).toEqual([`⚠ cache: the store (redis redis://127.0.0.1:${redis.port}/3) keeps failing (WRONGPASS invalid username-password pair or user is disabled.); this run goes on without the cache`]);
    const stats = await runScript("cache", ["stats"], { cwd: dir });
    expect(stats.code).toBe(1);
    expect(stats.stderr.trim()).toBe(`✖ cache stats: redis redis://127.0.0.1:${redis.port}/3 failed (WRONGPASS invalid username-password pair or user is disabled.)`);
    expect(run.stderr + stats.stderr).not.toContain(password);
  } finally {
    cleanup();
  }
}, 60_000);

// Before, ioredis went on in database 0 when SELECT failed: preflight passed, and the run's entries
// (and cache clear) landed among whatever database 0 held.
test("a URL naming a database Redis does not have: preflight fails naming it, and run writes nothing to database 0", async () => {
  const spare = await startRedis();
  const { dir, cleanup } = project({ url: `${spare.url}/99` }, 1);
  try {
    const preflight = await runScript("preflight", ["-i", "in.jsonl"], { cwd: dir });
    expect(preflight.code).toBe(1);
    expect(preflight.stdout).toContain(`✖ cache: redis ${spare.url}/99 cannot be written to (ERR DB index is out of range)`);
    const run = await runScript("run", ["-i", "in.jsonl", "-o", "out.jsonl"], { cwd: dir, baseURL: server.url });
    expect(run.code).toBe(0);
    expect(run.stderr.split("\n").filter((l) => l.includes("keeps failing"))).toEqual([`⚠ cache: the store (redis ${spare.url}/99) keeps failing (ERR DB index is out of range); this run goes on without the cache`]);
    expect((await Bun.$`redis-cli -p ${spare.port} -n 0 dbsize`.text()).trim()).toBe("0");
  } finally {
    await spare.stop();
    cleanup();
  }
}, 60_000);

// Before: "the store itself works, so only such entries go uncached", while Redis refused every write.
test("run: a Redis out of memory (maxmemory, noeviction) is said as a store that cannot be written, as a full disk is, once", async () => {
  const full = await startRedis();
  const admin = new Redis(full.url);
  const { dir, cleanup } = project({ url: full.url }, 2);
  try {
    const used = Number(/used_memory:(\d+)/.exec(await admin.info("memory"))![1]);
    await admin.config("SET", "maxmemory-policy", "noeviction");
    await admin.config("SET", "maxmemory", String(used + 20_000));
    const result = await runScript("run", ["-i", "in.jsonl", "-o", "out.jsonl"], { cwd: dir, baseURL: server.url });
    expect(result.code).toBe(0);
    const warnings = result.stderr.split("\n").filter((l) => l.startsWith("⚠ cache"));
    expect(warnings).toEqual([`⚠ cache: the store (redis ${full.url}) cannot be written (OOM command not allowed when used memory > 'maxmemory'.); this run's answers go uncached, and a rerun pays for them again`]);
  } finally {
    admin.disconnect();
    await full.stop();
    cleanup();
  }
}, 60_000);

test("run: a Redis that stops answering mid-run (SIGSTOP) is given up on with one warning; every service is written", async () => {
  const hung = await startRedis();
  const pid = Number(/process_id:(\d+)/.exec(await Bun.$`redis-cli -p ${hung.port} info server`.text())![1]);
  const slow = startTestServer({ latencyMs: 50 });
  const { dir, cleanup } = project({ url: hung.url }, 2);
  try {
    const run = spawnScript("run", ["-i", "in.jsonl", "-o", "out.jsonl"], { cwd: dir, baseURL: slow.url });
    while (slow.answered < 5) await Bun.sleep(20);
    process.kill(pid, "SIGSTOP");
    const timeout = setTimeout(() => run.kill(9), 60_000);
    const [code, stderr] = await Promise.all([run.exited, new Response(run.stderr).text()]);
    clearTimeout(timeout);
    expect(code).toBe(0);
    expect(readFileSync(join(dir, "out.jsonl"), "utf8").trim().split("\n")).toHaveLength(2);
    expect(stderr.match(/keeps failing \(Command timed out\); this run goes on without the cache/g)).toHaveLength(1);
  } finally {
    process.kill(pid, "SIGCONT");
    await hung.stop();
    await slow.stop();
    cleanup();
  }
}, 90_000);

describe("cache stats, prune and clear on a redis store", () => {
  test("under a base that is a path (the Python tool's cache_dir), they see the entries the run wrote", async () => {
    const { dir, cleanup } = project({ url: `${authed()}/2`, base: "/tmp/py-cache/service-ambitions" });
    try {
      expect((await runScript("run", ["-i", "in.jsonl", "-o", "out.jsonl"], { cwd: dir, baseURL: server.url })).code).toBe(0);
      const stats = JSON.parse((await runScript("cache", ["stats", "--json"], { cwd: dir })).stdout);
      expect(stats.namespaces.map((n: { namespace: string }) => n.namespace)).toEqual(["default:descriptions", "default:features", "default:mapping"]);
      expect(stats.total.entries).toBe(42);
      expect(stats.total.bytes).toBeGreaterThan(0);
      expect(stats.oldest).not.toBeNull();
      const pruned = JSON.parse((await runScript("cache", ["prune", "--namespace", "default:descriptions", "--json"], { cwd: dir })).stdout);
      expect(pruned.removed).toBe(2);
      const db = new Redis(`${authed()}/2`);
      try {
        expect(await db.dbsize()).toBe(40);
        expect((await runScript("cache", ["clear", "--yes"], { cwd: dir })).code).toBe(0);
        expect(await db.dbsize()).toBe(0);
      } finally {
        db.disconnect();
      }
    } finally {
      cleanup();
    }
  }, 60_000);

  for (const base of ["sa", undefined]) {
    test(`in a Redis shared with the queue and the rate limits (base ${base ?? "none"}), they count and remove cache entries only`, async () => {
      const db = new Redis(`${authed()}/3`);
      const { dir, cleanup } = project({ url: `${authed()}/3`, ...(base ? { base } : {}) }, 1);
      try {
        await db.flushdb();
        const others = ["bull:sa:id", "bull:sa:meta", "sa:queue:sa:journal", "sa:queue:sa:stop", "sa-rate:default:rpm"];
        for (const key of others) await db.set(key, "1");
        expect((await runScript("run", ["-i", "in.jsonl", "-o", "out.jsonl"], { cwd: dir, baseURL: server.url })).code).toBe(0);
        const stats = JSON.parse((await runScript("cache", ["stats", "--json"], { cwd: dir })).stdout);
        expect(stats.total.entries).toBe(21);
        expect(stats.namespaces.map((n: { namespace: string }) => n.namespace)).toEqual(["default:descriptions", "default:features", "default:mapping"]);
        expect(JSON.parse((await runScript("cache", ["prune", "--older-than", "0s", "--json"], { cwd: dir })).stdout).removed).toBe(21);
        expect((await runScript("run", ["-i", "in.jsonl", "-o", "out2.jsonl"], { cwd: dir, baseURL: server.url })).code).toBe(0);
        const cleared = await runScript("cache", ["clear", "--yes", "--json"], { cwd: dir });
        expect(JSON.parse(cleared.stdout).removed).toBe(21);
        expect((await db.keys("*")).sort()).toEqual([...others].sort());
      } finally {
        db.disconnect();
        cleanup();
      }
    }, 60_000);
  }
});

describe("corrupt entries in a redis cache", () => {
  test("a truncated entry, text that is not JSON and a key of another type are each a miss with a warning naming it, never a crash", async () => {
    const { dir, cleanup } = project({ url: `${authed()}/4`, base: "sa" }, 1);
    const db = new Redis(`${authed()}/4`);
    try {
      await db.flushdb();
      expect((await runScript("run", ["-i", "in.jsonl", "-o", "out.jsonl"], { cwd: dir, baseURL: server.url })).code).toBe(0);
      const keys = (await db.keys("sa:default:mapping:*")).sort().slice(0, 3);
      const whole = (await db.get(keys[0]!))!;
      await db.set(keys[0]!, whole.slice(0, whole.length / 2));
      await db.set(keys[1]!, "not json at all");
      await db.del(keys[2]!);
      await db.rpush(keys[2]!, "a", "b");
      const answered = server.answered;
      const rerun = await runScript("run", ["-i", "in.jsonl", "-o", "out2.jsonl", "--json"], { cwd: dir, baseURL: server.url });
      expect(rerun.code).toBe(0);
      expect(server.answered - answered).toBe(3);
      // Each line names the service whose call read the entry (its key's third part), as per-service lines do.
      for (const key of keys) expect(rerun.stderr).toContain(`⚠ [${key.split(":")[3]}] cache: entry ${key.slice("sa:".length)} `);
      expect(rerun.stderr).toContain("WRONGTYPE");
      expect(await db.type(keys[2]!)).toBe("string"); // the answer paid for again is stored over it
    } finally {
      db.disconnect();
      cleanup();
    }
  }, 60_000);
});
