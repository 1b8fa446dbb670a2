import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import Redis from "ioredis";
import { createJournalPusher } from "../lib/queue/journal-push.ts";
import { startRedis, type RedisServer } from "./redis-server.ts";

let redis: RedisServer;
let client: Redis;
beforeAll(async () => {
  redis = await startRedis();
  client = new Redis(`${redis.url}/3`);
});
afterAll(async () => {
  client.disconnect();
  await redis.stop();
});

describe("a worker's journal pushes", () => {
  test("entries no coordinator has read are pushed again once the list is lost; those read are not", async () => {
    const key = "sa:queue:push:journal";
    await client.flushdb();
    const pusher = createJournalPusher(client, key);
    await Promise.all(["a", "b", "c"].map((t) => pusher.push(t)));
    expect(await client.lrange(key, 0, -1)).toEqual(["a", "b", "c"]);
    await client.set(`${key}:read`, 2); // a coordinator read a and b
    await pusher.push("d");
    await client.flushdb(); // what a Redis restarted without persistence holds
    await pusher.check();
    expect(await client.lrange(key, 0, -1)).toEqual(["c", "d"]);
    // Lost again: the next push finds it, and what was kept goes right after the new entry.
    await client.flushdb();
    await pusher.push("e");
    expect(await client.lrange(key, 0, -1)).toEqual(["e", "c", "d"]);
  });
});
