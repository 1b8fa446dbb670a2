import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { startTestServer, type ChatBody } from "../lib/test-server.ts";
import { fixtureData, makeServices, runScript, tempDir, writeJsonl } from "./helpers.ts";

const promptOf = (body: ChatBody) => body.messages.map((m) => m.content).join("\n");

describe("a call waiting to retry a 429 goes before new calls (lib/retry-first.ts through the run)", () => {
  test("the other service's features calls wait until the retry is sent, though the 429 asked for no pause", async () => {
    // The first request is answered 429 asking for 1 ms: the endpoint's pause ends at once, and its
    // retry waits out a backoff of up to 1.5 s. Without retry-first, the other service's five
    // features calls would go in that time; with it, they wait for the retry.
    const server = startTestServer({ latencyMs: 50, fault: (n) => (n === 1 ? { type: "429", retryAfterMs: 1 } : undefined) });
    const { dir, cleanup } = tempDir("sa-retry-first-");
    try {
      const input = writeJsonl(join(dir, "in.jsonl"), makeServices(2));
      const result = await runScript("run", ["--input", input, "--output", "out.jsonl", "--data", fixtureData, "--cache-mode", "off", "--concurrency", "8", "--json"], {
        cwd: dir,
        baseURL: server.url,
        env: { SA_RETRY: '{"attempts":3,"baseMs":1500,"capMs":1500}' },
      });
      expect(result.code).toBe(0);
      const refused = promptOf(server.requests[0]!.body);
      const retryAt = server.requests.findIndex((r, i) => i > 0 && promptOf(r.body) === refused);
      expect(retryAt).toBeGreaterThan(0);
      // Before the retry: at most the other service's descriptions call, sent with the first.
      expect(retryAt).toBeLessThanOrEqual(2);
      expect(server.requests.length).toBe(2 * 21 + 1);
    } finally {
      cleanup();
      await server.stop();
    }
  }, 60_000);
});
