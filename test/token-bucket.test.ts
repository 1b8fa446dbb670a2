import { describe, expect, test } from "bun:test";
import type { Clock } from "../lib/clock.ts";
import { createTokenBucket } from "../lib/token-bucket.ts";

/** A clock that only moves when told, with sleepers woken in time order. */
function fakeClock() {
  let now = 0;
  const sleepers: Array<{ at: number; wake: () => void }> = [];
  const clock: Clock = {
    now: () => now,
    sleep: (ms) => new Promise<void>((wake) => sleepers.push({ at: now + ms, wake })),
  };
  const advance = async (ms: number) => {
    const until = now + ms;
    for (;;) {
      sleepers.sort((a, b) => a.at - b.at);
      const next = sleepers[0];
      if (!next || next.at > until) break;
      sleepers.shift();
      now = next.at;
      next.wake();
      await Promise.resolve();
      await Promise.resolve();
    }
    now = until;
  };
  return { clock, advance };
}

describe("token bucket", () => {
  test("paces takes evenly and in order: each waits for the one before to be paid", async () => {
    const { clock, advance } = fakeClock();
    const bucket = createTokenBucket({ perMinute: 60_000, clock }); // 1 token per ms
    const started: Array<[string, number]> = [];
    for (const [name, amount] of [["a", 100], ["b", 50], ["c", 10]] as const) void bucket.take(amount).then(() => started.push([name, clock.now()]));
    await advance(0);
    await advance(500);
    expect(started).toEqual([["a", 0], ["b", 100], ["c", 150]]);
  });

  test("nothing is left over between calls of different sizes (the whole quota is usable)", async () => {
    const { clock, advance } = fakeClock();
    const bucket = createTokenBucket({ perMinute: 60_000, clock });
    let taken = 0;
    for (let i = 0; i < 100; i++) void bucket.take(i % 2 ? 70 : 30).then(() => (taken += i % 2 ? 70 : 30));
    await advance(4_920);
    // 5,000 tokens at 1,000 a second: the last call (70) goes when the 4,930 before it are paid.
    expect(taken).toBe(4_930);
    await advance(10);
    expect(taken).toBe(5_000);
  });

  test("unused tokens come back to waiters; overuse makes them wait longer", async () => {
    const { clock, advance } = fakeClock();
    const bucket = createTokenBucket({ perMinute: 60_000, clock });
    const at: number[] = [];
    await bucket.take(100);
    void bucket.take(100).then(() => at.push(clock.now()));
    await advance(10);
    bucket.adjust(-60); // the first call used 40
    await advance(100);
    expect(at).toEqual([40]);
    bucket.adjust(200); // the second used 300
    void bucket.take(1).then(() => at.push(clock.now()));
    await advance(1000);
    expect(at[1]).toBe(340);
  });

  test("a request sent again (after a 429) is paid for again; a slower pace spaces takes further apart", async () => {
    const { clock, advance } = fakeClock();
    const bucket = createTokenBucket({ perMinute: 60_000, clock });
    const at: number[] = [];
    await bucket.take(100);
    bucket.resend!(); // the 100 went out again
    void bucket.take(100).then(() => at.push(clock.now()));
    await advance(300);
    expect(at).toEqual([200]);
    bucket.pace!(0.5); // half a token per ms from now on: 100 taken at 300 are paid at 500
    void bucket.take(100).then(() => at.push(clock.now()));
    await advance(0);
    void bucket.take(1).then(() => at.push(clock.now()));
    await advance(1000);
    expect(at).toEqual([200, 300, 500]);
  });
});
