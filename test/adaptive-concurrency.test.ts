import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { adaptiveConcurrency } from "../lib/adaptive-concurrency.ts";
import { startTestServer } from "../lib/test-server.ts";
import { fixtureData, makeServices, runScript, tempDir, writeJsonl } from "./helpers.ts";

describe("calls in flight adapt to 429s when no --rpm or --tpm paces them", () => {
  test("a burst of 429s halves them once, later bursts again down to one; answers raise them by one per two rounds, once the retries have had 5 s, back to the maximum", () => {
    let now = 0;
    const queue = { concurrency: 8 };
    const changes: Array<[number, boolean]> = [];
    const observe = adaptiveConcurrency(queue, { max: 8, clock: { now: () => now, sleep: async () => {} }, changed: (c, lowered) => changes.push([c, lowered]) });
    for (let i = 0; i < 5; i++) observe(429);
    expect(queue.concurrency).toBe(4);
    for (const _ of [1, 2, 3]) {
      now += 1000;
      observe(429);
    }
    expect(queue.concurrency).toBe(1);
    // A 5xx or a 400 says nothing of the pace; answers within 5 s of the last drop raise nothing.
    observe(500);
    observe(400);
    for (let i = 0; i < 50; i++) observe(200);
    expect(queue.concurrency).toBe(1);
    now += 5000;
    // Two answers at 1 → 2; four at 2 → 3; ... up to the maximum, never past it.
    for (let i = 0; i < 2 * (1 + 2 + 3 + 4 + 5 + 6 + 7) - 1; i++) observe(200);
    expect(queue.concurrency).toBe(7);
    for (let i = 0; i < 40; i++) observe(200);
    expect(queue.concurrency).toBe(8);
    expect(changes.filter(([, lowered]) => lowered).map(([c]) => c)).toEqual([4, 2, 1]);
    expect(changes.filter(([, lowered]) => !lowered).map(([c]) => c)).toEqual([2, 3, 4, 5, 6, 7, 8]);
    // A 429 resets the count of answers in a row.
    now += 1000;
    observe(429);
    now += 5000;
    for (let i = 0; i < 7; i++) observe(200);
    observe(429);
    now += 5000;
    for (let i = 0; i < 7; i++) observe(200);
    // 2 → 3 after four answers, then three of the six 3 needs: the seven counted before the 429 would have made it 4.
    expect(queue.concurrency).toBe(3);
  });

  test("a provider that counts requests over a short window: every service is written, with one line saying what to set", async () => {
    // 10 requests a second at most, counted over 1 s windows; 3 services are 63 calls, and 16 at once meet the window head-on.
    const server = startTestServer({ latencyMs: 50, rpm: 600, windowMs: 1000 });
    const { dir, cleanup } = tempDir("sa-adaptive-");
    try {
      const input = writeJsonl(join(dir, "in.jsonl"), makeServices(3));
      const result = await runScript("run", ["--input", input, "--output", "out.jsonl", "--data", fixtureData, "--cache-mode", "off", "--concurrency", "16", "--json"], {
        cwd: dir,
        baseURL: server.url,
        env: { SA_RETRY: '{"attempts":6,"baseMs":100,"capMs":1000}' },
      });
      const summary = JSON.parse(result.stdout.trim().split("\n").at(-1)!);
      expect(summary.services).toMatchObject({ ok: 3, failed: 0 });
      expect(result.code).toBe(0);
      expect(server.requests.length).toBeGreaterThan(server.answered);
      const notices = result.stderr.split("\n").filter((l) => l.includes("HTTP 429 with no --rpm or --tpm set"));
      expect(notices).toHaveLength(1);
      expect(notices[0]).toContain("set --rpm/--tpm to the provider's limits");
    } finally {
      cleanup();
      await server.stop();
    }
  }, 120_000);
});
