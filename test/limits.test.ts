import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import Redis from "ioredis";
import { systemClock } from "../lib/clock.ts";
import { parseResetMs } from "../lib/http.ts";
import { createLimiter } from "../lib/limits.ts";
import { startRedis, type RedisServer } from "./redis-server.ts";

const run = (limiter: ReturnType<typeof createLimiter>, n: number) => Promise.all(Array.from({ length: n }, () => limiter.schedule(async () => Date.now(), { priority: 0, tokens: 1 })));

describe("limits", () => {
  test("parses OpenAI reset durations", () => {
    expect(parseResetMs("1s")).toBe(1000);
    expect(parseResetMs("6m0s")).toBe(360_000);
    expect(parseResetMs("20ms")).toBe(20);
    expect(parseResetMs("soon")).toBeUndefined();
  });

  test("a 429 with retry-after-ms pauses dispatch", async () => {
    const limiter = createLimiter({ concurrency: 4, clock: systemClock });
    const start = Date.now();
    limiter.observe(new Headers({ "retry-after-ms": "300" }), 429);
    const [at] = await run(limiter, 1);
    expect(at! - start).toBeGreaterThanOrEqual(290);
  });

  test("after a 429, new calls to that endpoint wait until the calls waiting to retry have gone; a 5xx's retry or another endpoint's holds nothing", async () => {
    const limiter = createLimiter({ concurrency: 4, clock: systemClock });
    const events: string[] = [];
    const call = (name: string, endpoint: string) => limiter.schedule(async () => void events.push(name), { priority: 0, tokens: 1, endpoint });
    const first = limiter.waitingToRetry(429, "a");
    const second = limiter.waitingToRetry(429, "a");
    const fiveHundred = limiter.waitingToRetry(500, "a");
    const waiting = call("new a", "a");
    await call("new b", "b");
    await Bun.sleep(50);
    expect(events).toEqual(["new b"]);
    first();
    first(); // a second call of the same release counts once
    await Bun.sleep(50);
    expect(events).toEqual(["new b"]);
    second();
    await waiting;
    expect(events).toEqual(["new b", "new a"]);
    fiveHundred();
    // Nothing waits any more: a new call goes at once.
    await call("later a", "a");
    expect(events.at(-1)).toBe("later a");
  });

  test("a stop ends a new call's wait for the retries ahead of it", async () => {
    const limiter = createLimiter({ concurrency: 4, clock: systemClock });
    limiter.waitingToRetry(429, "");
    const call = limiter.schedule(async () => "ran", { priority: 0, tokens: 1 });
    const outcome = (async () => {
      try {
        return await call;
      } catch (error) {
        return (error as Error).message;
      }
    })();
    await Bun.sleep(20);
    limiter.stop(new Error("stopped"));
    expect(await outcome).toBe("stopped");
  });

  test("a request the retry layer sends again after a 5xx takes the next call's place under the RPM limit", async () => {
    // 600 RPM: about 100 ms a request. The first call goes at once; five 500s are five requests sent again.
    const limiter = createLimiter({ concurrency: 4, rpm: 600, clock: systemClock });
    const [first] = await run(limiter, 1);
    for (let i = 0; i < 5; i++) limiter.observe(new Headers(), 500);
    const [next] = await run(limiter, 1);
    // Six requests' worth of the pace (about 600 ms), not one (about 100 ms).
    expect(next! - first!).toBeGreaterThanOrEqual(550);
  });

  test("rpm spreads requests evenly instead of bursting", async () => {
    const limiter = createLimiter({ concurrency: 50, rpm: 1200, clock: systemClock });
    const times = (await run(limiter, 30)).sort((a, b) => a - b);
    const elapsed = times.at(-1)! - times[0]!;
    // 30 requests at 20/s: about 1.5 s, never all at once.
    expect(elapsed).toBeGreaterThan(1200);
    const firstQuarter = times.filter((t) => t - times[0]! < 250).length;
    expect(firstQuarter).toBeLessThanOrEqual(6);
  });

  test("a call's token estimate is asked for when it is dispatched, after the calls before it", async () => {
    const limiter = createLimiter({ concurrency: 1, tpm: 6_000_000, clock: systemClock });
    const events: string[] = [];
    const call = (name: string) =>
      limiter.schedule(
        async () => {
          events.push(`run ${name}`);
          await Bun.sleep(20);
          events.push(`done ${name}`);
        },
        { priority: 0, tokens: () => (events.push(`estimate ${name}`), 10) },
      );
    await Promise.all([call("a"), call("b")]);
    expect(events).toEqual(["estimate a", "run a", "done a", "estimate b", "run b", "done b"]);
  });

  describe("shared through Redis", () => {
    let redis: RedisServer;
    beforeAll(async () => {
      redis = await startRedis();
    });
    afterAll(() => redis.stop());

    test("a request sent again after a 5xx is charged to the shared RPM bucket too", async () => {
      // 600 RPM shared: windows of a second holding 9 requests. 20 requests sent again fill it.
      const limiter = createLimiter({ concurrency: 4, rpm: 600, clock: systemClock, shared: { client: new Redis(redis.url), key: "resend" } });
      const [first] = await run(limiter, 1);
      for (let i = 0; i < 20; i++) limiter.observe(new Headers(), 503);
      await Bun.sleep(50); // the charges reach Redis
      const [next] = await run(limiter, 1);
      await limiter.close();
      // The next call waits for the next window (about 1 s after the first), not an even step of it (about 0.12 s).
      expect(next! - first!).toBeGreaterThanOrEqual(600);
    });

    test("two processes' limiters share one RPM limit", async () => {
      const make = () => createLimiter({ concurrency: 50, rpm: 600, clock: systemClock, shared: { client: new Redis(redis.url), key: "test" } });
      const [a, b] = [make(), make()];
      const start = Date.now();
      await Promise.all([run(a, 15), run(b, 15)]);
      const elapsed = Date.now() - start;
      await Promise.all([a.close(), b.close()]);
      // 30 requests at 10/s in all: about 3 s. Two separate limits would take about 1.5 s.
      expect(elapsed).toBeGreaterThanOrEqual(2500);
    });
  });
});
