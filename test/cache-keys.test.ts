import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { cacheHash, cacheKey, createCacheStorage, createCallCache, keyPart } from "../lib/cache.ts";
import { featureCode } from "../lib/pipeline/feature-id.ts";
import { startTestServer } from "../lib/test-server.ts";
import { warningLog } from "./cache/contract.ts";
import { startRedis, type RedisServer } from "./redis-server.ts";
import { fixtureData, runScript, tempDir, writeJsonl } from "./helpers.ts";

/** Service ids that stores refuse or that a lossy encoding would merge. */
const awkwardIds = ["..", "abc..", "a/b", "a_b", "a:b", "x y", "café ☕", "a?b", `long-${"z".repeat(300)}`];

const services = (ids: string[]) => ids.map((id, i) => ({ service_id: id, name: `Awkward ${i + 1}`, description: `Service with id ${JSON.stringify(id)}.`, jobs_to_be_done: [] }));

describe("the key recipe", () => {
  // Pinned values: a change to how keys, hashes or feature codes are computed would orphan every
  // cache (and every code) made before it. Computed before the hashing moved to Bun.CryptoHasher.
  test("hashes, keys and feature codes are the same as ever", () => {
    const long = "Long system text. ".repeat(80);
    const hashes = [
      { provider: "openai", baseURL: "https://user:secret@api.example.com/v1", model: "gpt-4o-mini", messages: [{ role: "system", content: long }, { role: "user", content: "Map these features: é, 日本" }], schema: 'abc:[["feature_id",["F1","F2"]]]', temperature: 0.2, stage: "mapping" },
      { provider: "synthetic", baseURL: "synthetic:", model: "bench", messages: [{ role: "user", content: "short" }], schema: "d1", seed: 7, reasoningEffort: "low", maxOutputTokens: 900, stage: "features" },
    ].map((parts) => cacheHash(parts));
    expect(hashes).toEqual(["ae48d261f0f9a7abbee9acc4a259414cdb8b7731f5362ad5785fc01089fad6f2", "55d5b1240b6edbab0a0b9e8700c15ff628d5632b3b83e16f52c8fa00f686f91a"]);
    expect(cacheKey("default", "mapping", "SVC 1/é", "h")).toBe("default:mapping:SVC~201~2F~C3~A9:h");
    expect(featureCode("Plateau 1", "role_a", "Feature name")).toBe("ZN5NNU");
  });
});

describe("the key hasher", () => {
  // The key recipe written out with node:crypto, from the cacheHasher docs: a JSON header of the
  // small parts (each message as [role, length]), then each message text, or the hex sha256 of one
  // of 1024 characters or more.
  const recipe = (parts: Parameters<typeof cacheHash>[0]) => {
    const { createHash } = require("node:crypto") as typeof import("node:crypto");
    const head = { v: 1, provider: parts.provider, baseURL: parts.baseURL, model: parts.model, messages: parts.messages.map((m) => [m.role, m.content.length]), schema: parts.schema, temperature: parts.temperature ?? null, seed: parts.seed ?? null, reasoningEffort: parts.reasoningEffort, maxOutputTokens: parts.maxOutputTokens, stage: parts.stage };
    const hash = createHash("sha256").update(JSON.stringify(head));
    for (const m of parts.messages) hash.update(m.content.length >= 1024 ? createHash("sha256").update(m.content).digest("hex") : m.content);
    return hash.digest("hex");
  };

  // Keys are hashed with one reused hasher, and a long message's digest is taken (with a hasher of
  // its own) while a key is being hashed: neither may leave anything in the other.
  test("keys hashed one after another, with long messages digested on the way, are each the recipe's", () => {
    const parts = (i: number) => ({
      provider: "synthetic",
      baseURL: "synthetic:",
      model: "bench",
      // A long text never seen before: its digest is computed in the middle of hashing the key.
      messages: [{ role: "system", content: `System ${i}. `.repeat(200) }, { role: "user", content: `short ${i}` }, { role: "user", content: `Another long ${i}. `.repeat(100) }],
      schema: `d${i}`,
      stage: "mapping",
    });
    const keys = [0, 1, 2, 0].map((i) => cacheHash(parts(i)));
    expect(keys).toEqual([0, 1, 2, 0].map((i) => recipe(parts(i))));
    expect(new Set(keys).size).toBe(3);
  });
});

