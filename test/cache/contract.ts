import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Storage } from "unstorage";
import { cacheKey, createCallCache, type CacheConfig, type CacheEntry } from "../../lib/cache.ts";
import { createCacheStorage } from "../../lib/cache.ts";
import { createLog } from "../../lib/log.ts";

export const sampleEntry = (answer: unknown = { ok: true }): Omit<CacheEntry, "v" | "expiresAt"> => ({
  answer: answer as {} | null,
  usage: { inputTokens: 10, cachedInputTokens: 2, outputTokens: 5, reasoningTokens: 0 },
  model: "gpt-test",
  provider: "openai",
  createdAt: new Date().toISOString(),
  request: { stage: "features", serviceId: "S1" },
});

/** Collects warnings so tests can check a corrupt entry was reported. */
export function warningLog() {
  const warnings: string[] = [];
  const log = createLog({});
  log.setReporters([{ log: (o) => o.type === "warn" && warnings.push(o.args.map(String).join(" ")) }]);
  return { log, warnings };
}

/**
 * The contract every cache driver meets. `setup` returns the store config; `corrupt` writes raw
 * bytes under a key the way that driver stores them.
 */
export function testCacheDriver(name: string, options: { setup: () => Promise<CacheConfig>; teardown?: () => Promise<void>; corrupt: (storage: Storage, config: CacheConfig, key: string, raw: string) => Promise<void> }) {
  describe(`cache driver: ${name}`, () => {
    let config: CacheConfig;
    let storage: Storage;
    beforeAll(async () => {
      config = await options.setup();
      storage = await createCacheStorage(config);
      await storage.clear();
    });
    afterAll(async () => {
      await storage.clear();
      await storage.dispose();
      await options.teardown?.();
    });

    const key = (n: string) => cacheKey("ctx", "features", `S-${n}`, "a".repeat(64));

    test("stores and reads an entry", async () => {
      const { log } = warningLog();
      const cache = createCallCache(storage, { mode: "read", log });
      expect(await cache.lookup(key("1"))).toBeUndefined();
      await cache.store(key("1"), sampleEntry({ n: 1 }));
      expect((await cache.lookup(key("1")))?.answer).toEqual({ n: 1 });
    });

    test("lists keys by namespace", async () => {
      const cache = createCallCache(storage, { mode: "read", log: warningLog().log });
      await cache.store(key("2"), sampleEntry());
      const keys = await storage.getKeys("ctx:features");
      expect(keys).toContain(key("2"));
    });

    test("a truncated entry is a miss with a warning", async () => {
      const { log, warnings } = warningLog();
      const cache = createCallCache(storage, { mode: "read", log });
      await cache.store(key("3"), sampleEntry());
      await options.corrupt(storage, config, key("3"), '{"v":1,"answer":{"x":');
      expect(await cache.lookup(key("3"))).toBeUndefined();
      expect(warnings.join("\n")).toContain("corrupt");
    });

    test("an entry of the wrong shape is a miss with a warning", async () => {
      const { log, warnings } = warningLog();
      const cache = createCallCache(storage, { mode: "read", log });
      await storage.setItem(key("4"), { hello: "world" });
      expect(await cache.lookup(key("4"))).toBeUndefined();
      expect(warnings).toHaveLength(1);
    });

    test("modes: off never touches the store, refresh never reads, write keeps what exists", async () => {
      const { log } = warningLog();
      const off = createCallCache(storage, { mode: "off", log });
      await off.store(key("5"), sampleEntry({ v: "off" }));
      expect(await storage.hasItem(key("5"))).toBe(false);

      const read = createCallCache(storage, { mode: "read", log });
      await read.store(key("5"), sampleEntry({ v: 1 }));
      const refresh = createCallCache(storage, { mode: "refresh", log });
      expect(await refresh.lookup(key("5"))).toBeUndefined();
      await refresh.store(key("5"), sampleEntry({ v: 2 }));
      expect((await read.lookup(key("5")))?.answer).toEqual({ v: 2 });

      const write = createCallCache(storage, { mode: "write", log });
      expect(await write.lookup(key("5"))).toBeUndefined();
      await write.store(key("5"), sampleEntry({ v: 3 }));
      expect((await read.lookup(key("5")))?.answer).toEqual({ v: 2 });
      await write.store(key("6"), sampleEntry({ v: 4 }));
      expect((await read.lookup(key("6")))?.answer).toEqual({ v: 4 });
    });

    test("an expired entry is a miss", async () => {
      let now = Date.now();
      const cache = createCallCache(storage, { mode: "read", log: warningLog().log, ttl: 60, now: () => new Date(now) });
      await cache.store(key("7"), sampleEntry());
      expect(await cache.lookup(key("7"))).toBeDefined();
      now += 61_000;
      expect(await cache.lookup(key("7"))).toBeUndefined();
    });

    test("write mode replaces an expired or corrupt entry: an answer paid for is never thrown away", async () => {
      let now = Date.now();
      const clock = () => new Date(now);
      const read = createCallCache(storage, { mode: "read", log: warningLog().log, ttl: 60, now: clock });
      await read.store(key("9"), sampleEntry({ v: "old" }));
      now += 61_000;
      const write = createCallCache(storage, { mode: "write", log: warningLog().log, ttl: 60, now: clock });
      await write.store(key("9"), sampleEntry({ v: "new" }));
      expect((await read.lookup(key("9")))?.answer).toEqual({ v: "new" });

      await write.store(key("10"), sampleEntry());
      await options.corrupt(storage, config, key("10"), '{"v":1,"answer":{"x":');
      await write.store(key("10"), sampleEntry({ v: "whole" }));
      expect((await read.lookup(key("10")))?.answer).toEqual({ v: "whole" });
    });

    test("concurrent writers of the same key leave a whole entry", async () => {
      const writers = Array.from({ length: 8 }, () => createCallCache(storage, { mode: "refresh", log: warningLog().log }));
      const big = (i: number) => sampleEntry({ writer: i, payload: "x".repeat(200_000) });
      await Promise.all(writers.flatMap((w, i) => [w.store(key("8"), big(i)), w.store(key("8"), big(i))]));
      const entry = await createCallCache(storage, { mode: "read", log: warningLog().log }).lookup(key("8"));
      expect(entry).toBeDefined();
      expect((entry!.answer as { payload: string }).payload.length).toBe(200_000);
    });
  });
}
