import { expect, test } from "bun:test";
import { readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fixtureData, makeServices, runScript, tempDir, writeJsonl } from "./helpers.ts";

const cases: Array<{ name: string; cache?: Record<string, unknown>; env?: Record<string, string>; says: RegExp }> = [
  { name: "SA_CACHE__URL that is not a Redis URL", env: { SA_CACHE__DRIVER: "redis", SA_CACHE__URL: "notaurl" }, says: /^✖ config: SA_CACHE__URL \(cache\.url\): expected redis:\/\/HOST:PORT\[\/DB\] or rediss:\/\/…/ },
  { name: "SA_CACHE__URL that is a number", env: { SA_CACHE__DRIVER: "redis", SA_CACHE__URL: "6379" }, says: /^✖ config: SA_CACHE__URL \(cache\.url\): .*expected string/ },
  { name: "cache.url in the file that is not a Redis URL", cache: { driver: "redis", url: "127.0.0.1:6379" }, says: /^✖ config .*service-ambitions\.config\.json:\d+: cache\.url: expected redis:\/\// },
  { name: "SA_CACHE__BASE that is not text", env: { SA_CACHE__DRIVER: "fs", SA_CACHE__BASE: "123" }, says: /^✖ config: SA_CACHE__BASE \(cache\.base\): .*expected string/ },
  // Before, the fs driver took the URL and ignored it: the answers stayed in a local folder, silently.
  { name: "SA_CACHE__URL with a Redis URL and no SA_CACHE__DRIVER", env: { SA_CACHE__URL: "redis://:cfg-SECRET@127.0.0.1:6379/0" }, says: /^✖ config: SA_CACHE__URL \(cache\.url\): a Redis URL needs cache\.driver redis \(SA_CACHE__DRIVER=redis\)$/ },
  { name: "a Redis cache.url in the file under the fs driver", cache: { driver: "fs", url: "redis://127.0.0.1:6379" }, says: /^✖ config .*service-ambitions\.config\.json:\d+: cache\.url: a Redis URL needs cache\.driver redis/ },
  // Before, a mistyped option of the fs or memory driver was passed on and ignored: the answers went to .sa/cache.
  { name: "a mistyped option of the fs driver (bsae)", cache: { driver: "fs", bsae: "/tmp/answers" }, says: /^✖ config .*service-ambitions\.config\.json:6: cache\.bsae: not an option of the fs driver \(its options: base, ignore, readOnly, noClear, ttl\)$/ },
  { name: "SA_CACHE__BASEDIR under the memory driver", env: { SA_CACHE__DRIVER: "memory", SA_CACHE__BASEDIR: "x" }, says: /^✖ config: SA_CACHE__BASEDIR \(cache\.basedir\): not an option of the memory driver \(its options: ttl\)$/ },
];

for (const c of cases) {
  test(`run: ${c.name} is one line naming the key, exit 2, before any call`, async () => {
    const { dir, cleanup } = tempDir("sa-cache-config-");
    try {
      writeFileSync(join(dir, "service-ambitions.config.json"), JSON.stringify({ dataDir: fixtureData, model: "openai:gpt-4o-mini", ...(c.cache ? { cache: c.cache } : {}) }, null, 2));
      writeJsonl(join(dir, "in.jsonl"), makeServices(1));
      const result = await runScript("run", ["-i", "in.jsonl", "-o", "out.jsonl"], { cwd: dir, env: c.env, baseURL: "http://127.0.0.1:9/v1" });
      expect(result.code).toBe(2);
      const lines = result.stderr.trim().split("\n").filter((l) => !l.startsWith("ℹ"));
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(c.says);
    } finally {
      cleanup();
    }
  }, 30_000);
}

test("cache stats on a redis store names the key prefix the run writes under (a base that is a path becomes tmp:py:sa), and its keys are found there", async () => {
  const { startRedis } = await import("./redis-server.ts");
  const redis = await startRedis();
  const { dir, cleanup } = tempDir("sa-cache-config-");
  try {
    writeFileSync(join(dir, "service-ambitions.config.json"), JSON.stringify({ dataDir: fixtureData, cache: { driver: "redis", url: redis.url, base: "/tmp/py/sa" } }));
    writeJsonl(join(dir, "in.jsonl"), makeServices(1));
    expect((await runScript("run", ["-i", "in.jsonl", "-o", "out.jsonl", "--model", "synthetic:demo"], { cwd: dir })).code).toBe(0);
    const keys = (await Bun.$`redis-cli -p ${redis.port} --scan`.text()).trim().split("\n");
    expect(keys.length).toBe(21);
    expect(keys.every((k) => k.startsWith("tmp:py:sa:"))).toBe(true);
    const stats = await runScript("cache", ["stats"], { cwd: dir });
    expect(stats.stdout).toContain(`store   redis ${redis.url} (prefix tmp:py:sa)`);
  } finally {
    await redis.stop();
    cleanup();
  }
}, 60_000);

test("run: an unknown cache driver is one line naming it and the drivers there are (each once, as unstorage spells them in kebab-case), exit 2", async () => {
  const { dir, cleanup } = tempDir("sa-cache-config-");
  try {
    writeFileSync(join(dir, "service-ambitions.config.json"), JSON.stringify({ dataDir: fixtureData, model: "openai:gpt-4o-mini" }));
    writeJsonl(join(dir, "in.jsonl"), makeServices(1));
    const result = await runScript("run", ["-i", "in.jsonl", "-o", "out.jsonl"], { cwd: dir, env: { SA_CACHE__DRIVER: "rediss" }, baseURL: "http://127.0.0.1:9/v1" });
    expect(result.code).toBe(2);
    const lines = result.stderr.trim().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toStartWith('✖ cache.driver: unknown driver "rediss" (known: ');
    expect(lines[0]).toContain(" fs, ");
    expect(lines[0]).toContain(" redis, ");
    expect(lines[0]).toContain(" azure-app-configuration, ");
    expect(lines[0]).not.toContain("azureAppConfiguration");
  } finally {
    cleanup();
  }
}, 30_000);

test("run: SA_CACHE__DRIVER=fs over a config whose cache is redis needs no other change: the default folder .sa/cache, and a rerun all cached", async () => {
  const { dir, cleanup } = tempDir("sa-cache-config-");
  try {
    writeFileSync(join(dir, "service-ambitions.config.json"), JSON.stringify({ dataDir: fixtureData, model: "synthetic:demo", cache: { driver: "redis", url: "redis://127.0.0.1:9" } }));
    writeJsonl(join(dir, "in.jsonl"), makeServices(1));
    const env = { SA_CACHE__DRIVER: "fs" };
    const first = await runScript("run", ["-i", "in.jsonl", "-o", "out.jsonl"], { cwd: dir, env });
    expect(first.stderr).toBe(first.stderr.replace(/✖.*/, ""));
    expect(first.code).toBe(0);
    const again = await runScript("run", ["-i", "in.jsonl", "-o", "again.jsonl", "--json"], { cwd: dir, env });
    expect(JSON.parse(again.stdout.trim().split("\n").at(-1)!).totals.cachedCalls).toBe(21);
    expect(readdirSync(join(dir, ".sa/cache")).length).toBeGreaterThan(0);
  } finally {
    cleanup();
  }
}, 30_000);