describe("keyPart", () => {
  test("every id becomes a part every driver accepts, and distinct ids stay distinct", () => {
    const ids = [...awkwardIds, "", ".", ".x", "x.", "a.b", "~41", "A", "a", "_", "a~b", "a~7Eb", `long-${"z".repeat(299)}`, "日本"];
    const parts = ids.map(keyPart);
    expect(new Set(parts).size).toBe(ids.length);
    for (const part of parts) {
      expect(part).toMatch(/^[A-Za-z0-9_.~-]+$/);
      expect(part).not.toContain("..");
      expect(part).not.toMatch(/^\.|\.$/);
      expect(part.length).toBeLessThanOrEqual(120);
    }
    // Ordinary ids keep their keys (and their cache entries).
    for (const id of ["SVC001", "svc-1_b", "v1.2.3"]) expect(keyPart(id)).toBe(id);
  });
});

async function twoRuns(dir: string, baseURL: string, server: { requests: unknown[] }) {
  const input = writeJsonl(join(dir, "in.jsonl"), services(awkwardIds));
  const first = await runScript("run", ["--input", input, "--output", "out.jsonl", "--json"], { cwd: dir, baseURL });
  expect(first.code).toBe(0);
  expect(server.requests).toHaveLength(21 * awkwardIds.length);
  expect(first.stderr).not.toContain("keeps failing");
  const second = await runScript("run", ["--input", input, "--output", "again.jsonl", "--json"], { cwd: dir, baseURL });
  expect(second.code).toBe(0);
  expect(server.requests).toHaveLength(21 * awkwardIds.length); // 0 calls the second time
  const summary = JSON.parse(second.stdout.trim().split("\n").at(-1)!);
  expect(summary.totals).toMatchObject({ liveCalls: 0, cachedCalls: 21 * awkwardIds.length });
  const ids = (file: string) => readFileSync(join(dir, file), "utf8").trim().split("\n").map((l) => JSON.parse(l).service.service_id);
  expect(ids("again.jsonl")).toEqual(awkwardIds);
}

describe("awkward service ids: the second run makes 0 calls", () => {
  let redis: RedisServer;
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(() => redis.stop());

  test("fs store", async () => {
    const server = startTestServer();
    const { dir, cleanup } = tempDir();
    try {
      writeFileSync(join(dir, "service-ambitions.config.json"), JSON.stringify({ dataDir: fixtureData }));
      await twoRuns(dir, server.url, server);
    } finally {
      cleanup();
      await server.stop();
    }
  }, 60_000);

  test("redis store", async () => {
    const server = startTestServer();
    const { dir, cleanup } = tempDir();
    try {
      writeFileSync(join(dir, "service-ambitions.config.json"), JSON.stringify({ dataDir: fixtureData, cache: { driver: "redis", url: redis.url, base: "keys" } }));
      await twoRuns(dir, server.url, server);
    } finally {
      cleanup();
      await server.stop();
    }
  }, 60_000);
});

describe("circuit breaker", () => {
  test("keys the store refuses, many in a row, never turn the cache off; a failing store does", async () => {
    const { dir, cleanup } = tempDir();
    const { log, warnings } = warningLog();
    try {
      const storage = await createCacheStorage({ driver: "fs", base: join(dir, "cache") });
      const cache = createCallCache(storage, { mode: "read", log });
      const entry = { answer: { ok: 1 }, usage: { inputTokens: 1, cachedInputTokens: 0, outputTokens: 1, reasoningTokens: 0 }, model: "m", provider: "p", createdAt: new Date().toISOString(), request: { stage: "features", serviceId: "S" } };
      // fs-lite refuses to read a key with a `..` segment: twenty failed reads in a row.
      for (let i = 0; i < 20; i++) expect(await cache.lookup(`default:features:bad${i}..:h`)).toBeUndefined();
      await cache.store("default:features:good:h", entry);
      expect((await cache.lookup("default:features:good:h"))?.answer).toEqual({ ok: 1 });
      expect(warnings.filter((w) => w.includes("keeps failing"))).toHaveLength(0);

      // A store that is gone is another matter: five failures and the run goes on without it.
      const redis = await startRedis();
      const remote = await createCacheStorage({ driver: "redis", url: redis.url, maxRetriesPerRequest: 0, enableOfflineQueue: false });
      const down = createCallCache(remote, { mode: "read", log });
      await redis.stop();
      for (let i = 0; i < 6; i++) await down.lookup(`default:features:k${i}:h`);
      expect(warnings.filter((w) => w.includes("keeps failing"))).toHaveLength(1);
      await remote.dispose().catch(() => {});
    } finally {
      cleanup();
    }
  }, 60_000);
});
