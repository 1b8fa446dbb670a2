import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import Redis from "ioredis";
import { startRedis, type RedisServer } from "../redis-server.ts";
import { tempDir } from "../helpers.ts";
import { testCacheDriver } from "./contract.ts";

// memory: a raw string written through the store is kept as it is.
testCacheDriver("memory", {
  setup: async () => ({ driver: "memory" }),
  corrupt: async (storage, _config, key, raw) => storage.setItem(key, raw),
});

const fsDir = tempDir("sa-cache-fs-");
testCacheDriver("fs", {
  setup: async () => ({ driver: "fs", base: fsDir.dir }),
  teardown: async () => fsDir.cleanup(),
  corrupt: async (_storage, config, key, raw) => {
    const path = join(String(config.base), key.replace(/:/g, "/"));
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, raw);
  },
});

let redis: RedisServer;
testCacheDriver("redis", {
  setup: async () => {
    redis = await startRedis();
    return { driver: "redis", url: redis.url, base: "sa-test" };
  },
  teardown: async () => redis.stop(),
  corrupt: async (_storage, config, key, raw) => {
    const client = new Redis(String(config.url));
    await client.set(`${config.base}:${key}`, raw);
    client.disconnect();
  },
});
